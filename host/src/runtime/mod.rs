//! The adapter runtime: runs product adapters (WebAssembly components of
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
//!   values handed out are redacted from the adapter's logs and errors.
//!
//! The runtime knows nothing of YAML, projects or the secrets store: it
//! takes plain Rust values.
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! use meshroom::runtime::*;
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

mod bindings;
mod cache;
mod error;
mod policy;
mod state;
mod stdio;
mod types;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Engine, Store, UpdateDeadline};

use bindings::{AdapterCore, AdapterCorePre, wit};
pub use cache::{default_cache_dir, digest_of};
pub use error::{HookError, HookErrorKind, LoadError};
pub use policy::{CallPolicy, SecretResolver, authority_of};
use state::{CallState, HostData, Verdict};
pub use types::*;

/// Bytes of each pooled linear memory reset by `memset` and kept resident
/// between calls (a Rust adapter touches about its 1 MiB stack plus heap).
const KEEP_RESIDENT: usize = 2 << 20;

/// Interfaces an adapter may import (without version). Everything else is
/// refused before instantiation.
const ALLOWED_IMPORTS: &[&str] = &[
    "meshroom:adapter/host",
    "meshroom:adapter/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/ip-name-lookup",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    // Imported by the Rust standard library and by CPython (Python adapters
    // built with componentize-py); inert here: no environment, no
    // arguments, empty stdin, stdout and stderr to the host log (bounded,
    // redacted; the stderr tail explains a crash), and no preopened folder,
    // so no file can be opened (CPython's `open` fails with ENOENT).
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

/// Settings of a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Cache folder (compiled code under `compiled/`, describe answers under
    /// `describe/`); `None`: [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Linear memory cap of one hook call.
    pub memory_cap: usize,
    /// Guest CPU budget of one hook call (measured in epoch ticks).
    pub cpu_limit: Duration,
    /// Wall-clock timeout of one hook call (includes waiting on the network).
    pub timeout: Duration,
    /// Cap on HTTP connect / first-byte / between-bytes timeouts.
    pub io_timeout: Duration,
    /// Epoch tick (granularity of the CPU budget).
    pub tick: Duration,
    /// Most hook calls (instances) alive at once, with the pooling allocator.
    pub max_instances: u32,
    /// Use the pooling instance allocator (faster instantiation).
    pub pooling: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            memory_cap: 128 << 20,
            cpu_limit: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            io_timeout: Duration::from_secs(30),
            tick: Duration::from_millis(10),
            max_instances: 256,
            pooling: true,
        }
    }
}

struct Inner {
    engine: Engine,
    linker: Linker<CallState>,
    cache: Option<cache::Cache>,
    config: RuntimeConfig,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// The wasmtime engine, linker and caches shared by every adapter. Cheap to
/// clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
    /// Adapters loaded by digest. Kept out of `Inner` (which adapters hold)
    /// so there is no reference cycle: dropping the last runtime and
    /// adapter frees the engine and stops the ticker.
    loaded: Arc<Mutex<HashMap<String, Adapter>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Starts a runtime (and its epoch ticker thread).
    pub fn new(config: RuntimeConfig) -> Result<Self, LoadError> {
        let engine_err = |e: wasmtime::Error| LoadError::Engine(format!("{e:#}"));
        let mut c = wasmtime::Config::new();
        c.wasm_component_model(true);
        c.epoch_interruption(true);
        // Instantiate linear memories from a copy-on-write image of their
        // initial data (mmap of the compiled artifact) rather than copying
        // it: a Python adapter's pre-initialised CPython heap is several MB,
        // paid per fresh instance otherwise. (wasmtime's default; set so it
        // stays on.)
        c.memory_init_cow(true);
        if config.pooling {
            let n = config.max_instances.max(1);
            let mut pool = wasmtime::PoolingAllocationConfig::default();
            pool.total_component_instances(n);
            pool.total_core_instances(n.saturating_mul(8));
            pool.total_memories(n.saturating_mul(2));
            pool.total_tables(n.saturating_mul(8));
            pool.max_memory_size(config.memory_cap);
            // Reset slots with memset rather than `madvise`, and return what
            // is decommitted in batches: every page-table change of a
            // multi-threaded process costs a TLB shootdown on every core,
            // which dominated `up` of many plugs (each hook call is a fresh
            // instance).
            pool.linear_memory_keep_resident(KEEP_RESIDENT);
            pool.table_keep_resident(64 << 10);
            pool.decommit_batch_size(32);
            c.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&c).map_err(engine_err)?;
        let mut linker: Linker<CallState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_err)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(engine_err)?;
        AdapterCore::add_to_linker::<CallState, HostData>(&mut linker, |s| s)
            .map_err(engine_err)?;

