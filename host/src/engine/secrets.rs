//! The secrets store as the engine shares it between concurrent hook calls:
//! answers `host.secret` for one scope list (the plug's, then its
//! instance's), and records the secret outputs of setup hooks.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::project::{Instance, Plug};
use crate::runtime::{SecretOutput, SecretResolver};
use crate::secrets::{SecretScope, SecretStore, SecretValue, SecretsError};

/// The scope of an instance's secrets.
pub fn instance_scope(instance: &Instance) -> SecretScope {
    SecretScope::instance(&instance.product, &instance.name)
}

/// The scope of a plug's secret outputs.
pub fn plug_scope(plug: &Plug) -> SecretScope {
    SecretScope::plug(
        &plug.src_instance,
        &plug.dst_instance,
        &plug.topic,
        plug.mode.as_str(),
    )
}

/// The project's secrets store, shared by the hook calls of one command.
#[derive(Clone, Debug)]
pub struct SharedSecrets {
    store: Arc<Mutex<SecretStore>>,
}

impl SharedSecrets {
    /// The store of `project_dir` (identities from the environment); reads
    /// nothing until a secret is asked for.
    pub fn open(project_dir: &Path) -> Result<Self, SecretsError> {
        Ok(Self::new(SecretStore::open(project_dir)?))
    }

    /// Shares `store`.
    pub fn new(store: SecretStore) -> Self {
        SharedSecrets {
            store: Arc::new(Mutex::new(store)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SecretStore> {
        // A panic while holding the lock leaves the store usable.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A resolver answering only the secrets of `scopes`, the first scope
    /// that has a name winning (`[plug, instance]`).
    pub fn resolver(&self, scopes: Vec<SecretScope>) -> impl SecretResolver + 'static {
        let shared = self.clone();
        move |name: &str| -> Option<String> {
            let store = shared.lock();
            match store.lookup(&scopes, name) {
                Ok(v) => v.map(|v| v.expose().to_string()),
                Err(e) => {
                    tracing::warn!("cannot answer the adapter's secret `{name}`: {e}");
                    None
                }
            }
        }
    }

    /// Records secret outputs of a hook under `scope` (in memory until
    /// [`Self::save`]).
    pub fn record(
        &self,
        scope: &SecretScope,
        outputs: &[SecretOutput],
    ) -> Result<(), SecretsError> {
        let mut store = self.lock();
        for out in outputs {
            store.set(
                scope,
                &out.name,
                SecretValue::new(out.value.expose().to_string()),
            )?;
        }
        Ok(())
    }

    /// Forgets every secret output of `scope` (after a successful teardown).
    pub fn forget(&self, scope: &SecretScope) -> Result<usize, SecretsError> {
        self.lock().remove_scope(scope)
    }

    /// Writes the store back if anything changed.
    pub fn save(&self) -> Result<(), SecretsError> {
        self.lock().save()
    }
}
