//! [`Reader`]: the project's folders and YAML documents as
//! [`Project::load`](super::Project::load) reads them, optionally through a
//! stat-validated cache of the previous load (`.meshroom/load-cache`), so a
//! command on a large project that did not change costs one `stat` per file
//! and folder instead of reading and parsing every file.
//!
//! The cache is only ever an optimisation, in the manner of git's index:
//! - a file or folder whose size, modification or change time, or inode
//!   differs from what was recorded is read again;
//! - one changed in the last [`RACY`] is never trusted (file times are
//!   coarse: a write right after a read could keep the same times);
//! - a missing, corrupt or older-format cache is ignored and rebuilt;
//! - failing to save it is logged at debug level, never an error.
//!
//! Deleting `.meshroom/` at any time is safe.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::{ProjectError, Result};

/// Where the cache lives, relative to the project root (ignored by git).
pub const CACHE_DIR: &str = ".meshroom";
const CACHE_FILE: &str = "load-cache";
/// The first bytes of the cache file: its format, and the version of the
/// meshroom that wrote it (whose document types it holds).
const MAGIC: &str = concat!("meshroom load-cache 1 ", env!("CARGO_PKG_VERSION"), "\n");
/// How old a file's times must be for the cache to trust them.
pub const RACY: Duration = Duration::from_secs(2);

/// What an entry of a folder is (links are followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Kind {
    Dir,
    File,
}

/// What identifies a version of a file or folder without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt as _;
        Stamp {
            size: meta.size(),
            ino: meta.ino(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    #[cfg(not(unix))]
    fn of(meta: &std::fs::Metadata) -> Stamp {
        let ns = |t: std::io::Result<SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or((0, 0), |d| {
                    (d.as_secs() as i64, i64::from(d.subsec_nanos()))
                })
        };
        Stamp {
            size: meta.len(),
            ino: 0,
            mtime: ns(meta.modified()),
            ctime: ns(meta.created()),
        }
    }

    /// Whether both times are before `limit` (seconds, nanoseconds).
    fn older_than(&self, limit: (i64, i64)) -> bool {
        self.mtime < limit && self.ctime < limit
    }
}

/// What was read at a path.
#[derive(Debug, Serialize, Deserialize)]
enum Body {
    /// A folder's visible entries, sorted by name.
    Dir(Vec<(String, Kind)>),
    /// A document, as the JSON of the type it was parsed into.
    Doc(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    body: Body,
}

/// The cache during one load: entries by path relative to the root, each
/// marked when this load used it (only those are saved).
struct Cache {
    file: PathBuf,
    /// Times at or after this are too recent to trust.
    trusted_before: (i64, i64),
    entries: HashMap<String, (Entry, bool)>,
    /// Whether anything was read anew or found stale.
    changed: bool,
    /// Paths answered from the cache, and read anew.
    hits: usize,
    misses: usize,
}

/// Reads the project's folders and documents, through the cache or not.
pub struct Reader {
    root: PathBuf,
    cache: Option<Cache>,
}

impl Reader {
    /// Reads everything from disk; no cache.
    pub fn direct() -> Reader {
        Reader {
            root: PathBuf::new(),
            cache: None,
        }
    }

    /// Reads through the cache of the project at `root`.
    pub fn cached(root: &Path) -> Reader {
        Self::cached_trusting(root, RACY)
    }

    /// Reads through the cache, trusting times older than `racy`.
    fn cached_trusting(root: &Path, racy: Duration) -> Reader {
        let file = root.join(CACHE_DIR).join(CACHE_FILE);
        let entries = load_cache(&file).unwrap_or_default();
        let limit = SystemTime::now()
            .checked_sub(racy)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        Reader {
            root: root.to_path_buf(),
            cache: Some(Cache {
                file,
                trusted_before: (limit.as_secs() as i64, i64::from(limit.subsec_nanos())),
                entries,
                changed: false,
                hits: 0,
                misses: 0,
            }),
        }
    }

