//! [`SecretStore`]: `secrets.age` at the project root, decrypted on first use,
//! encrypted again (to the project's recipients) on [`SecretStore::save`].

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::secrecy::SecretString;
use age::x25519;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::document::{self, DocumentError, Secrets};
use super::identity::{IdentityConfig, Keyring};
use super::recipients::Recipients;
use super::{SecretScope, SecretValue, SecretsError};

/// scrypt work factor (`N = 2^18`) of a passphrase-encrypted store.
const SCRYPT_LOG_N: u8 = 18;
/// Highest scrypt work factor accepted when decrypting.
const SCRYPT_MAX_LOG_N: u8 = 20;

/// File name of the encrypted store, at the project root.
pub const STORE_FILE: &str = "secrets.age";

/// The project's encrypted secrets.
///
/// Opening reads nothing: the file is decrypted the first time a secret is
/// read or written, so commands that need no secret never need an identity.
/// A missing file is an empty store. Changes stay in memory until
/// [`save`](Self::save), which encrypts to the recipients listed in
/// `secrets.recipients` (or, when it lists none, to the passphrase) and
/// replaces the file atomically.
pub struct SecretStore {
    project_dir: PathBuf,
    path: PathBuf,
    config: IdentityConfig,
    loaded: OnceLock<Loaded>,
}

struct Loaded {
    secrets: Secrets,
    /// sha256 of the file as read (`None`: there was no file).
    fingerprint: Option<[u8; 32]>,
    /// The passphrase that opened the file, reused to write it back.
    passphrase: Option<SecretString>,
    /// Public keys of the identities that opened it (for warnings).
    own_keys: Vec<x25519::Recipient>,
    dirty: bool,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("path", &self.path)
            .field("loaded", &self.loaded.get().is_some())
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    /// The store of `project_dir`, with identities from the environment
    /// (see [`IdentityConfig::from_env`]). Reads nothing yet.
    pub fn open(project_dir: &Path) -> Result<Self, SecretsError> {
        Ok(Self::open_with(project_dir, IdentityConfig::from_env()))
    }

    /// The store of `project_dir`, with identities from `config`.
    pub fn open_with(project_dir: &Path, config: IdentityConfig) -> Self {
        Self {
            project_dir: project_dir.to_owned(),
            path: project_dir.join(STORE_FILE),
            config,
            loaded: OnceLock::new(),
        }
    }

    /// Path of `secrets.age`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The identity configuration in use.
    pub fn identity_config(&self) -> &IdentityConfig {
        &self.config
    }

    /// Decrypts the store now (a no-op if done, or if there is no file), so
    /// a missing identity fails before work starts rather than in the middle.
    pub fn unlock(&self) -> Result<(), SecretsError> {
        self.loaded().map(|_| ())
    }

    /// The secret `name` of `scope`, if set.
    pub fn get(
        &self,
        scope: &SecretScope,
        name: &str,
    ) -> Result<Option<&SecretValue>, SecretsError> {
        Ok(self.loaded()?.secrets.get(scope).and_then(|m| m.get(name)))
    }

    /// The secret `name` of the first of `scopes` that has it: for a hook
    /// running on a plug, `[plug scope, instance scope]` lets the plug's own
    /// secret override the instance's.
    pub fn lookup(
        &self,
        scopes: &[SecretScope],
        name: &str,
    ) -> Result<Option<&SecretValue>, SecretsError> {
        let secrets = &self.loaded()?.secrets;
        Ok(scopes
            .iter()
            .find_map(|s| secrets.get(s).and_then(|m| m.get(name))))
    }

