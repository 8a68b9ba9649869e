//! Where a product's adapter component comes from: the definition's
//! `adapter:` key, either a `.wasm` path relative to the product folder or
//! an OCI reference, resolved through `meshroom.lock` to a component digest
//! and found in the registry's content-addressed blob cache (fetched into
//! it when missing). A locked adapter that the trust policy requires to be
//! signed is checked against the signature the lockfile records before its
//! bytes are handed out.

use std::path::PathBuf;

use meshroom_registry::{ArtifactRef, BlobCache, LockedProduct, Lockfile, Registry, Requirement};

use super::error::EngineError;
use crate::project::{Product, TrustPolicy};

/// Where the adapter of one product is.
#[derive(Debug, Clone)]
pub enum AdapterSource {
    /// A component file in the product folder.
    File(PathBuf),
    /// A pulled artifact, pinned by `meshroom.lock`, and what the trust policy requires of it.
    Locked(Box<LockedProduct>, Option<Box<Requirement>>),
}

impl AdapterSource {
    /// The adapter of `product`; `None` when it names none (a product
    /// without an adapter simply has no hooks).
    pub fn of(
        product: &Product,
        lock: &Lockfile,
        trust: Option<&TrustPolicy>,
    ) -> Result<Option<AdapterSource>, EngineError> {
        let Some(adapter) = product.definition.adapter.as_deref() else {
            return Ok(None);
        };
        if let Some(path) = product.adapter_path() {
            return Ok(Some(AdapterSource::File(path)));
        }
        match lock.get(&product.name) {
            Some(entry) => {
                let reference = ArtifactRef::parse(&entry.reference)?;
                let requirement = super::trust::requirement_for(trust, &reference)?;
                Ok(Some(AdapterSource::Locked(
                    Box::new(entry.clone()),
                    requirement.map(Box::new),
                )))
            }
            None => Err(EngineError::AdapterNotLocked {
                product: product.name.clone(),
                reference: adapter.to_string(),
            }),
        }
    }

    /// The component's digest (`sha256:<hex>`): read from the lockfile, or
    /// hashed from the file (for the describe cache: no compilation).
    pub fn digest(&self, product: &Product) -> Result<String, EngineError> {
        match self {
            AdapterSource::Locked(entry, _) => Ok(entry.component_digest.as_str().to_string()),
            AdapterSource::File(path) => {
                let bytes = read_file(product, path)?;
                Ok(crate::runtime::digest_of(&bytes))
            }
        }
    }

    /// The component's bytes and a name for errors; a locked component
    /// missing from the cache is fetched (and verified) by the registry.
    pub async fn bytes(&self, product: &Product) -> Result<(Vec<u8>, String), EngineError> {
        match self {
            AdapterSource::File(path) => {
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                Ok((read_file(product, path)?, name))
            }
            AdapterSource::Locked(entry, requirement) => {
                if let Some(requirement) = requirement {
                    let started = std::time::Instant::now();
                    let registry = Registry::from_env()?;
                    registry
                        .verify_locked(entry, requirement)
                        .await
                        .map_err(|source| EngineError::AdapterUntrusted {
                            product: product.name.clone(),
                            source: Box::new(source),
                        })?;
                    tracing::debug!(product = %product.name, elapsed = ?started.elapsed(), "signature of the locked adapter verified");
                }
                let fetch_err = |source| EngineError::AdapterFetch {
                    product: product.name.clone(),
                    reference: entry.reference.clone(),
                    source: Box::new(source),
                };
                let cache = BlobCache::from_env().map_err(fetch_err)?;
                let bytes = match cache.get(&entry.component_digest).map_err(fetch_err)? {
                    Some(bytes) => bytes,
                    None => {
                        tracing::info!(product = %product.name, reference = %entry.reference, "fetching the locked adapter");
                        let registry = Registry::from_env().map_err(fetch_err)?;
                        let pulled = registry.fetch_locked(entry).await.map_err(fetch_err)?;
                        std::fs::read(&pulled.component_path).map_err(|e| {
                            fetch_err(meshroom_registry::RegistryError::Io {
                                context: format!(
                                    "failed to read `{}`",
                                    pulled.component_path.display()
                                ),
                                source: e,
                            })
                        })?
                    }
                };
                Ok((
                    bytes,
                    format!("{}@{}", product.name, entry.component_digest.short()),
                ))
            }
        }
    }
}

fn read_file(product: &Product, path: &PathBuf) -> Result<Vec<u8>, EngineError> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            EngineError::AdapterMissing {
                product: product.name.clone(),
                path: path.clone(),
                definition: product.definition_path(),
            }
        } else {
            EngineError::AdapterLoad {
                product: product.name.clone(),
                source: Box::new(crate::runtime::LoadError::Read {
                    path: path.clone(),
                    source: e,
                }),
            }
        }
    })
}