    /// Sub-folders of `dir`, sorted, hidden ones skipped; a missing `dir` is empty.
    pub fn sub_dirs(&mut self, dir: &Path) -> Result<Vec<PathBuf>> {
        self.entries(dir, Kind::Dir, &[])
    }

    /// Files of `dir` with one of `exts` (any when empty), sorted, hidden
    /// ones skipped; a missing `dir` is empty.
    pub fn files(&mut self, dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
        self.entries(dir, Kind::File, exts)
    }

    fn entries(&mut self, dir: &Path, want: Kind, exts: &[&str]) -> Result<Vec<PathBuf>> {
        let wanted = |(name, kind): &(String, Kind)| {
            *kind == want
                && (exts.is_empty()
                    || Path::new(name)
                        .extension()
                        .is_some_and(|e| exts.iter().any(|x| e == *x)))
        };
        let select = |list: &[(String, Kind)]| {
            list.iter()
                .filter(|e| wanted(e))
                .map(|(n, _)| dir.join(n))
                .collect()
        };
        if self.cache.is_none() {
            return Ok(select(&list_dir(dir)?));
        }
        let Some(stamp) = stat(dir)? else {
            return Ok(Vec::new());
        };
        let key = self.key(dir);
        if let Some(Body::Dir(list)) = self.hit(key.as_deref(), stamp) {
            return Ok(select(list));
        }
        let list = list_dir(dir)?;
        let out = select(&list);
        self.record(key, stamp, Body::Dir(list));
        Ok(out)
    }

    /// Reads and parses `path`; an empty file is the type's default.
    pub fn read<T>(&mut self, path: &Path) -> Result<T>
    where
        T: DeserializeOwned + Serialize + Default,
    {
        self.read_optional(path)?.ok_or_else(|| ProjectError::Read {
            path: path.to_path_buf(),
            source: std::io::ErrorKind::NotFound.into(),
        })
    }

    /// Like [`Self::read`], but a missing file is `None`.
    pub fn read_optional<T>(&mut self, path: &Path) -> Result<Option<T>>
    where
        T: DeserializeOwned + Serialize + Default,
    {
        if self.cache.is_none() {
            return super::yaml::read_optional(path);
        }
        let Some(stamp) = stat(path)? else {
            return Ok(None);
        };
        let key = self.key(path);
        if let Some(Body::Doc(json)) = self.hit(key.as_deref(), stamp)
            && let Ok(value) = serde_json::from_str(json)
        {
            return Ok(Some(value));
        }
        let Some(value) = super::yaml::read_optional::<T>(path)? else {
            return Ok(None);
        };
        if let Ok(json) = serde_json::to_string(&value) {
            self.record(key, stamp, Body::Doc(json));
        }
        Ok(Some(value))
    }

    /// The cache key of `path`: relative to the root, UTF-8; `None` when
    /// not cached (no cache, or a path that is neither).
    fn key(&self, path: &Path) -> Option<String> {
        self.cache.as_ref()?;
        path.strip_prefix(&self.root)
            .ok()?
            .to_str()
            .map(str::to_string)
    }

    /// The cached entry at `key` if `stamp` still matches it and is old
    /// enough to trust; a stale one is dropped.
    fn hit(&mut self, key: Option<&str>, stamp: Stamp) -> Option<&Body> {
        let cache = self.cache.as_mut()?;
        let key = key?;
        let trusted = cache
            .entries
            .get(key)
            .is_some_and(|(e, _)| e.stamp == stamp && stamp.older_than(cache.trusted_before));
        if !trusted {
            cache.changed |= cache.entries.remove(key).is_some();
            return None;
        }
        let (entry, used) = cache.entries.get_mut(key)?;
        *used = true;
        cache.hits += 1;
        Some(&entry.body)
    }

    /// Records what was read at `key`, unless its times are too recent.
    fn record(&mut self, key: Option<String>, stamp: Stamp, body: Body) {
        let Some(cache) = self.cache.as_mut() else {
            return;
        };
        cache.changed = true;
        cache.misses += 1;
        if let Some(key) = key
            && stamp.older_than(cache.trusted_before)
        {
            cache.entries.insert(key, (Entry { stamp, body }, true));
        }
    }