    /// Names of the secrets of `scope`, sorted.
    pub fn names(&self, scope: &SecretScope) -> Result<Vec<String>, SecretsError> {
        Ok(self
            .loaded()?
            .secrets
            .get(scope)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// Every (scope, name) pair, sorted — names only, never values.
    pub fn entries(&self) -> Result<Vec<(SecretScope, String)>, SecretsError> {
        Ok(self
            .loaded()?
            .secrets
            .iter()
            .flat_map(|(s, m)| m.keys().map(move |n| (s.clone(), n.clone())))
            .collect())
    }

    /// Sets the secret `name` of `scope` (in memory until [`save`](Self::save)).
    pub fn set(
        &mut self,
        scope: &SecretScope,
        name: &str,
        value: SecretValue,
    ) -> Result<(), SecretsError> {
        scope.validate()?;
        validate_name(name)?;
        let loaded = self.loaded_mut()?;
        loaded
            .secrets
            .entry(scope.clone())
            .or_default()
            .insert(name.to_owned(), value);
        loaded.dirty = true;
        tracing::debug!(%scope, name, "secret set");
        Ok(())
    }

    /// Removes the secret `name` of `scope`; `false` when there was none.
    pub fn remove(&mut self, scope: &SecretScope, name: &str) -> Result<bool, SecretsError> {
        let loaded = self.loaded_mut()?;
        let Some(values) = loaded.secrets.get_mut(scope) else {
            return Ok(false);
        };
        let removed = values.remove(name).is_some();
        if values.is_empty() {
            loaded.secrets.remove(scope);
        }
        loaded.dirty |= removed;
        Ok(removed)
    }

    /// Removes every secret of `scope` (`meshroom remove`, `unplug`); returns
    /// how many there were.
    pub fn remove_scope(&mut self, scope: &SecretScope) -> Result<usize, SecretsError> {
        if !self.path.exists() && self.loaded.get().is_none() {
            return Ok(0);
        }
        let loaded = self.loaded_mut()?;
        let n = loaded.secrets.remove(scope).map_or(0, |m| m.len());
        loaded.dirty |= n > 0;
        Ok(n)
    }

    /// Removes the secrets of the instance `name` of `product` and of every
    /// plug from or to it; returns how many secrets were removed.
    pub fn remove_instance(&mut self, product: &str, name: &str) -> Result<usize, SecretsError> {
        if !self.path.exists() && self.loaded.get().is_none() {
            return Ok(0);
        }
        let own = SecretScope::instance(product, name);
        let loaded = self.loaded_mut()?;
        let doomed: Vec<SecretScope> = loaded
            .secrets
            .keys()
            .filter(|s| {
                **s == own || matches!(s, SecretScope::Plug { .. } if s.touches_instance(name))
            })
            .cloned()
            .collect();
        let mut n = 0;
        for scope in doomed {
            n += loaded.secrets.remove(&scope).map_or(0, |m| m.len());
        }
        loaded.dirty |= n > 0;
        Ok(n)
    }

    /// Decrypts the store (if it exists) and checks that it can be written
    /// back: call it before asking the user for a value, so a missing
    /// identity or recipient fails before anything is typed.
    pub fn check_writable(&self) -> Result<(), SecretsError> {
        let loaded = self.loaded()?;
        let recipients = Recipients::load(&self.project_dir)?;
        if recipients.is_empty() && loaded.passphrase.is_none() && self.config.passphrase.is_none()
        {
            return Err(SecretsError::NoRecipients {
                path: recipients.path().to_owned(),
            });
        }
        Ok(())
    }

    /// Writes the store back if anything changed: encrypted to the current
    /// recipients, replacing the file atomically. Refuses when the file
    /// changed on disk since it was read.
    pub fn save(&mut self) -> Result<(), SecretsError> {
        let Some(loaded) = self.loaded.get() else {
            return Ok(());
        };
        if !loaded.dirty {
            return Ok(());
        }
        let recipients = Recipients::load(&self.project_dir)?;
        let written = self.write(&recipients)?;
        if let Some(l) = self.loaded.get_mut() {
            l.dirty = false;
            l.fingerprint = Some(written);
        }
        Ok(())
    }

    /// Adds `key` to `secrets.recipients` and re-encrypts the store to the
    /// new list. `false` when it was already there (nothing written).
    pub fn add_recipient(
        &mut self,
        key: x25519::Recipient,
        label: Option<&str>,
    ) -> Result<bool, SecretsError> {
        let mut recipients = Recipients::load(&self.project_dir)?;
        if recipients.contains(&key) {
            return Ok(false);
        }
        self.loaded()?; // decrypt first: a store we cannot read is left alone
        recipients.add(key, label);
        self.rekey(&recipients)?;
        Ok(true)
    }

    /// Removes `key` from `secrets.recipients` and re-encrypts the store to
    /// the others. Refuses to remove the last one while secrets exist.
    pub fn remove_recipient(&mut self, key: &x25519::Recipient) -> Result<bool, SecretsError> {
        let mut recipients = Recipients::load(&self.project_dir)?;
        if !recipients.contains(key) {
            return Ok(false);
        }
        self.loaded()?;
        recipients.remove(key);
        if recipients.is_empty() && self.path.exists() && self.config.passphrase.is_none() {
            return Err(SecretsError::Input(format!(
                "`{key}` is the last recipient of `{}`: removing it would leave nobody able to \
                 read it; add another recipient first",
                self.path.display()
            )));
        }
        self.rekey(&recipients)?;
        Ok(true)
    }

    /// Encrypts the store to `recipients`, then saves `recipients`.
    fn rekey(&mut self, recipients: &Recipients) -> Result<(), SecretsError> {
        if self.path.exists() || self.loaded.get().is_some_and(|l| l.dirty) {
            let written = self.write(recipients)?;
            if let Some(l) = self.loaded.get_mut() {
                l.dirty = false;
                l.fingerprint = Some(written);
            }
        }
        recipients.save()
    }

    /// Encrypts and writes the file; returns the fingerprint of what was written.
    fn write(&self, recipients: &Recipients) -> Result<[u8; 32], SecretsError> {
        let loaded = self.loaded()?;
        let current = read_optional(&self.path)?;
        if current.as_deref().map(fingerprint) != loaded.fingerprint {
            return Err(SecretsError::ChangedOnDisk {
                path: self.path.clone(),
            });
        }
        let keys = recipients.keys();
        let encryptor = if !keys.is_empty() {
            if loaded.passphrase.is_some() {
                tracing::warn!(
                    "`{}` was protected by a passphrase; it is now encrypted to the recipients in `{}` instead",
                    self.path.display(),
                    recipients.path().display()
                );
            }
            if !loaded.own_keys.is_empty() && !loaded.own_keys.iter().any(|k| keys.contains(k)) {
                tracing::warn!(
                    "none of your identities is a recipient of `{}`: you will not be able to read it back",
                    self.path.display()
                );
            }
            age::Encryptor::with_recipients(keys.iter().map(|k| k as &dyn age::Recipient))
                .map_err(|e| SecretsError::Encrypt(e.to_string()))?
        } else if let Some(p) = loaded
            .passphrase
            .clone()
            .or_else(|| self.config.passphrase.clone())
        {
            let mut recipient = age::scrypt::Recipient::new(p);
            // The reference age CLI's fixed work factor, rather than one
            // calibrated on a machine that may be busy right now.
            recipient.set_work_factor(SCRYPT_LOG_N);
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| SecretsError::Encrypt(e.to_string()))?
        } else {
            return Err(SecretsError::NoRecipients {
                path: recipients.path().to_owned(),
            });
        };
        let plaintext = document::to_plaintext(&loaded.secrets);
        let ciphertext = encrypt(encryptor, &plaintext)
            .map_err(|e| SecretsError::io("encrypt", &self.path, e))?;
        crate::fsutil::write_atomic(&self.path, &ciphertext)
            .map_err(|e| SecretsError::io("write", &self.path, e))?;
        tracing::debug!(
            path = %self.path.display(),
            scopes = loaded.secrets.len(),
            recipients = keys.len(),
            "secrets store written"
        );
        Ok(fingerprint(&ciphertext))
    }

    fn loaded(&self) -> Result<&Loaded, SecretsError> {
        if let Some(l) = self.loaded.get() {
            return Ok(l);
        }
        let l = self.load()?;
        // Another thread may have loaded it meanwhile: either copy is the file.
        let _ = self.loaded.set(l);
        self.loaded
            .get()
            .ok_or_else(|| SecretsError::Input("secrets store not loaded".into()))
    }

    fn loaded_mut(&mut self) -> Result<&mut Loaded, SecretsError> {
        self.loaded()?;
        self.loaded
            .get_mut()
            .ok_or_else(|| SecretsError::Input("secrets store not loaded".into()))
    }

    /// Reads and decrypts the file. Never writes anything.
    fn load(&self) -> Result<Loaded, SecretsError> {
        let Some(bytes) = read_optional(&self.path)? else {
            return Ok(Loaded {
                secrets: Secrets::new(),
                fingerprint: None,
                passphrase: None,
                own_keys: Vec::new(),
                dirty: false,
            });
        };
        let corrupted = |reason: String| SecretsError::Corrupted {
            path: self.path.clone(),
            file: STORE_FILE.to_owned(),
            reason,
        };
        let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(&bytes[..]))
            .map_err(|e| corrupted(format!("not a readable age file: {e}")))?;
        let mut passphrase = None;
        let mut own_keys = Vec::new();
        let reader = if decryptor.is_scrypt() {
            let (pass, source) = self.config.passphrase_for(&self.path)?;
            let mut identity = age::scrypt::Identity::new(pass.clone());
            // Accept what age/rage write (2^18…2^20) even when a busy machine
            // calibrates low; 2^20 is 1 GiB of scrypt memory, the cap.
            identity.set_max_work_factor(SCRYPT_MAX_LOG_N);
            let reader = decryptor
                .decrypt(std::iter::once(&identity as &dyn age::Identity))
                .map_err(|e| match e {
                    age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                        SecretsError::WrongPassphrase {
                            path: self.path.clone(),
                            source_name: source.clone(),
                        }
                    }
                    other => corrupted(other.to_string()),
                })?;
            passphrase = Some(pass);
            reader
        } else {
            let ring = Keyring::load(&self.config)?;
            if ring.is_empty() {
                return Err(SecretsError::NoIdentity {
                    path: self.path.clone(),
                });
            }
            own_keys = ring.public_keys();
            decryptor
                .decrypt(ring.identities().iter().map(|i| i as &dyn age::Identity))
                .map_err(|e| match e {
                    age::DecryptError::NoMatchingKeys => SecretsError::NotARecipient {
                        path: self.path.clone(),
                        sources: ring.sources(),
                        public_keys: own_keys
                            .iter()
                            .map(|k| k.to_string())
                            .collect::<Vec<_>>()
                            .join(" "),
                    },
                    other => corrupted(other.to_string()),
                })?
        };
        let plaintext = read_all(reader, bytes.len())
            .map_err(|e| corrupted(format!("decryption failed: {e}")))?;
        let secrets = document::from_plaintext(&plaintext).map_err(|e| match e {
            DocumentError::NewerVersion(version) => SecretsError::NewerFormat {
                path: self.path.clone(),
                version,
            },
            DocumentError::Invalid(reason) => corrupted(reason),
        })?;
        tracing::debug!(path = %self.path.display(), scopes = secrets.len(), "secrets store decrypted");
        Ok(Loaded {
            secrets,
            fingerprint: Some(fingerprint(&bytes)),
            passphrase,
            own_keys,
            dirty: false,
        })
    }
}

