//! The content-addressed blob cache (`$MESHROOM_CACHE`, else `~/.cache/meshroom`).
//!
//! Blobs live in `blobs/sha256/<hex>`, written atomically, and are verified on every
//! read: a cache file that no longer hashes to its name is refused, never used.
//! Downloads stream into a temporary file beside them ([`BlobCache::writer`]) that
//! takes the blob's name only once its size and digest are right: a transfer cut
//! short leaves nothing behind.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

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

    /// Whether the blob is present and hashes to its digest, read in pieces (for
    /// large blobs that are not needed in memory); a digest error when tampered.
    pub fn verify_present(&self, digest: &Digest) -> Result<bool> {
        let path = self.blob_path(digest);
        let mut file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(RegistryError::io("read", &path, e)),
        };
        let mut hasher = Sha256::new();
        let mut buffer = vec![0; 256 << 10];
        loop {
            let n = file
                .read(&mut buffer)
                .map_err(|e| RegistryError::io("read", &path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        let actual = Digest::from_hasher(hasher);
        if &actual != digest {
            return Err(RegistryError::DigestMismatch {
                what: format!(
                    "cached blob `{}` (delete it to fetch it again)",
                    path.display()
                ),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(true)
    }

    /// A blob to be written in pieces: [`BlobWriter::finish`] puts it in the cache.
    pub(crate) fn writer(&self, digest: &Digest) -> Result<BlobWriter> {
        let path = self.blob_path(digest);
        let folder = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&folder).map_err(|e| RegistryError::io("create", &folder, e))?;
        let file = tempfile::Builder::new()
            .prefix(meshroom_fsutil::TEMP_PREFIX)
            .tempfile_in(&folder)
            .map_err(|e| RegistryError::io("create a temporary file in", &folder, e))?;
        Ok(BlobWriter {
            file,
            hasher: Sha256::new(),
            written: 0,
            digest: digest.clone(),
            path,
        })
    }

    /// Verifies `bytes` against `digest` and stores them atomically.
    pub fn put(&self, digest: &Digest, bytes: &[u8]) -> Result<PathBuf> {
        digest.verify(bytes, &format!("blob {digest} before caching"))?;
        let path = self.blob_path(digest);
        save(&path, bytes)?;
        Ok(path)
    }
}

/// A blob being downloaded: a temporary file in the cache, deleted when dropped
/// unfinished (a failed or retried transfer).
pub(crate) struct BlobWriter {
    file: tempfile::NamedTempFile,
    hasher: Sha256,
    written: u64,
    digest: Digest,
    path: PathBuf,
}

impl BlobWriter {
    /// Bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        self.file
            .write_all(bytes)
            .map_err(|e| RegistryError::io("write", self.file.path(), e))
    }

    /// Checks the digest of what was written (`what` names the blob in the
    /// error), flushes it to disk and gives it its name in the cache.
    pub(crate) fn finish(self, what: &str) -> Result<PathBuf> {
        let actual = Digest::from_hasher(self.hasher);
        if actual != self.digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("{what} ({} bytes received)", self.written),
                expected: self.digest.to_string(),
                actual: actual.to_string(),
            });
        }
        self.file
            .as_file()
            .sync_all()
            .map_err(|e| RegistryError::io("write", self.file.path(), e))?;
        meshroom_fsutil::fault::point("staged");
        self.file
            .persist(&self.path)
            .map_err(|e| RegistryError::io("write", &self.path, e.error))?;
        meshroom_fsutil::fault::point("renamed");
        Ok(self.path)
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
    fn a_writer_keeps_only_a_whole_blob() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path());
        let d = Digest::of(b"whole blob");
        let folder = cache.blob_path(&d).parent().unwrap().to_path_buf();
        let mut cut = cache.writer(&d).unwrap();
        cut.write(b"whole").unwrap();
        drop(cut);
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
        let mut wrong = cache.writer(&d).unwrap();
        wrong.write(b"whole blub").unwrap();
        let err = wrong.finish("blob x").unwrap_err().to_string();
        assert!(
            err.contains("digest mismatch for blob x (10 bytes received)"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
        let mut whole = cache.writer(&d).unwrap();
        whole.write(b"whole ").unwrap();
        whole.write(b"blob").unwrap();
        assert_eq!(whole.finish("blob x").unwrap(), cache.blob_path(&d));
        assert!(cache.verify_present(&d).unwrap());
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 1);
        std::fs::write(cache.blob_path(&d), b"whole blub").unwrap();
        assert!(cache.verify_present(&d).is_err());
        assert!(!cache.verify_present(&Digest::of(b"absent")).unwrap());
    }

    #[test]
    fn put_refuses_bytes_that_do_not_match() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path());
        assert!(cache.put(&Digest::of(b"a"), b"b").is_err());
        assert!(!cache.contains(&Digest::of(b"a")));
    }
}
