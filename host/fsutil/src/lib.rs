//! File-system helpers shared by meshroom's crates: atomic writes (every
//! file meshroom writes goes through them: a temporary file in the same
//! folder, flushed to disk, then renamed over the target, so a crash or a
//! full disk never leaves a truncated file behind), meshroom's cache
//! folder, and the one look at contents every YAML reader needs before
//! parsing: [`yaml_too_deep`].
//!
//! Otherwise it knows nothing of what the files hold.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `contents` to `path` atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over `path`. Creates missing parent folders.
/// A replaced file keeps its permissions; a new one is readable by all (0644).
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mode = existing_mode(path).unwrap_or(0o644);
    write_with_mode(path, contents, mode)
}

/// Like [`write_atomic`], for files only their owner may read (keys,
/// credentials): the file is 0600 from its first byte to its rename.
pub fn write_atomic_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write_with_mode(path, contents, 0o600)
}

fn write_with_mode(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    // The temporary file is created 0600; widen it only when asked.
    let mut tmp = tempfile::Builder::new()
        .prefix(".meshroom-tmp-")
        .tempfile_in(dir)?;
    set_mode(tmp.as_file(), mode)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(unix)]
fn existing_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn existing_mode(_path: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &std::fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// The environment variable naming meshroom's cache folder.
pub const CACHE_ENV: &str = "MESHROOM_CACHE";

/// meshroom's cache folder: `$MESHROOM_CACHE`, else `~/.cache/meshroom` (the
/// platform's cache folder); `None` when neither is known.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|d| d.join("meshroom"))
}

/// Deepest flow nesting (`[`, `{`) meshroom parses in a YAML file. The
/// YAML parser takes minutes on a few hundred KB nested 200,000 deep (a
/// definition a vendor published, a cassette or lockfile pulled with a
/// product), and refuses past 128 levels anyway once it has parsed them.
pub const MAX_YAML_FLOW_DEPTH: usize = 64;

/// Where `text` first nests flow collections deeper than
/// [`MAX_YAML_FLOW_DEPTH`]: (line, column), both from 1; `None` when it does
/// not. One linear pass, to run before the parser. Brackets inside quotes and
/// comments count too: a YAML quote or comment cannot be told apart without
/// parsing, and an attacker's stray `'` must not hide what follows.
pub fn yaml_too_deep(text: &[u8]) -> Option<(usize, usize)> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    for &b in text {
        column += 1;
        match b {
            b'\n' => (line, column) = (line + 1, 0),
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_YAML_FLOW_DEPTH {
                    return Some((line, column));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file.yaml");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_0644_private_ones_0600_and_modes_are_kept() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let public = dir.path().join("README.md");
        write_atomic(&public, b"x").unwrap();
        assert_eq!(mode(&public), 0o644);
        let private = dir.path().join("identity.txt");
        write_atomic_private(&private, b"x").unwrap();
        assert_eq!(mode(&private), 0o600);
        write_atomic(&private, b"y").unwrap();
        assert_eq!(mode(&private), 0o600, "a replaced file keeps its mode");
    }
}
