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

/// Bytes at the start of each pooled linear memory reset in place with
/// [`MemoryReset::Prefix`] (never returned to the kernel); of those, only
/// the part a call could reach (its memory's size) is reset.
const KEEP_RESIDENT: usize = 16 << 20;

/// The most bytes of dirtied pages kept resident (restored in place) with
/// [`MemoryReset::DirtyPages`]: a Rust adapter's call dirties under 1 MiB,
/// a Python adapter's a few MiB of CPython heap.
const KEEP_RESIDENT_SCANNED: usize = 32 << 20;

/// How a pooled linear memory is made fresh for the next hook call (every
/// call gets a fresh instance in a recycled slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum MemoryReset {
    /// Restore only the pages the call dirtied, found with Linux's
    /// PAGEMAP_SCAN ioctl (6.7+; `Prefix` where the kernel lacks it), and
    /// keep them resident: no page fault on the next call. Best for every
    /// adapter, Rust or Python, with the wasmtime patch in
    /// `vendor/README.md` (upstream decommits everything past the 32nd
    /// dirty region, which a CPython call far exceeds).
    #[default]
    DirtyPages,
    /// Reset the first 16 MiB in place with `memset`, whatever the call
    /// touched; decommit the rest.
    Prefix,
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
    /// How the pooling allocator resets a memory between calls.
    pub memory_reset: MemoryReset,
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
            memory_reset: MemoryReset::default(),
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
    /// The engine, linker and cache for `config`, and a started epoch
    /// ticker.
    pub fn new(config: RuntimeConfig) -> Result<Self, LoadError> {
        let engine_err = |e: wasmtime::Error| LoadError::Engine(format!("{e:#}"));
        // Without PAGEMAP_SCAN (Linux before 6.7), engine creation fails
        // with it asked for: then the `Prefix` reset.
        let scan = config.pooling && config.memory_reset == MemoryReset::DirtyPages;
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
            stop_ticker,
        })
    }
}
