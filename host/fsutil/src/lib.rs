//! File-system helpers shared by meshroom's crates: atomic writes (every
//! file meshroom writes goes through them: a temporary file in the same
//! folder, flushed to disk, then renamed over the target, so a crash or a
//! full disk never leaves a truncated file behind), meshroom's cache
//! folder, and the one look at contents every YAML reader needs before
//! parsing: [`yaml_too_deep`].
//!
//! Otherwise it knows nothing of what the files hold. [`fault`] arms the
//! crash tests' kill points.

pub mod fault;

use std::io::Write;
use std::path::{Path, PathBuf};

/// How the temporary files of atomic writes begin: what
/// [`remove_stale_temps`] sweeps.
pub const TEMP_PREFIX: &str = ".meshroom-tmp-";

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
    let tmp = stage(path, contents, mode)?;
    tmp.as_file().sync_all()?;
    fault::point("staged");
    tmp.persist(path).map_err(|e| e.error)?;
    fault::point("renamed");
    Ok(())
}

/// When this process first wrote through this module: temporary files
/// older than this are not its own.
static STARTED: std::sync::LazyLock<std::time::SystemTime> =
    std::sync::LazyLock::new(std::time::SystemTime::now);

/// Removes the temporary files a killed writer left in `dir` (named like
/// ours, older than this process's first write). Only for folders no other
/// live process writes, e.g. a project's under its writer lock. Best effort:
/// what cannot be removed stays.
pub fn remove_stale_temps(dir: &Path) {
    let started = *STARTED;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < started);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes several files atomically, and durably as a group: each is
/// written to a temporary file beside its target; then every temporary
/// file is flushed to disk at once (concurrently, so the file system
/// commits them together rather than one by one), renamed over its
/// target, and every folder touched is flushed once. When this returns,
/// the files that report `Ok` are on disk; a crash before leaves each
/// target either as it was or whole. One result per file, in order.
pub fn write_atomic_batch(files: &[(PathBuf, Vec<u8>)]) -> Vec<std::io::Result<()>> {
    let staged: Vec<std::io::Result<tempfile::NamedTempFile>> = files
        .iter()
        .map(|(path, contents)| stage(path, contents, existing_mode(path).unwrap_or(0o644)))
        .collect();
    // Flush the data of every staged file, a few threads at once.
    let synced = flush_all(staged.iter().map(|s| s.as_ref().ok().map(|t| t.as_file())));
    let mut folders: Vec<&Path> = Vec::new();
    let mut results: Vec<std::io::Result<()>> = staged
        .into_iter()
        .zip(synced)
        .zip(files)
        .map(|((staged, synced), (path, _))| {
            let tmp = staged?;
            synced?;
            fault::point("staged");
            tmp.persist(path).map_err(|e| e.error)?;
            fault::point("renamed");
            if let Some(dir) = path.parent()
                && !folders.contains(&dir)
            {
                folders.push(dir);
            }
            Ok(())
        })
        .collect();
    // Then the renames: each folder once. A file whose folder could not
    // be flushed is written but not known to be durable: an error.
    let dirs: Vec<std::io::Result<std::fs::File>> =
        folders.iter().map(std::fs::File::open).collect();
    let flushed = flush_all(dirs.iter().map(|d| d.as_ref().ok()));
    for ((dir, flushed), opened) in folders.iter().zip(flushed).zip(&dirs) {
        let why = match (opened, &flushed) {
            (Err(e), _) | (Ok(_), Err(e)) => e.to_string(),
            _ => continue,
        };
        for ((path, _), result) in files.iter().zip(results.iter_mut()) {
            if result.is_ok() && path.parent() == Some(dir) {
                *result = Err(std::io::Error::other(format!(
                    "written, but its folder `{}` could not be flushed to disk: {why}",
                    dir.display()
                )));
            }
        }
    }
    results
}

/// A temporary file beside `path` holding `contents`, with `mode`, not yet
/// flushed. Creates missing parent folders.
fn stage(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<tempfile::NamedTempFile> {
    std::sync::LazyLock::force(&STARTED);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    // The temporary file is created 0600; widen it only when asked.
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    set_mode(tmp.as_file(), mode)?;
    tmp.write_all(contents)?;
    Ok(tmp)
}

/// `sync_all` on every file given, from a few threads (`None`: nothing to
/// flush, reported as an error).
fn flush_all<'a>(
    files: impl Iterator<Item = Option<&'a std::fs::File>>,
) -> Vec<std::io::Result<()>> {
    let files: Vec<Option<&std::fs::File>> = files.collect();
    let threads = files.len().clamp(1, 8);
    let per = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(per)
            .map(|chunk| {
                let n = chunk.len();
                let handle = scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|f| match f {
                            Some(f) => f.sync_all(),
                            None => Err(std::io::Error::other("not written")),
                        })
                        .collect::<Vec<_>>()
                });
                (n, handle)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(n, h)| {
                h.join().unwrap_or_else(|_| {
                    (0..n)
                        .map(|_| Err(std::io::Error::other("a flush thread panicked")))
                        .collect()
                })
            })
            .collect()
    })
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

    #[test]
    fn a_batch_writes_each_file_whole_and_fails_only_the_unwritable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("blocker"), b"a file, not a folder").unwrap();
        let files: Vec<(PathBuf, Vec<u8>)> = (0..20)
            .map(|i| {
                (
                    dir.path().join(format!("p{i}/q/plug.yaml")),
                    format!("state {i}").into_bytes(),
                )
            })
            .chain(std::iter::once((
                dir.path().join("blocker/x.yaml"),
                b"no".to_vec(),
            )))
            .collect();
        write_atomic(&files[3].0, b"old").unwrap();
        let results = write_atomic_batch(&files);
        assert_eq!(results.len(), 21);
        for (i, ((path, contents), result)) in files.iter().zip(&results).enumerate().take(20) {
            assert!(result.is_ok(), "{i}: {result:?}");
            assert_eq!(&std::fs::read(path).unwrap(), contents);
            let left = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
            assert_eq!(left, 1, "no temporary file left beside {}", path.display());
        }
        assert!(results[20].is_err());
    }

    #[test]
    fn only_a_dead_writers_temporary_files_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(&dir.path().join("kept.yaml"), b"x").unwrap();
        let old = dir.path().join(".meshroom-tmp-killed");
        let file = std::fs::File::create(&old).unwrap();
        file.set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        let ours = dir.path().join(".meshroom-tmp-ours");
        std::fs::write(&ours, b"in flight").unwrap();
        let theirs = dir.path().join("notes.txt");
        std::fs::File::create(&theirs)
            .unwrap()
            .set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        remove_stale_temps(dir.path());
        assert!(!old.exists());
        assert!(ours.exists(), "a file younger than this process is kept");
        assert!(theirs.exists(), "only our temporary files are touched");
        assert!(dir.path().join("kept.yaml").exists());
    }
}