    /// Saves the cache when this load read anything anew, found anything
    /// stale or left entries unused. Never fails: the cache is an
    /// optimisation.
    pub fn finish(self) {
        let Some(cache) = self.cache else {
            return;
        };
        tracing::debug!(
            "project load: {} paths from the cache, {} read anew",
            cache.hits,
            cache.misses
        );
        let used: Vec<(&String, &Entry)> = cache
            .entries
            .iter()
            .filter(|(_, (_, used))| *used)
            .map(|(k, (e, _))| (k, e))
            .collect();
        if !cache.changed && used.len() == cache.entries.len() {
            return;
        }
        if let Err(e) = save_cache(&cache.file, &used) {
            tracing::debug!("cannot save `{}`: {e}", cache.file.display());
        }
    }
}

/// The stamp of `path` (links followed); `None` when it does not exist.
fn stat(path: &Path) -> Result<Option<Stamp>> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some(Stamp::of(&meta))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ProjectError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The visible entries of `dir`, sorted; kinds from the directory entry,
/// links followed with one `stat`.
fn list_dir(dir: &Path) -> Result<Vec<(String, Kind)>> {
    let read_error = |source| ProjectError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(read_error(e)),
    };
    for entry in rd {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if let Some(kind) = kind_of(&entry) {
            out.push((name, kind));
        }
    }
    out.sort();
    Ok(out)
}

fn kind_of(entry: &std::fs::DirEntry) -> Option<Kind> {
    let ft = entry.file_type().ok()?;
    let (is_dir, is_file) = if ft.is_symlink() {
        let meta = std::fs::metadata(entry.path()).ok()?;
        (meta.is_dir(), meta.is_file())
    } else {
        (ft.is_dir(), ft.is_file())
    };
    match (is_dir, is_file) {
        (true, _) => Some(Kind::Dir),
        (_, true) => Some(Kind::File),
        _ => None,
    }
}

fn load_cache(file: &Path) -> Option<HashMap<String, (Entry, bool)>> {
    let bytes = std::fs::read(file).ok()?;
    let body = bytes.strip_prefix(MAGIC.as_bytes())?;
    match postcard::from_bytes::<Vec<(String, Entry)>>(body) {
        Ok(entries) => Some(entries.into_iter().map(|(k, e)| (k, (e, false))).collect()),
        Err(e) => {
            tracing::debug!("ignoring `{}`: {e}", file.display());
            None
        }
    }
}

