//! Atomic file writes: a temporary file in the same folder, then a rename.

use std::io::Write as _;
use std::path::Path;

use crate::error::{RegistryError, Result};

/// Writes `bytes` to `path` so that readers see either the old file or the whole new one.
/// A new file is readable by all (0644): blobs, layouts and lockfiles hold no secret.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with_mode(path, bytes, 0o644)
}

/// Like [`write_atomic`] for a file only its owner may read (credentials): 0600
/// from its first byte to its rename.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with_mode(path, bytes, 0o600)
}

fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| RegistryError::io("create folder", dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| RegistryError::io("create a temporary file in", dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| RegistryError::io("set permissions of", tmp.path(), e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| RegistryError::io("write", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| RegistryError::io("write", path, e.error))?;
    Ok(())
}

/// Reads a file, `Ok(None)` if it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RegistryError::io("read", path, e)),
    }
}
