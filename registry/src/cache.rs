//! The content-addressed blob cache (`$MESHROOM_CACHE`, else `~/.cache/meshroom`).
//!
//! Blobs live in `blobs/sha256/<hex>`, written atomically, and are verified on every
//! read: a cache file that no longer hashes to its name is refused, never used.

use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::fsutil::{read_if_exists, save};

/// The environment variable naming the cache folder.
pub use meshroom_fsutil::CACHE_ENV;

/// A content-addressed store of blobs (manifests, configs, layers).
#[derive(Debug, Clone)]
pub struct BlobCache {
    root: PathBuf,
}

impl BlobCache {
    /// A cache rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        BlobCache { root: root.into() }
    }

    /// The user's cache: `$MESHROOM_CACHE`, else `~/.cache/meshroom` (the platform's cache folder).
    pub fn from_env() -> Result<Self> {
        let dir = meshroom_fsutil::default_cache_dir().ok_or_else(|| RegistryError::Io {
            context: format!("no cache folder: set {CACHE_ENV} or HOME"),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })?;
        Ok(BlobCache::new(dir))
    }

    /// The cache's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` is (or would be) stored.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join("sha256").join(digest.hex())
    }

    /// Whether a blob is present (not verified; [`BlobCache::get`] verifies).
    pub fn contains(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Reads and verifies a cached blob; `Ok(None)` when absent, a digest error when tampered.
    pub fn get(&self, digest: &Digest) -> Result<Option<Vec<u8>>> {
        let path = self.blob_path(digest);
        let Some(bytes) = read_if_exists(&path)? else {
            return Ok(None);
        };
        digest.verify(
            &bytes,
            &format!(
                "cached blob `{}` (delete it to fetch it again)",
                path.display()
            ),
        )?;
        Ok(Some(bytes))
    }

    /// Verifies `bytes` against `digest` and stores them atomically.
    pub fn put(&self, digest: &Digest, bytes: &[u8]) -> Result<PathBuf> {
        digest.verify(bytes, &format!("blob {digest} before caching"))?;
        let path = self.blob_path(digest);
        save(&path, bytes)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_then_get_round_trips_and_tampering_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path());
        let d = Digest::of(b"blob");
        assert_eq!(cache.get(&d).unwrap(), None);
        let path = cache.put(&d, b"blob").unwrap();
        assert!(path.ends_with(format!("blobs/sha256/{}", d.hex())));
        assert_eq!(cache.get(&d).unwrap().as_deref(), Some(&b"blob"[..]));
        std::fs::write(&path, b"blub").unwrap();
        let err = cache.get(&d).unwrap_err().to_string();
        assert!(err.contains("digest mismatch"), "{err}");
    }

    #[test]
    fn put_refuses_bytes_that_do_not_match() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path());
        assert!(cache.put(&Digest::of(b"a"), b"b").is_err());
        assert!(!cache.contains(&Digest::of(b"a")));
    }
}
