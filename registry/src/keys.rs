//! Signing keys: ECDSA P-256 key pairs in the formats cosign and OpenSSL read.
//!
//! - the private key is PEM PKCS#8 (`PRIVATE KEY`), or encrypted PKCS#8
//!   (`ENCRYPTED PRIVATE KEY`, PBES2: scrypt + AES-256-CBC) under a passphrase;
//! - the public key is PEM SPKI (`PUBLIC KEY`), as `cosign verify --key` takes it;
//! - a key's fingerprint is `sha256:` + the hex sha256 of its SPKI DER bytes.
//!
//! A passphrase is only ever taken as an argument of these functions: where it
//! comes from (stdin, an environment variable, a terminal) is the caller's business.

use std::path::{Path, PathBuf};

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use spki::{DecodePublicKey as _, EncodePublicKey as _};
use zeroize::Zeroizing;

use crate::digest::Digest;
use crate::error::{RegistryError, Result};

const ENCRYPTED_LABEL: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";

/// A private signing key (ECDSA P-256 with SHA-256).
#[derive(Clone)]
pub struct PrivateKey {
    key: SigningKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public", &self.public_key().fingerprint())
            .finish_non_exhaustive()
    }
}

/// A public verifying key (ECDSA P-256 with SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl PrivateKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        PrivateKey {
            key: SigningKey::random(&mut rand_core::OsRng),
        }
    }

    /// Whether PEM text is an encrypted private key (needs a passphrase).
    pub fn is_encrypted_pem(pem: &str) -> bool {
        pem.trim_start().starts_with(ENCRYPTED_LABEL)
    }

    /// Reads a PEM PKCS#8 private key; `passphrase` is needed when it is encrypted.
    /// `name` names the key in errors (a file or key name).
    pub fn from_pem(pem: &str, passphrase: Option<&[u8]>, name: &str) -> Result<Self> {
        let key = if Self::is_encrypted_pem(pem) {
            let Some(passphrase) = passphrase else {
                return Err(key_error(
                    name,
                    "it is encrypted: give its passphrase (MESHROOM_KEY_PASSPHRASE or --passphrase-stdin)",
                ));
            };
            SigningKey::from_pkcs8_encrypted_pem(pem, passphrase).map_err(|_| {
                key_error(
                    name,
                    "cannot decrypt it: wrong passphrase, or not an ECDSA P-256 key",
                )
            })?
        } else {
            SigningKey::from_pkcs8_pem(pem).map_err(|e| {
                key_error(
                    name,
                    &format!("not a PEM PKCS#8 ECDSA P-256 private key ({e})"),
                )
            })?
        };
        Ok(PrivateKey { key })
    }

    /// Reads a private key file.
    pub fn from_file(path: &Path, passphrase: Option<&[u8]>) -> Result<Self> {
        let pem = read_pem(path)?;
        Self::from_pem(&pem, passphrase, &path.display().to_string())
    }

    /// The PEM PKCS#8 text, encrypted when a non-empty passphrase is given.
    pub fn to_pem(&self, passphrase: Option<&[u8]>) -> Result<Zeroizing<String>> {
        let encoded = match passphrase.filter(|p| !p.is_empty()) {
            Some(passphrase) => {
                self.key
                    .to_pkcs8_encrypted_pem(&mut rand_core::OsRng, passphrase, LineEnding::LF)
            }
            None => self.key.to_pkcs8_pem(LineEnding::LF),
        };
        encoded.map_err(|e| key_error("new key", &format!("cannot encode it: {e}")))
    }

    /// Its public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: *self.key.verifying_key(),
        }
    }

    /// The ASN.1 DER ECDSA signature over SHA-256(`message`), base64 as cosign stores it.
    pub fn sign(&self, message: &[u8]) -> String {
        let signature: DerSignature = self.key.sign(message);
        base64_encode(signature.as_bytes())
    }
}

