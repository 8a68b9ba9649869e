//! File-system helpers: atomic writes (every file meshroom writes goes
//! through them, so a crash or a full disk never leaves a truncated file
//! behind; shared with the registry crate) and meshroom's cache folder.

use std::path::PathBuf;

pub use meshroom_registry::fsutil::{write_atomic, write_atomic_private};

/// The default cache folder: `$MESHROOM_CACHE`, else `~/.cache/meshroom`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("MESHROOM_CACHE").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|d| d.join("meshroom"))
}