        let cache = config
            .cache_dir
            .clone()
            .or_else(default_cache_dir)
            .map(|dir| {
                let compat = {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    engine.precompile_compatibility_hash().hash(&mut h);
                    format!("{:016x}", h.finish())
                };
                cache::Cache::new(&dir, compat)
            });

        let stop_ticker = Arc::new(AtomicBool::new(false));
        {
            let (engine, stop, tick) = (engine.clone(), stop_ticker.clone(), config.tick);
            std::thread::Builder::new()
                .name("meshroom-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| LoadError::Engine(format!("cannot start the epoch ticker: {e}")))?;
        }
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                config,
                stop_ticker,
            }),
            loaded: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// The settings this runtime runs with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// The cached `describe()` answer of a component digest, without
    /// loading or compiling anything (for listings).
    pub fn describe_cached(&self, digest: &str) -> Option<AdapterInfo> {
        if let Some(info) = self
            .loaded
            .lock()
            .ok()
            .and_then(|l| l.get(digest).map(|a| a.info().clone()))
        {
            return Some(info);
        }
        self.inner.cache.as_ref()?.describe(digest)
    }

    /// Loads an adapter component from a file (see [`Runtime::load`]).
    pub async fn load_file(&self, path: &Path) -> Result<Adapter, LoadError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| LoadError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        self.load(&bytes, &name).await
    }

    /// Loads an adapter component: from memory if this runtime loaded the
    /// same digest before, else from the compiled cache, else compiles it
    /// (and caches the result). `name` names it in errors.
    pub async fn load(&self, bytes: &[u8], name: &str) -> Result<Adapter, LoadError> {
        let digest = digest_of(bytes);
        if let Some(a) = self
            .loaded
            .lock()
            .ok()
            .and_then(|l| l.get(&digest).cloned())
        {
            return Ok(a);
        }
        let component = self.component(bytes, &digest, name).await?;
        check_imports(&self.inner.engine, &component, name)?;
        let pre =
            self.inner
                .linker
                .instantiate_pre(&component)
                .map_err(|e| LoadError::NotAnAdapter {
                    name: name.to_string(),
                    message: format!("{e:#}"),
                })?;
        let pre = AdapterCorePre::new(pre).map_err(|e| LoadError::NotAnAdapter {
            name: name.to_string(),
            message: format!("{e:#}"),
        })?;
        let cached = self.inner.cache.as_ref().and_then(|c| c.describe(&digest));
        let mut adapter = Adapter {
            inner: Arc::new(AdapterInner {
                digest: digest.clone(),
                name: name.to_string(),
                info: cached.clone().unwrap_or(AdapterInfo {
                    product: name.to_string(),
                    version: String::new(),
                    hooks: Vec::new(),
                }),
                pre,
                runtime: self.inner.clone(),
            }),
        };
        if cached.is_none() {
            let info = adapter
                .describe_now()
                .await
                .map_err(|e| LoadError::Describe {
                    name: name.to_string(),
                    source: Box::new(e),
                })?;
            if let Some(c) = &self.inner.cache {
                c.store_describe(&digest, &info);
            }
            let inner = Arc::get_mut(&mut adapter.inner).ok_or_else(|| {
                LoadError::Engine("adapter shared before it was described".into())
            })?;
            inner.info = info;
        }
        if let Ok(mut l) = self.loaded.lock() {
            l.insert(digest, adapter.clone());
        }
        Ok(adapter)
    }

    /// The compiled component: cache hit, or compile (off the async
    /// threads) and store.
    async fn component(
        &self,
        bytes: &[u8],
        digest: &str,
        name: &str,
    ) -> Result<Component, LoadError> {
        let engine = &self.inner.engine;
        if let Some(path) = self
            .inner
            .cache
            .as_ref()
            .and_then(|c| c.compiled_if_trusted(digest))
        {
            // SAFETY: the file is native code this host compiled and wrote
            // itself, in a folder only this user can write (checked above);
            // wasmtime also checks the engine compatibility header.
            #[allow(unsafe_code)]
            let loaded = unsafe { Component::deserialize_file(engine, &path) };
            match loaded {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "compiled cache unusable: recompiling")
                }
            }
        }
        let (engine2, owned) = (engine.clone(), bytes.to_vec());
        let compiled = tokio::task::spawn_blocking(move || Component::new(&engine2, &owned))
            .await
            .map_err(|e| LoadError::Engine(format!("compiler thread failed: {e}")))?
            .map_err(|e| LoadError::Compile {
                name: name.to_string(),
                message: format!("{e:#}"),
            })?;
        if let Some(c) = &self.inner.cache {
            match compiled.serialize() {
                Ok(code) => c.store_compiled(digest, &code),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot serialize a compiled component")
                }
            }
        }
        Ok(compiled)
    }
}