fn save_cache(file: &Path, entries: &[(&String, &Entry)]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        // Projects written by the original do not ignore `.meshroom/`.
        crate::fsutil::write_atomic(&ignore, b"# meshroom's local cache: never committed\n*\n")?;
    }
    let mut bytes = MAGIC.as_bytes().to_vec();
    bytes.extend(postcard::to_allocvec(entries).map_err(std::io::Error::other)?);
    // Atomic, but not synced: a cache lost in a crash is rebuilt.
    let mut tmp = tempfile::Builder::new()
        .prefix(".meshroom-tmp-")
        .tempfile_in(dir)?;
    tmp.write_all(&bytes)?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::Project;

    /// A project with one product, one instance and one plug.
    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "products/siem/definition.yaml",
            "consumes:\n  events:\n    - mode: push\n",
        );
        write(
            "products/edr/definition.yaml",
            "produces:\n  events:\n    - mode: push\n",
        );
        write(
            "instances/edr/e1/config.yaml",
            "settings:\n  url: http://a\n",
        );
        write("instances/siem/s1/config.yaml", "");
        write(
            "instances/edr/e1/plugs/s1/events.yaml",
            "format: ocsf\nstatus: up\n",
        );
        dir
    }

    /// Loads through the cache, trusting every time already past; returns
    /// the project and (hits, misses).
    fn load(root: &Path) -> (Project, usize, usize) {
        let mut reader = Reader::cached_trusting(root, Duration::ZERO);
        let project = Project::load_with(&mut reader, root).unwrap();
        let (hits, misses) = reader.cache.as_ref().map(|c| (c.hits, c.misses)).unwrap();
        reader.finish();
        (project, hits, misses)
    }

    fn summary(p: &Project) -> String {
        format!("{:?}\n{:?}\n{:?}", p.products(), p.instances(), p.plugs())
    }

    #[test]
    fn an_unchanged_project_is_answered_from_the_cache() {
        let dir = project();
        let (first, hits, misses) = load(dir.path());
        assert_eq!(hits, 0);
        assert!(misses > 0);
        assert!(dir.path().join(".meshroom/load-cache").is_file());
        let ignore = std::fs::read_to_string(dir.path().join(".meshroom/.gitignore")).unwrap();
        assert!(ignore.lines().any(|l| l == "*"));
        let (second, hits, misses) = load(dir.path());
        assert!(hits > 0);
        assert_eq!(misses, 0, "everything from the cache");
        assert_eq!(summary(&first), summary(&second));
        assert_eq!(
            summary(&second),
            summary(&Project::load_uncached(dir.path()).unwrap())
        );
    }

    #[test]
    fn edits_additions_and_removals_are_seen() {
        let dir = project();
        let root = dir.path();
        load(root);
        // Same size, new contents.
        let plug = root.join("instances/edr/e1/plugs/s1/events.yaml");
        std::fs::write(&plug, "format: json\nstatus: up\n").unwrap();
        std::fs::create_dir_all(root.join("instances/siem/s2")).unwrap();
        std::fs::remove_dir_all(root.join("products/siem")).unwrap();
        let (p, _, misses) = load(root);
        assert!(misses > 0);
        assert_eq!(p.plugs()[0].format.as_deref(), Some("json"));
        assert!(p.instances().iter().any(|i| i.name == "s2"));
        assert!(p.find_product("siem").is_none());
        assert_eq!(summary(&p), summary(&Project::load_uncached(root).unwrap()));
    }

    #[test]
    fn an_invalid_edit_is_an_error_not_the_cached_document() {
        let dir = project();
        load(dir.path());
        std::fs::write(
            dir.path().join("instances/edr/e1/config.yaml"),
            "settings: [unclosed\n",
        )
        .unwrap();
        let mut reader = Reader::cached_trusting(dir.path(), Duration::ZERO);
        let err = Project::load_with(&mut reader, dir.path()).unwrap_err();
        assert!(err.to_string().contains("config.yaml"), "{err}");
    }

    #[test]
    fn recent_files_are_never_trusted() {
        let dir = project();
        let load_racy = || {
            let mut reader = Reader::cached(dir.path());
            Project::load_with(&mut reader, dir.path()).unwrap();
            let misses = reader.cache.as_ref().unwrap().misses;
            reader.finish();
            misses
        };
        let first = load_racy();
        assert_eq!(
            load_racy(),
            first,
            "files younger than {RACY:?} are read again"
        );
    }

    #[test]
    fn a_corrupt_or_foreign_cache_is_ignored_and_rebuilt() {
        let dir = project();
        let file = dir.path().join(".meshroom/load-cache");
        let expected = summary(&Project::load_uncached(dir.path()).unwrap());
        for junk in [
            b"garbage".to_vec(),
            format!("{MAGIC}\u{ff}\u{ff}\u{ff}").into_bytes(),
            b"meshroom load-cache 0 0.0.0\n".to_vec(),
        ] {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &junk).unwrap();
            let (p, hits, _) = load(dir.path());
            assert_eq!(hits, 0);
            assert_eq!(summary(&p), expected);
            assert!(std::fs::read(&file).unwrap().starts_with(MAGIC.as_bytes()));
        }
    }

    #[test]
    fn a_cache_that_cannot_be_saved_changes_nothing() {
        let dir = project();
        // `.meshroom` is a file: the cache folder cannot be created.
        std::fs::write(dir.path().join(".meshroom"), "not a folder").unwrap();
        let (p, _, _) = load(dir.path());
        assert_eq!(p.plugs().len(), 1);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".meshroom")).unwrap(),
            "not a folder"
        );
    }
}
