//! meshroom-runtime, the adapter runtime: runs product adapters (WebAssembly components of
//! the `meshroom:adapter@0.1.0` world) in a default-deny sandbox.
//!
//! - [`Runtime::load`] compiles a component once per sha256 digest and keeps
//!   the compiled code in an on-disk cache (`$MESHROOM_CACHE` or
//!   `~/.cache/meshroom`, subfolder `compiled/`), checks its imports against
//!   an allow-list, pre-instantiates it, and caches its `describe()` answer
//!   (so listing hooks never recompiles: [`Runtime::describe_cached`]).
//! - Every hook call ([`Adapter::setup`], [`Adapter::teardown`], …) runs in a
//!   fresh store with: no filesystem, environment or arguments; outgoing
//!   HTTP and sockets only to the [`CallPolicy`]'s hosts (refused otherwise,
//!   naming the host; names must not resolve to forbidden addresses); a CPU
//!   budget (epoch interruption), a wall-clock timeout and a memory cap. A
//!   trap, panic, timeout or out-of-memory fails that call with a clear
//!   [`HookError`] and never the host.
//! - `host.secret(name)` is answered by the caller's [`SecretResolver`];
//!   values handed out are masked (`***`) in the adapter's logs, errors and
//!   check/produce details, and an outcome whose non-secret outputs hold one
//!   (or hold a secret output of the same outcome) fails, naming the output
//!   and the secret, never the value.
//! - What the adapter returns is bounded by [`Limits`] (module `limits`:
//!   every bound and its default in one table): sizes are checked before
//!   copying (wasmtime's hostcall fuel) and before parsing (size and nesting
//!   pre-scan), texts are cut and marked, counts are checked against what
//!   happened (a produce report never claims more than the batch).
//!
//! The runtime knows nothing of YAML, projects or the secrets store: it
//! takes plain Rust values (this crate depends on none of them).
//!
//! Modules, one job each: `config` (the wasmtime engine, its pooling
//! allocator and epoch ticker), `cache` (compiled code and `describe()`
//! answers on disk), `imports` (the import allow-list), `runtime` (loading
//! components), `adapter` (the hook wrappers), `call` (one fresh instance
//! per call, and mapping traps to [`HookError`]s), `state` (the per-call
//! sandbox), `stdio` (the guest's stdout and stderr, to the host log), `policy` (egress), `tape` (where recording and replay plug into egress), `limits` (every bound), `sanitize` (the
//! control-character escape rule), `bindings` (the generated WIT bindings).
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! use meshroom_runtime::*;
//! use serde_json::json;
//!
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let adapter = runtime.load_file("products/acme/adapter.wasm".as_ref()).await?;
//! let hook = adapter.info().hooks_of(HookKind::Setup).next().expect("a setup hook");
//! let instance = InstanceRef {
//!     name: "acme1".into(),
//!     product: "acme".into(),
//!     settings: json!({ "url": "http://127.0.0.1:8080" }),
//! };
//! let ctx = HookContext { instance: Some(instance), ..HookContext::default() };
//! // Allow the instance's API; answer its secrets (scoped by the caller).
//! let policy = CallPolicy::deny_all()
//!     .allow_http("http://127.0.0.1:8080")
//!     .with_secrets(|name: &str| (name == "api_key").then(|| "…".to_string()));
//! match adapter.setup(&hook.id, &ctx, &policy).await {
//!     Ok(outcome) => println!("record {:?}", outcome.outputs),
//!     Err(e) => eprintln!("{e}"), // e.kind: unauthorized, cpu-limit, crashed…
//! }
//! # Ok(()) }
//! ```

mod adapter;
mod bindings;
mod cache;
mod call;
mod config;
mod error;
mod imports;
mod limits;
mod policy;
mod runtime;
mod sanitize;
mod state;
mod stdio;
pub mod tape;
mod types;

pub use adapter::{Adapter, Watcher};
pub use cache::{default_cache_dir, digest_of};
pub use config::{MemoryReset, RuntimeConfig};
pub use error::{HookError, HookErrorKind, LoadError};
pub use limits::{LIMIT_NAMES, Limits, cut, human, nesting_depth, parse_json};
pub use policy::{CallPolicy, SecretResolver, authority_of};
pub use runtime::Runtime;
pub use sanitize::{escape_controls, is_unsafe_control};
pub use tape::{Exchange, Tape, TapeCall, TapeDeck, TapeRequest, TapeResponse};
pub use types::*;