fn check_imports(engine: &Engine, component: &Component, name: &str) -> Result<(), LoadError> {
    let names: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(import, _)| import.to_string())
        .collect();
    let refused = refused_imports(names.iter().map(String::as_str));
    if refused.is_empty() {
        Ok(())
    } else {
        Err(LoadError::ForbiddenImports {
            name: name.to_string(),
            imports: refused.join(", "),
        })
    }
}

/// The imports not in [`ALLOWED_IMPORTS`] (compared without version).
fn refused_imports<'a>(imports: impl Iterator<Item = &'a str>) -> Vec<String> {
    imports
        .filter(|import| {
            let bare = import.split('@').next().unwrap_or(import);
            !ALLOWED_IMPORTS.contains(&bare)
        })
        .map(String::from)
        .collect()
}

struct AdapterInner {
    digest: String,
    name: String,
    info: AdapterInfo,
    pre: AdapterCorePre<CallState>,
    runtime: Arc<Inner>,
}

/// A loaded adapter: compiled, pre-instantiated, described. Cheap to clone;
/// every hook call runs in a fresh instance.
#[derive(Clone)]
pub struct Adapter {
    inner: Arc<AdapterInner>,
}

impl std::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapter")
            .field("name", &self.inner.name)
            .field("digest", &self.inner.digest)
            .field("product", &self.inner.info.product)
            .finish_non_exhaustive()
    }
}

/// A fresh instance for one call.
struct Call {
    store: Store<CallState>,
    instance: AdapterCore,
    timeout: Duration,
}

macro_rules! hook_call {
    ($self:ident, $hook:ident, $policy:ident, |$store:ident, $hooks:ident| $call:expr) => {{
        let mut call = $self.instantiate($hook, $policy).await?;
        let $hooks = call.instance.meshroom_adapter_hooks();
        let $store = &mut call.store;
        let result = tokio::time::timeout(call.timeout, $call).await;
        $self.finish($hook, &call, result)
    }};
}

impl Adapter {
    /// The `describe()` answer (cached per digest).
    pub fn info(&self) -> &AdapterInfo {
        &self.inner.info
    }

    /// The component's digest, `sha256:<hex>`.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// The name it was loaded under (file name).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The product the adapter serves (from `describe()`).
    pub fn product(&self) -> &str {
        &self.inner.info.product
    }

    fn err(&self, hook: &str, kind: HookErrorKind, message: impl Into<String>) -> HookError {
        HookError {
            product: self.product().to_string(),
            hook: hook.to_string(),
            kind,
            message: message.into(),
        }
    }

    async fn instantiate(&self, hook: &str, policy: &CallPolicy) -> Result<Call, HookError> {
        let rt = &self.inner.runtime;
        let cfg = &rt.config;
        let peers = if policy.sockets.is_empty() {
            Vec::new()
        } else {
            policy::resolve_socket_peers(&policy.sockets).await
        };
        let state = CallState::new(
            self.product(),
            hook,
            policy,
            peers,
            cfg.memory_cap,
            cfg.io_timeout,
        );
        let mut store = Store::new(&rt.engine, state);
        store.limiter(|s| &mut s.limiter);
        let budget = (cfg.cpu_limit.as_micros() / cfg.tick.as_micros().max(1)).max(1) as u64;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            let s = ctx.data_mut();
            s.cpu_ticks += 1;
            if s.cpu_ticks > budget {
                if let Ok(mut v) = s.shared.verdict.lock() {
                    *v = Some(Verdict::Cpu);
                }
                return Err(wasmtime::Error::msg("cpu budget exhausted"));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        let instance = self
            .inner
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| {
                self.err(
                    hook,
                    HookErrorKind::Host,
                    format!("cannot start the adapter (too many calls at once?): {e:#}"),
                )
            })?;
        Ok(Call {
            store,
            instance,
            timeout: policy.timeout.unwrap_or(cfg.timeout),
        })
    }

