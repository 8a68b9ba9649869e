//! The runtime's configuration and the wasmtime engine built from it: the
//! pooling allocator (sized by [`RuntimeConfig`]), the linker with the
//! WASI, HTTP and `host` interfaces, and the epoch ticker that measures
//! guest CPU. Nothing here runs an adapter.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::bindings::AdapterCore;
use crate::cache::{Cache, default_cache_dir};
use crate::error::LoadError;
use crate::limits::Limits;
use crate::state::{CallState, HostData};

/// Bytes at the start of each pooled linear memory kept resident between
/// calls (reset in place, never returned to the kernel); of those, only the
/// part a call could reach (its memory's size) is reset. A Rust adapter
/// reaches 1-2 MiB; a Python adapter's call dirties several MiB of CPython
/// heap, all under 16 MiB.
const KEEP_RESIDENT: usize = 16 << 20;

/// Bytes kept resident when PAGEMAP_SCAN finds the dirtied pages.
const KEEP_RESIDENT_SCANNED: usize = 32 << 20;

/// How a pooled linear memory is made fresh for the next hook call (every
/// call gets a fresh instance in a recycled slot). A runtime keeps one
/// engine per reset in use, and runs each component in the one that suits it
/// ([`MemoryReset::for_component`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum MemoryReset {
    /// Restore only the pages the call dirtied, found with Linux's
    /// PAGEMAP_SCAN (6.7+; `Prefix` where the kernel lacks it). Best when
    /// calls dirty a few regions, as a Rust adapter's do.
    #[default]
    DirtyPages,
    /// Reset the first 16 MiB in place with `memset`. Best
    /// for Python adapters: wasmtime 48 asks PAGEMAP_SCAN for at most 32
    /// dirty regions and decommits everything past the last one found, and a
    /// CPython call dirties its heap in far more, so with `DirtyPages` every
    /// call refaults ~800 pages and each fault costs a TLB shootdown.
    Prefix,
}

impl MemoryReset {
    /// `Prefix` for a component whose memory is the snapshot of an
    /// initialised interpreter (its producers name
    /// `component-init-transform`, as componentize-py's do), else
    /// `DirtyPages`. Reads section headers only; bytes that do not parse
    /// get the default (compiling them reports the error).
    pub fn for_component(bytes: &[u8]) -> MemoryReset {
        let snapshot = wasmparser::Parser::new(0)
            .parse_all(bytes)
            .map_while(Result::ok)
            .any(|payload| match payload {
                wasmparser::Payload::CustomSection(section) => match section.as_known() {
                    wasmparser::KnownCustom::Producers(producers) => producers
                        .into_iter()
                        .flatten()
                        .filter(|field| field.name == "processed-by")
                        .flat_map(|field| field.values.into_iter().flatten())
                        .any(|value| value.name == "component-init-transform"),
                    _ => false,
                },
                _ => false,
            });
        if snapshot {
            MemoryReset::Prefix
        } else {
            MemoryReset::DirtyPages
        }
    }
}

/// Core instances the pool holds per component instance (the largest
/// component seen, a Python adapter, instantiates 14 core modules).
const CORE_INSTANCES_PER_CALL: u32 = 16;

/// Settings of a [`crate::Runtime`].
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
    /// How the pooling allocator resets a memory between calls; `None`: the
    /// one that suits each component ([`MemoryReset::for_component`]).
    pub memory_reset: Option<MemoryReset>,
    /// Bounds on what a call returns and makes the host hold (a call's
    /// [`crate::CallPolicy::limits`] overrides them).
    pub limits: Limits,
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
            memory_reset: None,
            limits: Limits::default(),
        }
    }
}