/// Secret names: non-empty, printable, at most 256 bytes.
fn validate_name(name: &str) -> Result<(), SecretsError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > 256 {
        "it is longer than 256 bytes"
    } else if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        "it contains a space or a control character"
    } else {
        return Ok(());
    };
    Err(SecretsError::InvalidName {
        name: name.escape_debug().to_string(),
        reason: reason.into(),
    })
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, SecretsError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SecretsError::io("read", path, e)),
    }
}

fn fingerprint(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Reads the whole plaintext into a wiped-on-drop buffer, sized from the
/// ciphertext (an upper bound) so it never reallocates.
fn read_all(mut reader: impl Read, upper_bound: usize) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(upper_bound + 1));
    reader.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Encrypts `plaintext`, ASCII-armored (a text file that diffs and merges
/// cleanly in git; `age -d` reads it as is).
fn encrypt(encryptor: age::Encryptor, plaintext: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(plaintext.len() * 2 + 1024);
    let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor)?;
    let mut writer = encryptor.wrap_output(armor)?;
    writer.write_all(plaintext)?;
    writer.finish()?.finish()?;
    Ok(out)
}

/// Names only, grouped by scope (handy for listings).
pub fn group_names(entries: &[(SecretScope, String)]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (scope, name) in entries {
        out.entry(scope.to_string()).or_default().push(name.clone());
    }
    out
}

