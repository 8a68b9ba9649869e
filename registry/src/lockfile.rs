//! `meshroom.lock`: which artifact (by digest) each pulled product resolved to.
//!
//! YAML, one entry per product, sorted by product name, written atomically:
//!
//! ```yaml
//! version: 1
//! products:
//! - product: crowdsec
//!   reference: 127.0.0.1:5000/acme/crowdsec:1.2.0
//!   manifest_digest: sha256:…
//!   component_digest: sha256:…
//!   wit_version: 0.1.0
//!   signature:                       # when the trust policy required one
//!     key: acme                      # the trust.yaml key that verified it
//!     key_fingerprint: sha256:…      # sha256 of that key's SPKI DER
//!     payload_digest: sha256:…       # the cosign simple-signing payload
//!     signature: MEUCIQ…             # its base64 signature
//! ```
//!
//! The signature is recorded so `up` re-checks it against the policy and the
//! cached payload with no registry request.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::fsutil::{read_if_exists, save};

/// The lockfile's name in a project folder.
pub const LOCKFILE_NAME: &str = "meshroom.lock";
const HEADER: &str = "# meshroom.lock: written by `meshroom pull`; do not edit by hand\n";

/// One locked product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedProduct {
    /// Product name (folder under `products/`).
    pub product: String,
    /// The reference as the user gave it (tag kept for `--outdated`).
    pub reference: String,
    /// The manifest digest the reference resolved to.
    pub manifest_digest: Digest,
    /// The adapter component's digest.
    pub component_digest: Digest,
    /// The `meshroom:adapter` WIT version the adapter targets, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wit_version: Option<String>,
    /// The signature that satisfied the trust policy when it was pulled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<LockedSignature>,
}

/// Which key's signature verified a locked manifest digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedSignature {
    /// The key's name in `trust.yaml` at pull time.
    pub key: String,
    /// `sha256:` of the key's SPKI DER (what identifies it).
    pub key_fingerprint: Digest,
    /// The digest of the signed simple-signing payload.
    pub payload_digest: Digest,
    /// The base64 signature of that payload.
    pub signature: String,
}

impl LockedProduct {
    /// How `meshroom list products` shows where the product comes from:
    /// `127.0.0.1:5000/acme/crowdsec:1.2.0 (sha256:0123456789ab)`.
    pub fn source_label(&self) -> String {
        format!(
            "{} (sha256:{})",
            self.reference,
            self.manifest_digest.short()
        )
    }
}

/// The whole lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    /// Format version (1).
    pub version: u32,
    /// Locked products, sorted by name.
    #[serde(default)]
    pub products: Vec<LockedProduct>,
}

impl Default for Lockfile {
    fn default() -> Self {
        Lockfile {
            version: 1,
            products: Vec::new(),
        }
    }
}

/// What [`Lockfile::record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockChange {
    /// The entry was already there, identical.
    Unchanged,
    /// A new product was added.
    Added,
    /// An existing product's entry changed.
    Updated,
}

impl Lockfile {
    /// The lockfile path of a project folder.
    pub fn path_in(project: &Path) -> PathBuf {
        project.join(LOCKFILE_NAME)
    }

    /// Loads a lockfile; a missing file is an empty lockfile.
    pub fn load(path: &Path) -> Result<Self> {
        let Some(bytes) = read_if_exists(path)? else {
            return Ok(Lockfile::default());
        };
        // Nesting is bounded before the parser sees it (found with its fuzz target:
        // 60 KB of `[` took minutes).
        if let Some((line, column)) = meshroom_fsutil::yaml_too_deep(&bytes) {
            return Err(RegistryError::Lockfile {
                path: path.to_path_buf(),
                reason: format!(
                    "line {line}, column {column}: nested more than {} levels deep (`[`, `{{`); not parsed",
                    meshroom_fsutil::MAX_YAML_FLOW_DEPTH
                ),
            });
        }
        let lock: Lockfile =
            serde_yaml_ng::from_slice(&bytes).map_err(|e| RegistryError::Lockfile {
                path: path.to_path_buf(),
                reason: match e.location() {
                    Some(l) => format!("line {}, column {}: {e}", l.line(), l.column()),
                    None => e.to_string(),
                },
            })?;
        if lock.version != 1 {
            return Err(RegistryError::Lockfile {
                path: path.to_path_buf(),
                reason: format!(
                    "unsupported version {} (this meshroom reads version 1)",
                    lock.version
                ),
            });
        }
        Ok(lock)
    }