    /// Turns the outcome of a call into the hook's result or a clear error.
    fn finish<R>(
        &self,
        hook: &str,
        call: &Call,
        result: Result<wasmtime::Result<Result<R, wit::AdapterError>>, tokio::time::error::Elapsed>,
    ) -> Result<R, HookError> {
        let state = call.store.data();
        state.log_output(true);
        let refused = state
            .shared
            .refused
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        let refused_note = if refused.is_empty() {
            String::new()
        } else {
            format!(" (the sandbox refused: {})", refused.join(", "))
        };
        let cfg = &self.inner.runtime.config;
        match result {
            Ok(Ok(Ok(r))) => Ok(r),
            Ok(Ok(Err(e))) => {
                let (kind, message) = bindings::error_from(e);
                let mut message = state.redact(&message);
                if !refused.is_empty() && !refused.iter().any(|r| message.contains(r.as_str())) {
                    message.push_str(&refused_note);
                }
                Err(self.err(hook, kind, message))
            }
            Err(_) => Err(self.err(
                hook,
                HookErrorKind::Timeout,
                format!(
                    "did not finish within {:?} (wall clock); stopped{refused_note}",
                    call.timeout
                ),
            )),
            Ok(Err(trap)) => {
                let verdict = state.shared.verdict.lock().ok().and_then(|v| *v);
                match verdict {
                    Some(Verdict::Cpu) => Err(self.err(
                        hook,
                        HookErrorKind::CpuLimit,
                        format!(
                            "used more than {:?} of CPU (an endless loop?); stopped",
                            cfg.cpu_limit
                        ),
                    )),
                    Some(Verdict::Memory(desired)) => Err(self.err(
                        hook,
                        HookErrorKind::MemoryLimit,
                        format!(
                            "tried to grow its memory to {} MiB, over the cap of {} MiB; stopped",
                            desired >> 20,
                            cfg.memory_cap >> 20
                        ),
                    )),
                    None => {
                        let tail = state.redact(&state.stderr.tail());
                        let what = if tail.contains("panicked") {
                            format!("panicked: {}", last_lines(&tail, 6))
                        } else if tail.is_empty() {
                            format!("crashed: {}", trap_summary(&trap))
                        } else {
                            format!(
                                "crashed: {}; stderr: {}",
                                trap_summary(&trap),
                                last_lines(&tail, 6)
                            )
                        };
                        Err(self.err(
                            hook,
                            HookErrorKind::Crashed,
                            format!("{what}{refused_note}"),
                        ))
                    }
                }
            }
        }
    }

    fn json_result(
        &self,
        hook: &str,
        text: &str,
        what: &str,
    ) -> Result<serde_json::Value, HookError> {
        bindings::json_from(text, what).map_err(|m| self.err(hook, HookErrorKind::Failed, m))
    }

    async fn describe_now(&self) -> Result<AdapterInfo, HookError> {
        let policy = CallPolicy::deny_all();
        let hook = "describe";
        let mut call = self.instantiate(hook, &policy).await?;
        let hooks = call.instance.meshroom_adapter_hooks();
        let result = tokio::time::timeout(call.timeout, hooks.call_describe(&mut call.store)).await;
        let info = self.finish(hook, &call, result.map(|r| r.map(Ok)))?;
        Ok(bindings::info_from(info))
    }

    /// Runs a setup hook.
    pub async fn setup(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Outcome, HookError> {
        let wctx = bindings::context_to(ctx);
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_setup(store, hook, &wctx))?;
        bindings::outcome_from(out).map_err(|m| self.err(hook, HookErrorKind::Failed, m))
    }

    /// Runs a teardown hook.
    pub async fn teardown(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Outcome, HookError> {
        let wctx = bindings::context_to(ctx);
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_teardown(store, hook, &wctx))?;
        bindings::outcome_from(out).map_err(|m| self.err(hook, HookErrorKind::Failed, m))
    }

    /// Runs a check hook.
    pub async fn check(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<CheckReport, HookError> {
        let wctx = bindings::context_to(ctx);
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_check(store, hook, &wctx))?;
        Ok(bindings::check_from(out))
    }