/// The engine shares one store between concurrent hooks.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<SecretStore>();
};

#[cfg(test)]
mod tests {
    use age::secrecy::ExposeSecret;

    use super::*;

    fn key_config(id: &x25519::Identity) -> IdentityConfig {
        IdentityConfig {
            identity: Some(SecretString::from(
                id.to_string().expose_secret().to_owned(),
            )),
            ..Default::default()
        }
    }

    fn project_with(ids: &[&x25519::Identity]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recipients::load(dir.path()).unwrap();
        for id in ids {
            r.add(id.to_public(), None);
        }
        r.save().unwrap();
        dir
    }

    #[test]
    fn lazy_empty_store_needs_no_identity() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::open_with(dir.path(), IdentityConfig::default());
        let scope = SecretScope::instance("p", "i");
        assert!(store.get(&scope, "x").unwrap().is_none());
        assert!(store.entries().unwrap().is_empty());
        assert!(!store.path().exists());
    }

    #[test]
    fn round_trip_one_recipient() {
        let alice = x25519::Identity::generate();
        let dir = project_with(&[&alice]);
        let scope = SecretScope::instance("sekoia", "siem1");
        let plug = SecretScope::plug("edr1", "siem1", "events", "push");
        let mut store = SecretStore::open_with(dir.path(), key_config(&alice));
        store.set(&scope, "api_key", "s3cr3t-value".into()).unwrap();
        store.set(&plug, "intake_key", "ik-123".into()).unwrap();
        store.save().unwrap();

        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(!text.contains("s3cr3t-value"));

        let mut again = SecretStore::open_with(dir.path(), key_config(&alice));
        let both = [plug.clone(), scope.clone()];
        assert_eq!(
            again.lookup(&both, "api_key").unwrap().unwrap().expose(),
            "s3cr3t-value"
        );
        assert_eq!(
            again.lookup(&both, "intake_key").unwrap().unwrap().expose(),
            "ik-123"
        );
        assert!(again.lookup(&both, "nothing").unwrap().is_none());
        assert_eq!(
            again.get(&scope, "api_key").unwrap().unwrap().expose(),
            "s3cr3t-value"
        );
        assert_eq!(again.names(&plug).unwrap(), vec!["intake_key".to_string()]);
        assert_eq!(again.remove_instance("sekoia", "siem1").unwrap(), 2);
        again.save().unwrap();
        let last = SecretStore::open_with(dir.path(), key_config(&alice));
        assert!(last.entries().unwrap().is_empty());
    }

    #[test]
    fn second_recipient_reads_after_add_not_after_remove() {
        let alice = x25519::Identity::generate();
        let bob = x25519::Identity::generate();
        let dir = project_with(&[&alice]);
        let scope = SecretScope::instance("p", "i");
        let mut store = SecretStore::open_with(dir.path(), key_config(&alice));
        store.set(&scope, "token", "tok".into()).unwrap();
        store.save().unwrap();

        let bob_store = SecretStore::open_with(dir.path(), key_config(&bob));
        let err = bob_store.get(&scope, "token").unwrap_err();
        assert!(matches!(err, SecretsError::NotARecipient { .. }), "{err}");
        assert!(err.to_string().contains(&bob.to_public().to_string()));

        let mut store = SecretStore::open_with(dir.path(), key_config(&alice));
        assert!(store.add_recipient(bob.to_public(), Some("bob")).unwrap());
        let bob_store = SecretStore::open_with(dir.path(), key_config(&bob));
        assert_eq!(
            bob_store.get(&scope, "token").unwrap().unwrap().expose(),
            "tok"
        );

        let mut store = SecretStore::open_with(dir.path(), key_config(&alice));
        assert!(store.remove_recipient(&bob.to_public()).unwrap());
        let bob_store = SecretStore::open_with(dir.path(), key_config(&bob));
        assert!(bob_store.get(&scope, "token").is_err());
        let mut store = SecretStore::open_with(dir.path(), key_config(&alice));
        assert_eq!(store.get(&scope, "token").unwrap().unwrap().expose(), "tok");
        let err = store.remove_recipient(&alice.to_public()).unwrap_err();
        assert!(err.to_string().contains("last recipient"), "{err}");
    }

    #[test]
    fn damaged_or_foreign_files_are_refused_and_left_untouched() {
        let alice = x25519::Identity::generate();
        let dir = project_with(&[&alice]);
        let scope = SecretScope::instance("p", "i");
        let mut store = SecretStore::open_with(dir.path(), key_config(&alice));
        store.set(&scope, "password", "pw".into()).unwrap();
        store.save().unwrap();
        let path = store.path().to_owned();
        let good = std::fs::read(&path).unwrap();

        let text = String::from_utf8(good.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let truncated = format!("{}\n", lines[..lines.len() - 2].join("\n"));
        let mut flipped = good.clone();
        let mid = flipped.len() / 2;
        flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("truncated", truncated.into_bytes()),
            ("half", good[..good.len() / 2].to_vec()),
            ("flipped", flipped),
            ("garbage", b"not an age file at all\n".to_vec()),
            ("empty", Vec::new()),
        ];
        for (what, bytes) in cases {
            std::fs::write(&path, &bytes).unwrap();
            let mut s = SecretStore::open_with(dir.path(), key_config(&alice));
            let err = s.set(&scope, "other", "x".into()).unwrap_err();
            assert!(
                matches!(err, SecretsError::Corrupted { .. }),
                "{what}: {err}"
            );
            assert!(s.save().is_ok(), "nothing loaded, nothing to write");
            assert_eq!(
                std::fs::read(&path).unwrap(),
                bytes,
                "{what}: file untouched"
            );
        }
    }

    #[test]
    fn refuses_to_overwrite_a_file_changed_meanwhile() {
        let alice = x25519::Identity::generate();
        let dir = project_with(&[&alice]);
        let scope = SecretScope::instance("p", "i");
        let mut a = SecretStore::open_with(dir.path(), key_config(&alice));
        a.set(&scope, "token", "one".into()).unwrap();
        a.save().unwrap();
        let mut b = SecretStore::open_with(dir.path(), key_config(&alice));
        b.set(&scope, "token", "two".into()).unwrap();
        a.set(&scope, "token", "three".into()).unwrap();
        a.save().unwrap();
        let err = b.save().unwrap_err();
        assert!(matches!(err, SecretsError::ChangedOnDisk { .. }), "{err}");
        let c = SecretStore::open_with(dir.path(), key_config(&alice));
        assert_eq!(c.get(&scope, "token").unwrap().unwrap().expose(), "three");
    }

    #[test]
    fn no_recipient_and_no_passphrase_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SecretStore::open_with(dir.path(), IdentityConfig::default());
        let err = store.check_writable().unwrap_err();
        assert!(matches!(err, SecretsError::NoRecipients { .. }), "{err}");
        store
            .set(&SecretScope::instance("p", "i"), "token", "t".into())
            .unwrap();
        assert!(store.save().is_err());
        assert!(!store.path().exists());
    }

    #[test]
    fn passphrase_store_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let config = |p: &str| IdentityConfig {
            passphrase: Some(SecretString::from(p.to_owned())),
            ..Default::default()
        };
        let scope = SecretScope::instance("p", "i");
        let mut store = SecretStore::open_with(dir.path(), config("correct horse"));
        store.set(&scope, "token", "tok".into()).unwrap();
        store.save().unwrap();
        let wrong = SecretStore::open_with(dir.path(), config("wrong"));
        let err = wrong.get(&scope, "token").unwrap_err();
        assert!(matches!(err, SecretsError::WrongPassphrase { .. }), "{err}");
        let none = SecretStore::open_with(dir.path(), IdentityConfig::default());
        let err = none.get(&scope, "token").unwrap_err();
        assert!(matches!(err, SecretsError::NoPassphrase { .. }), "{err}");
        let right = SecretStore::open_with(dir.path(), config("correct horse"));
        assert_eq!(right.get(&scope, "token").unwrap().unwrap().expose(), "tok");
    }
}