impl PublicKey {
    /// Reads a PEM SPKI public key (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str, name: &str) -> Result<Self> {
        let key = VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| {
            key_error(
                name,
                &format!("not a PEM ECDSA P-256 public key (`-----BEGIN PUBLIC KEY-----`): {e}"),
            )
        })?;
        Ok(PublicKey { key })
    }

    /// Reads a public key file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let pem = read_pem(path)?;
        Self::from_pem(&pem, &path.display().to_string())
    }

    /// The PEM SPKI text.
    pub fn to_pem(&self) -> Result<String> {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| key_error("public key", &format!("cannot encode it: {e}")))
    }

    /// `sha256:` + hex sha256 of the SPKI DER: how the lockfile and listings name the key.
    pub fn fingerprint(&self) -> Digest {
        match self.key.to_public_key_der() {
            Ok(der) => Digest::of(der.as_bytes()),
            // Encoding a valid point cannot fail; hash the SEC1 point if it ever does.
            Err(_) => Digest::of(&self.key.to_encoded_point(false).to_bytes()),
        }
    }

    /// Whether `signature` (base64 of an ASN.1 DER, or 64-byte raw, ECDSA signature) is
    /// this key's signature over SHA-256(`message`).
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Some(bytes) = base64_decode(signature) else {
            return false;
        };
        let parsed = Signature::from_der(&bytes).or_else(|_| Signature::from_slice(&bytes));
        parsed.is_ok_and(|s| self.key.verify(message, &s).is_ok())
    }
}

/// A key given by name in the key folder or as a path to a PEM file.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

/// One key pair of a [`KeyStore`], for listings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredKey {
    /// The key's name (its file stem).
    pub name: String,
    /// Fingerprint of the public key.
    pub fingerprint: String,
    /// Whether the private key is encrypted under a passphrase.
    pub encrypted: bool,
    /// The public key file (to hand to operators for their `trust.yaml`).
    pub public_key: PathBuf,
    /// The private key file.
    pub private_key: PathBuf,
}

/// Overrides the folder where `meshroom keys` keeps key pairs.
pub const KEYS_DIR_ENV: &str = "MESHROOM_KEYS_DIR";

impl KeyStore {
    /// The key folder at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        KeyStore { dir: dir.into() }
    }

    /// `$MESHROOM_KEYS_DIR`, else `<config dir>/meshroom/keys` (`~/.config/meshroom/keys`).
    pub fn from_env() -> Result<Self> {
        std::env::var_os(KEYS_DIR_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| dirs::config_dir().map(|d| d.join("meshroom").join("keys")))
            .map(KeyStore::new)
            .ok_or_else(|| RegistryError::Io {
                context: format!("no config folder for keys: set {KEYS_DIR_ENV} or HOME"),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `NAME.key` in the folder.
    pub fn private_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.key"))
    }

    /// `NAME.pub` in the folder.
    pub fn public_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pub"))
    }

    /// Writes a new key pair `NAME.key` (owner-only) and `NAME.pub`; refuses to
    /// overwrite an existing one.
    pub fn generate(&self, name: &str, passphrase: Option<&[u8]>) -> Result<StoredKey> {
        check_key_name(name)?;
        let (private, public) = (self.private_path(name), self.public_path(name));
        if private.exists() || public.exists() {
            return Err(key_error(
                name,
                &format!(
                    "a key of that name exists in `{}`; choose another name or remove it first",
                    self.dir.display()
                ),
            ));
        }
        let key = PrivateKey::generate();
        let pem = key.to_pem(passphrase)?;
        crate::fsutil::save_private(&private, pem.as_bytes())?;
        crate::fsutil::save(&public, key.public_key().to_pem()?.as_bytes())?;
        Ok(StoredKey {
            name: name.to_string(),
            fingerprint: key.public_key().fingerprint().to_string(),
            encrypted: passphrase.is_some_and(|p| !p.is_empty()),
            public_key: public,
            private_key: private,
        })
    }

    /// Every key pair of the folder, by name (a missing folder has none).
    pub fn list(&self) -> Result<Vec<StoredKey>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RegistryError::io("list", &self.dir, e)),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| RegistryError::io("list", &self.dir, e))?
                .path();
            if path.extension().and_then(|e| e.to_str()) != Some("pub") {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let public = PublicKey::from_file(&path)?;
            let private = self.private_path(name);
            let encrypted = std::fs::read_to_string(&private)
                .map(|pem| PrivateKey::is_encrypted_pem(&pem))
                .unwrap_or(false);
            keys.push(StoredKey {
                name: name.to_string(),
                fingerprint: public.fingerprint().to_string(),
                encrypted,
                public_key: path.clone(),
                private_key: private,
            });
        }
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(keys)
    }

    /// The private key file a `--key`/`--sign` argument names: a key of this folder by
    /// name, else a path to a PEM file.
    pub fn resolve_private(&self, key: &str) -> Result<PathBuf> {
        if check_key_name(key).is_ok() && self.private_path(key).is_file() {
            return Ok(self.private_path(key));
        }
        let path = PathBuf::from(key);
        if path.is_file() {
            return Ok(path);
        }
        Err(key_error(
            key,
            &format!(
                "no key of that name in `{}` and no such file; create one with `meshroom keys generate {key}` or give the path of a PEM private key",
                self.dir.display()
            ),
        ))
    }
}