    /// Saves atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let yaml = serde_yaml_ng::to_string(self).map_err(|e| RegistryError::Lockfile {
            path: path.to_path_buf(),
            reason: format!("cannot encode: {e}"),
        })?;
        save(path, format!("{HEADER}{yaml}").as_bytes())
    }

    /// The entry of `product`, if locked.
    pub fn get(&self, product: &str) -> Option<&LockedProduct> {
        self.products.iter().find(|p| p.product == product)
    }

    /// What recording `entry` would do, without doing it.
    pub fn change_for(&self, entry: &LockedProduct) -> LockChange {
        match self.get(&entry.product) {
            None => LockChange::Added,
            Some(existing) if existing == entry => LockChange::Unchanged,
            Some(_) => LockChange::Updated,
        }
    }

    /// Records `entry`; with `locked`, refuses any change instead.
    pub fn record(&mut self, entry: LockedProduct, locked: bool) -> Result<LockChange> {
        let change = self.change_for(&entry);
        if locked && change != LockChange::Unchanged {
            let detail = match self.get(&entry.product) {
                None => format!("product `{}` is not in the lockfile", entry.product),
                Some(old) => format!(
                    "product `{}` is locked to {} but `{}` now resolves to {}",
                    entry.product, old.manifest_digest, entry.reference, entry.manifest_digest
                ),
            };
            return Err(RegistryError::LockedChange(detail));
        }
        match self
            .products
            .iter_mut()
            .find(|p| p.product == entry.product)
        {
            Some(slot) => *slot = entry,
            None => self.products.push(entry),
        }
        self.products.sort_by(|a, b| a.product.cmp(&b.product));
        Ok(change)
    }

    /// Forgets `product`; true if it was locked.
    pub fn remove(&mut self, product: &str) -> bool {
        let before = self.products.len();
        self.products.retain(|p| p.product != product);
        before != self.products.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, content: &[u8]) -> LockedProduct {
        LockedProduct {
            product: name.into(),
            reference: format!("127.0.0.1:5000/acme/{name}:1.0"),
            manifest_digest: Digest::of(content),
            component_digest: Digest::of(b"c"),
            wit_version: Some("0.1.0".into()),
            signature: None,
        }
    }

    #[test]
    fn a_deeply_nested_lockfile_is_refused_before_parsing_with_its_place() {
        // Found with the fuzz target (fuzz/corpus/lockfile/deeply-nested.lock): 60 KB
        // of `[` kept the YAML parser busy for minutes.
        let dir = tempfile::tempdir().unwrap();
        let path = Lockfile::path_in(dir.path());
        std::fs::write(&path, format!("version: 1\nx: {}", "[".repeat(60_000))).unwrap();
        let started = std::time::Instant::now();
        let err = Lockfile::load(&path).unwrap_err().to_string();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(
            err.contains("line 2, column 68") && err.contains("64 levels"),
            "{err}"
        );
    }

    #[test]
    fn save_load_round_trip_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let path = Lockfile::path_in(dir.path());
        let mut lock = Lockfile::default();
        assert_eq!(
            lock.record(entry("zeek", b"1"), false).unwrap(),
            LockChange::Added
        );
        assert_eq!(
            lock.record(entry("crowdsec", b"1"), false).unwrap(),
            LockChange::Added
        );
        assert_eq!(
            lock.record(entry("crowdsec", b"1"), false).unwrap(),
            LockChange::Unchanged
        );
        lock.save(&path).unwrap();
        let loaded = Lockfile::load(&path).unwrap();
        assert_eq!(loaded, lock);
        assert_eq!(loaded.products[0].product, "crowdsec");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("manifest_digest: sha256:"), "{text}");
    }

    #[test]
    fn locked_refuses_changes_but_accepts_identical_entries() {
        let mut lock = Lockfile::default();
        lock.record(entry("crowdsec", b"1"), false).unwrap();
        assert_eq!(
            lock.record(entry("crowdsec", b"1"), true).unwrap(),
            LockChange::Unchanged
        );
        let err = lock
            .record(entry("crowdsec", b"2"), true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("locked to") && err.contains("--locked"),
            "{err}"
        );
        assert!(lock.record(entry("new", b"1"), true).is_err());
        assert_eq!(
            lock.get("crowdsec").unwrap().manifest_digest,
            Digest::of(b"1")
        );
    }

    #[test]
    fn a_broken_lockfile_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = Lockfile::path_in(dir.path());
        std::fs::write(
            &path,
            "version: 1\nproducts:\n- product: x\n  manifest_digest: nope\n",
        )
        .unwrap();
        let err = Lockfile::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("meshroom.lock") && err.contains("line"),
            "{err}"
        );
        assert_eq!(
            Lockfile::load(&dir.path().join("missing.lock")).unwrap(),
            Lockfile::default()
        );
    }
}
