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

    /// The secret `name` of `scope`, if set.
    pub fn get(
        &self,
        scope: &SecretScope,
        name: &str,
    ) -> Result<Option<&SecretValue>, SecretsError> {
        Ok(self.loaded()?.secrets.get(scope).and_then(|m| m.get(name)))
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
        self.write(&recipients)?;
        if let Some(l) = self.loaded.get_mut() {
            l.dirty = false;
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
            self.write(recipients)?;
            if let Some(l) = self.loaded.get_mut() {
                l.dirty = false;
            }
        }
        recipients.save()
    }

    fn write(&self, recipients: &Recipients) -> Result<(), SecretsError> {
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
            age::Encryptor::with_user_passphrase(p)
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
        Ok(())
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
            let identity = age::scrypt::Identity::new(pass.clone());
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