/// The wasmtime engine, linker and caches shared by every adapter of a
/// [`crate::Runtime`]; dropping it stops the epoch ticker.
pub(crate) struct EngineCore {
    pub engine: Engine,
    pub linker: Linker<CallState>,
    pub cache: Option<Cache>,
    pub config: RuntimeConfig,
    /// How this engine's pool resets memories.
    pub reset: MemoryReset,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for EngineCore {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// The wasmtime configuration for `config`; `pagemap`: reset pooled
/// memories with the PAGEMAP_SCAN ioctl (engine creation fails where the
/// kernel lacks it).
fn engine_config(config: &RuntimeConfig, pagemap: bool) -> wasmtime::Config {
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
        // Core instances per component instance: a Rust adapter has
        // 3 core modules, a componentize-py 0.25 component 14 (CPython,
        // libc, the WASI adapter, shims): 8 let 80 Python calls at
        // once exhaust the pool (`up` of the 500-plug bench failed).
        pool.total_core_instances(n.saturating_mul(CORE_INSTANCES_PER_CALL));
        pool.total_memories(n.saturating_mul(2));
        pool.total_tables(n.saturating_mul(8));
        pool.max_memory_size(config.memory_cap);
        // Reset slots with memset rather than `madvise`, and return what
        // is decommitted in batches: every page-table change of a
        // multi-threaded process costs a TLB shootdown on every core,
        // which dominated `up` of many plugs (each hook call is a fresh
        // instance). With PAGEMAP_SCAN only the dirtied pages are restored,
        // so more of them can stay resident (see [`MemoryReset`]).
        if pagemap {
            pool.pagemap_scan(wasmtime::Enabled::Yes);
            pool.linear_memory_keep_resident(KEEP_RESIDENT_SCANNED);
        } else {
            pool.linear_memory_keep_resident(KEEP_RESIDENT);
        }
        pool.table_keep_resident(64 << 10);
        pool.decommit_batch_size(32);
        c.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    c
}

impl EngineCore {
    /// The engine, linker and cache for `config` with memories reset the
    /// `reset` way, and a started epoch ticker.
    pub fn new(config: RuntimeConfig, reset: MemoryReset) -> Result<Self, LoadError> {
        let engine_err = |e: wasmtime::Error| LoadError::Engine(format!("{e:#}"));
        // With Linux's PAGEMAP_SCAN (6.7+), a slot is reset by restoring
        // only the pages the call dirtied, kept resident (no `madvise`, no
        // page faults on the next call): what a Python adapter, whose calls
        // dirty megabytes of CPython heap, needs. Elsewhere, the older reset.
        let scan = config.pooling && reset == MemoryReset::DirtyPages;
        let engine = match Engine::new(&engine_config(&config, scan)) {
            Ok(engine) => engine,
            Err(_) if scan => Engine::new(&engine_config(&config, false)).map_err(engine_err)?,
            Err(e) => return Err(engine_err(e)),
        };
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
                Cache::new(&dir, compat)
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
        Ok(EngineCore {
            engine,
            linker,
            cache,
            config,
            reset,
            stop_ticker,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryReset;

    /// An empty component whose producers section says `processed-by`
    /// each of `tools`.
    fn component_processed_by(tools: &[&str]) -> Vec<u8> {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.push(u8::try_from(s.len()).unwrap());
            out.extend_from_slice(s.as_bytes());
        }
        let mut payload = Vec::new();
        string(&mut payload, "producers");
        payload.push(1);
        string(&mut payload, "processed-by");
        payload.push(u8::try_from(tools.len()).unwrap());
        for tool in tools {
            string(&mut payload, tool);
            string(&mut payload, "0.1.0");
        }
        let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
        bytes.push(0);
        bytes.push(u8::try_from(payload.len()).unwrap());
        bytes.extend(payload);
        bytes
    }

    #[test]
    fn interpreter_snapshots_are_reset_by_prefix_the_rest_by_dirty_pages() {
        let python = component_processed_by(&["wit-component", "component-init-transform"]);
        assert_eq!(MemoryReset::for_component(&python), MemoryReset::Prefix);
        let rust = component_processed_by(&["wit-component"]);
        assert_eq!(MemoryReset::for_component(&rust), MemoryReset::DirtyPages);
        assert_eq!(
            MemoryReset::for_component(b"not wasm"),
            MemoryReset::DirtyPages
        );
    }
}
