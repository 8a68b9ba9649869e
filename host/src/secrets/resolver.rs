//! [`ScopedSecrets`]: the answer to an adapter's `host.secret(name)`, limited
//! to the secrets of the instance or plug the hook is called for.

use std::sync::{Arc, RwLock};

use super::{SecretScope, SecretStore};

/// One store shared by the hook calls of a command (`up` runs plugs
/// concurrently): readers look secrets up, the engine writes setup hooks'
/// secret outputs between calls, then saves once.
pub type SharedSecretStore = Arc<RwLock<SecretStore>>;

/// The secrets one hook call may read: the first of its scopes that has
/// the name wins (a plug's own secret outputs before its instance's
/// settings). Give it to the runtime as the call's `SecretResolver`.
#[derive(Clone)]
pub struct ScopedSecrets {
    store: SharedSecretStore,
    scopes: Vec<SecretScope>,
}

impl ScopedSecrets {
    /// The secrets of exactly these scopes, in this order.
    pub fn new(store: SharedSecretStore, scopes: Vec<SecretScope>) -> Self {
        Self { store, scopes }
    }

    /// For a hook of instance `name` of `product` (no plug).
    pub fn instance(store: SharedSecretStore, product: &str, name: &str) -> Self {
        Self::new(store, vec![SecretScope::instance(product, name)])
    }

    /// For a hook on `plug` acting for its end instance `name` of `product`:
    /// the plug's secrets, then that instance's.
    pub fn plug(store: SharedSecretStore, plug: SecretScope, product: &str, name: &str) -> Self {
        Self::new(store, vec![plug, SecretScope::instance(product, name)])
    }

    /// The scopes searched, in order.
    pub fn scopes(&self) -> &[SecretScope] {
        &self.scopes
    }
}

impl std::fmt::Debug for ScopedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedSecrets")
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl crate::runtime::SecretResolver for ScopedSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        let store = self
            .store
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match store.lookup(&self.scopes, name) {
            Ok(found) => found.map(|v| v.expose().to_owned()),
            Err(e) => {
                // Engines should call `SecretStore::unlock` before running hooks,
                // so this is reached only if the store changed meanwhile.
                tracing::warn!("secret `{name}` unavailable: {e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use age::secrecy::{ExposeSecret, SecretString};

    use super::*;
    use crate::runtime::SecretResolver;
    use crate::secrets::{IdentityConfig, Recipients};

    #[test]
    fn answers_only_its_scopes_plug_first() {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let mut r = Recipients::load(dir.path()).unwrap();
        r.add(id.to_public(), None);
        r.save().unwrap();
        let config = || IdentityConfig {
            identity: Some(SecretString::from(
                id.to_string().expose_secret().to_owned(),
            )),
            ..Default::default()
        };
        let mut store = SecretStore::open_with(dir.path(), config());
        let plug = SecretScope::plug("edr1", "siem1", "events", "push");
        store
            .set(
                &SecretScope::instance("siem", "siem1"),
                "api_key",
                "instance-key".into(),
            )
            .unwrap();
        store.set(&plug, "api_key", "plug-key".into()).unwrap();
        store.set(&plug, "intake_key", "ik".into()).unwrap();
        store
            .set(
                &SecretScope::instance("edr", "edr1"),
                "password",
                "other".into(),
            )
            .unwrap();
        store.unlock().unwrap();
        let shared: SharedSecretStore = Arc::new(RwLock::new(store));

        let on_plug = ScopedSecrets::plug(shared.clone(), plug.clone(), "siem", "siem1");
        assert_eq!(on_plug.secret("api_key").as_deref(), Some("plug-key"));
        assert_eq!(on_plug.secret("intake_key").as_deref(), Some("ik"));
        assert_eq!(
            on_plug.secret("password"),
            None,
            "another instance's secret"
        );
        let on_instance = ScopedSecrets::instance(shared.clone(), "siem", "siem1");
        assert_eq!(
            on_instance.secret("api_key").as_deref(),
            Some("instance-key")
        );
        assert_eq!(on_instance.secret("intake_key"), None);
        assert!(!format!("{on_plug:?}").contains("plug-key"));
    }
}
