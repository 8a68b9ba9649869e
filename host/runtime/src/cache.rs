//! The on-disk cache of compiled components and of `describe()` answers,
//! keyed by the component's sha256 digest (and, for compiled code, a hash
//! of the engine's compatibility settings).
//!
//! Compiled artifacts are native code: they are written only by this host,
//! in a folder only the user can read or write (0700), through a temporary
//! file and a rename; a file that fails to load is recompiled and replaced.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::types::AdapterInfo;

/// The sha256 digest of component bytes, as `sha256:<hex>`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub use meshroom_fsutil::default_cache_dir;

/// The runtime's cache folders.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    compiled: PathBuf,
    describe: PathBuf,
    engine_hash: String,
}

impl Cache {
    pub fn new(root: &Path, engine_hash: String) -> Self {
        Cache {
            compiled: root.join("compiled"),
            describe: root.join("describe"),
            engine_hash,
        }
    }

    fn file_key(digest: &str) -> &str {
        digest.strip_prefix("sha256:").unwrap_or(digest)
    }

    /// Where the compiled artifact of `digest` lives.
    pub fn compiled_path(&self, digest: &str) -> PathBuf {
        self.compiled.join(format!(
            "{}-{}.cwasm",
            Self::file_key(digest),
            self.engine_hash
        ))
    }

    fn describe_path(&self, digest: &str) -> PathBuf {
        self.describe
            .join(format!("{}.json", Self::file_key(digest)))
    }

    /// The compiled artifact, if present in a folder only this user controls.
    pub fn compiled_if_trusted(&self, digest: &str) -> Option<PathBuf> {
        let path = self.compiled_path(digest);
        if !path.is_file() {
            return None;
        }
        match private_dir_ok(&self.compiled) {
            Ok(()) => Some(path),
            Err(why) => {
                tracing::warn!(dir = %self.compiled.display(), "not using the compiled cache: {why}");
                None
            }
        }
    }

    /// Stores a compiled artifact (best effort: a failure is logged).
    pub fn store_compiled(&self, digest: &str, bytes: &[u8]) {
        let path = self.compiled_path(digest);
        if let Err(e) = write_private(&self.compiled, &path, bytes) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the compiled cache");
        }
    }

    /// The cached `describe()` answer of `digest`.
    pub fn describe(&self, digest: &str) -> Option<AdapterInfo> {
        let text = std::fs::read(self.describe_path(digest)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Caches a `describe()` answer (best effort).
    pub fn store_describe(&self, digest: &str, info: &AdapterInfo) {
        let path = self.describe_path(digest);
        let result = serde_json::to_vec_pretty(info)
            .map_err(std::io::Error::other)
            .and_then(|bytes| write_private(&self.describe, &path, &bytes));
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the describe cache");
        }
    }
}

#[cfg(unix)]
fn set_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn set_private(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Writes `path` atomically inside `dir`, creating `dir` user-only.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if !dir.is_dir() {
        std::fs::create_dir_all(dir)?;
        set_private(dir)?;
    }
    // tempfile creates the file 0600.
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The folder must be ours and closed to group and others.
#[cfg(unix)]
fn private_dir_ok(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).map_err(|e| e.to_string())?;
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "mode {:o} lets other users in (expected 0700)",
            meta.mode() & 0o777
        ));
    }
    // A file we create is owned by us: compare owners.
    let probe = tempfile::Builder::new()
        .prefix(".owner-")
        .tempfile_in(dir)
        .map_err(|e| e.to_string())?;
    let me = probe.as_file().metadata().map_err(|e| e.to_string())?.uid();
    if meta.uid() != me {
        return Err("the folder belongs to another user".into());
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_dir_ok(_dir: &Path) -> Result<(), String> {
    Ok(())
}