    /// Runs a produce hook on one batch of records.
    pub async fn produce(
        &self,
        hook: &str,
        ctx: &HookContext,
        batch: &[Vec<u8>],
        policy: &CallPolicy,
    ) -> Result<ProduceReport, HookError> {
        let wctx = bindings::context_to(ctx);
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_produce(store, hook, &wctx, batch))?;
        Ok(bindings::produce_from(out))
    }

    /// Runs a trigger hook with JSON params; returns its JSON result.
    pub async fn trigger(
        &self,
        hook: &str,
        ctx: &HookContext,
        params: &serde_json::Value,
        policy: &CallPolicy,
    ) -> Result<serde_json::Value, HookError> {
        let (wctx, params) = (bindings::context_to(ctx), params.to_string());
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_trigger(store, hook, &wctx, &params))?;
        self.json_result(hook, &out, "the trigger result")
    }

    /// Runs an execute hook with JSON params; returns its JSON result.
    pub async fn execute(
        &self,
        hook: &str,
        ctx: &HookContext,
        params: &serde_json::Value,
        policy: &CallPolicy,
    ) -> Result<serde_json::Value, HookError> {
        let (wctx, params) = (bindings::context_to(ctx), params.to_string());
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_execute(store, hook, &wctx, &params))?;
        self.json_result(hook, &out, "the execute result")
    }

    /// Runs a scaffold hook. The returned paths are untrusted: check them
    /// before writing.
    pub async fn scaffold(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Vec<ScaffoldFile>, HookError> {
        let wctx = bindings::context_to(ctx);
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_scaffold(store, hook, &wctx))?;
        Ok(bindings::files_from(out))
    }

    /// Runs a catalog pull hook. The returned definitions are untrusted.
    pub async fn pull(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Vec<PulledProduct>, HookError> {
        let wctx = bindings::context_to(ctx);
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_pull(store, hook, &wctx))?;
        Ok(bindings::definitions_from(out))
    }

    /// Runs a publish hook; returns its message.
    pub async fn publish(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<String, HookError> {
        let wctx = bindings::context_to(ctx);
        hook_call!(self, hook, policy, |store, hooks| hooks
            .call_publish(store, hook, &wctx))
    }

    /// Starts a watch hook. The returned [`Watcher`] keeps its instance
    /// alive between batches; each [`Watcher::next`] has the call limits.
    pub async fn watch(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Watcher, HookError> {
        let wctx = bindings::context_to(ctx);
        let mut call = self.instantiate(hook, policy).await?;
        let hooks = call.instance.meshroom_adapter_hooks();
        let result =
            tokio::time::timeout(call.timeout, hooks.call_watch(&mut call.store, hook, &wctx))
                .await;
        let resource = self.finish(hook, &call, result)?;
        Ok(Watcher {
            adapter: self.clone(),
            hook: hook.to_string(),
            call: Some(call),
            resource,
        })
    }
}

/// A running watch hook.
pub struct Watcher {
    adapter: Adapter,
    hook: String,
    /// `None` once the stream ended or failed (the instance is dropped).
    call: Option<Call>,
    resource: ResourceAny,
}

impl Watcher {
    /// The next batch of records; `None` when the stream ended. After an
    /// error the watcher is finished.
    pub async fn next(&mut self) -> Result<Option<Vec<String>>, HookError> {
        let Some(call) = self.call.as_mut() else {
            return Ok(None);
        };
        call.store.data_mut().cpu_ticks = 0;
        let hooks = call.instance.meshroom_adapter_hooks();
        let result = tokio::time::timeout(
            call.timeout,
            hooks.watcher().call_next(&mut call.store, self.resource),
        )
        .await;
        let out = self.adapter.finish(&self.hook, call, result);
        if !matches!(out, Ok(Some(_))) {
            self.call = None;
        }
        out
    }
}

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// A one-line description of a trap (its root cause, without the backtrace).
fn trap_summary(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return trap.to_string();
    }
    e.chain()
        .last()
        .map_or_else(|| e.to_string(), |c| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sandbox_interfaces_may_be_imported() {
        let refused = refused_imports(
            [
                "wasi:http/outgoing-handler@0.2.12",
                "wasi:io/streams@0.2.0",
                "meshroom:adapter/host@0.1.0",
                "wasi:cli/environment@0.2.12",
                "wasi:http/incoming-handler@0.2.12",
                "wasi:keyvalue/store@0.2.0",
                "evil:host/escape",
            ]
            .into_iter(),
        );
        assert_eq!(
            refused,
            [
                "wasi:http/incoming-handler@0.2.12",
                "wasi:keyvalue/store@0.2.0",
                "evil:host/escape"
            ]
        );
    }

    #[test]
    fn last_lines_keeps_the_end() {
        assert_eq!(last_lines("a\nb\nc\nd", 2), "c | d");
        assert_eq!(last_lines("", 2), "");
    }
}
