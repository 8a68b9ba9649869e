//! [`Runtime`]: loads adapter components — from memory, from the compiled
//! cache, or compiled once and cached — checks their imports, and
//! pre-instantiates them. Calling hooks is [`crate::Adapter`]'s job.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use wasmtime::component::Component;

use crate::adapter::{Adapter, AdapterInner};
use crate::bindings::AdapterCorePre;
use crate::cache::digest_of;
use crate::config::{EngineCore, RuntimeConfig};
use crate::error::LoadError;
use crate::imports::check_imports;
use crate::types::AdapterInfo;

/// Loads adapters; shares the wasmtime engine, linker and cache among
/// them. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<EngineCore>,
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
        Ok(Runtime {
            inner: Arc::new(EngineCore::new(config)?),
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
        let core = &self.inner;
        let component = component(core, bytes, &digest, name).await?;
        check_imports(&core.engine, &component, name)?;
        let pre = core
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
                runtime: core.clone(),
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
}

/// The compiled component: cache hit, or compile (off the async threads)
/// and store.
async fn component(
    core: &EngineCore,
    bytes: &[u8],
    digest: &str,
    name: &str,
) -> Result<Component, LoadError> {
    let engine = &core.engine;
    if let Some(path) = core
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
    if let Some(c) = &core.cache {
        match compiled.serialize() {
            Ok(code) => c.store_compiled(digest, &code),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot serialize a compiled component")
            }
        }
    }
    Ok(compiled)
}
