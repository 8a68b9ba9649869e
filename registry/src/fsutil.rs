//! The registry's file I/O: [`meshroom_fsutil`]'s atomic writes, their
//! errors naming the file.

use std::path::Path;

pub use meshroom_fsutil::{write_atomic, write_atomic_private};

use crate::error::{RegistryError, Result};

/// [`write_atomic`], its error naming the file.
pub(crate) fn save(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, bytes).map_err(|e| RegistryError::io("write", path, e))
}

/// [`write_atomic_private`], its error naming the file.
pub(crate) fn save_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_private(path, bytes).map_err(|e| RegistryError::io("write", path, e))
}

/// Reads a file, `Ok(None)` if it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RegistryError::io("read", path, e)),
    }
}