fn check_key_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(key_error(
            name,
            "a key name is letters, digits, `-`, `_` and `.`, not starting with `.`",
        ))
    }
}

fn read_pem(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| RegistryError::io("read the key", path, e))
}

fn key_error(key: &str, reason: &str) -> RegistryError {
    RegistryError::Key {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_pem_round_trips() {
        let key = PrivateKey::generate();
        let signature = key.sign(b"payload");
        let public = PublicKey::from_pem(&key.public_key().to_pem().unwrap(), "k").unwrap();
        assert!(public.verifies(b"payload", &signature));
        assert!(!public.verifies(b"other", &signature));
        assert!(!public.verifies(b"payload", "not base64!"));
        assert!(
            !PrivateKey::generate()
                .public_key()
                .verifies(b"payload", &signature)
        );

        let plain = key.to_pem(None).unwrap();
        assert!(plain.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = PrivateKey::from_pem(&plain, None, "k").unwrap();
        assert_eq!(back.public_key(), key.public_key());
    }

    #[test]
    fn an_encrypted_key_needs_its_passphrase() {
        let key = PrivateKey::generate();
        let pem = key.to_pem(Some(b"s3cret")).unwrap();
        assert!(PrivateKey::is_encrypted_pem(&pem));
        let missing = PrivateKey::from_pem(&pem, None, "acme")
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("acme") && missing.contains("passphrase"),
            "{missing}"
        );
        let wrong = PrivateKey::from_pem(&pem, Some(b"nope"), "acme")
            .unwrap_err()
            .to_string();
        assert!(wrong.contains("wrong passphrase"), "{wrong}");
        let back = PrivateKey::from_pem(&pem, Some(b"s3cret"), "acme").unwrap();
        assert_eq!(back.public_key(), key.public_key());
    }

    #[test]
    fn the_store_generates_lists_and_refuses_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path().join("keys"));
        let made = store.generate("acme", None).unwrap();
        store.generate("acme-2", Some(b"pw")).unwrap();
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].fingerprint, made.fingerprint);
        assert!(!listed[0].encrypted && listed[1].encrypted);
        assert!(
            store
                .generate("acme", None)
                .unwrap_err()
                .to_string()
                .contains("exists")
        );
        assert!(store.generate("../x", None).is_err());
        assert_eq!(
            store.resolve_private("acme").unwrap(),
            store.private_path("acme")
        );
        assert!(
            store
                .resolve_private("nobody")
                .unwrap_err()
                .to_string()
                .contains("keys generate nobody")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(store.private_path("acme"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the private key is owner-only");
        }
    }
}
