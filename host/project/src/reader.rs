//! [`Reader`]: the project's folders and YAML documents as
//! [`Project::load`](super::Project::load) reads them, optionally through a
//! stat-validated cache of the previous load, so a command on a large
//! project that did not change costs one `stat` per file and folder instead
//! of reading and parsing every file.
//!
//! The cache lives in meshroom's cache folder
//! (`$MESHROOM_CACHE/projects/<hash of the project's path>/load-cache`), never
//! in the project: listing a project writes nothing into it, and a read-only
//! checkout works the same.
//!
//! The cache is only ever an optimisation, in the manner of git's index:
//! - a file or folder whose size, modification or change time, or inode
//!   differs from what was recorded is read again;
//! - one changed in the last [`RACY`] is never trusted (file times are
//!   coarse: a write right after a read could keep the same times);
//! - a missing, corrupt or older-format cache is ignored and rebuilt;
//! - failing to save it is logged at debug level, never an error.
//!
//! Deleting the cache folder at any time is safe.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use foldhash::HashMap as FastMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::{ProjectError, Result};

const CACHE_FILE: &str = "load-cache";
/// How many projects' caches are kept; the least recently saved go first.
const KEPT_PROJECTS: usize = 32;
/// The first bytes of the cache file: its format (3: entries sorted by
/// path), and the version of the meshroom that wrote it (whose document
/// types it holds).
const MAGIC: &str = concat!("meshroom load-cache 3 ", env!("CARGO_PKG_VERSION"), "\n");
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

/// What was read at a path; `S` is `&str` borrowed from the saved cache,
/// or `String` for what this load read anew (the same bytes once saved).
#[derive(Debug, Serialize, Deserialize)]
enum Body<S> {
    /// A folder's visible entries, sorted by name.
    Dir(Vec<(S, Kind)>),
    /// A document, as the JSON of the type it was parsed into.
    Doc(S),
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry<S> {
    stamp: Stamp,
    body: Body<S>,
}

impl Entry<String> {
    fn as_borrowed(&self) -> Entry<&str> {
        Entry {
            stamp: self.stamp,
            body: match &self.body {
                Body::Dir(list) => Body::Dir(list.iter().map(|(n, k)| (n.as_str(), *k)).collect()),
                Body::Doc(json) => Body::Doc(json.as_str()),
            },
        }
    }
}

/// The bytes of the cache the previous load saved; a [`Reader`] borrows
/// its entries from them instead of copying.
pub struct SavedCache {
    file: Option<PathBuf>,
    bytes: Vec<u8>,
}

impl SavedCache {
    /// Reads the cache of the project at `root` in meshroom's cache folder
    /// (empty when there is none, or no cache folder).
    pub fn read(root: &Path) -> SavedCache {
        Self::read_at(cache_file(root))
    }

    /// Reads the cache saved at `file`.
    fn read_at(file: Option<PathBuf>) -> SavedCache {
        let bytes = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .unwrap_or_default();
        SavedCache { file, bytes }
    }

    /// Its entries, in the order saved (by path); none when it is missing,
    /// of another format or corrupt.
    fn entries(&self) -> Vec<(&str, Entry<&str>)> {
        let Some(body) = self.bytes.strip_prefix(MAGIC.as_bytes()) else {
            return Vec::new();
        };
        postcard::from_bytes(body).unwrap_or_else(|e| {
            tracing::debug!("ignoring the project's load cache: {e}");
            Vec::new()
        })
    }
}

/// The cache during one load: the saved entries by path relative to the
/// root, each marked when this load used it, and what it read anew. Only
/// those two are saved.
struct Cache<'a> {
    /// The project root, which keys are relative to.
    root: PathBuf,
    file: Option<PathBuf>,
    /// Times at or after this are too recent to trust.
    trusted_before: (i64, i64),
    saved: FastMap<&'a str, Saved<'a>>,
    /// The saved paths in the order saved: sorted by path, so neighbours in
    /// the tree are neighbours here (see [`Reader::prefetch`]).
    order: Vec<&'a str>,
    fresh: Vec<(String, Entry<String>)>,
    /// Whether anything was read anew or found stale.
    changed: bool,
    /// Keep the entries this load did not read (a partial load): they are
    /// still valid for the next full one.
    keep_unread: bool,
    /// Paths answered from the cache, and read anew.
    hits: usize,
    misses: usize,
}

/// A saved entry during a load.
struct Saved<'a> {
    entry: Entry<&'a str>,
    /// Whether this load used it.
    used: bool,
    /// The stamp of its path taken ahead of the walk, in parallel (see
    /// [`Reader::prefetch`]); `Some(None)`: the path is gone.
    prefetched: Option<Option<Stamp>>,
}

/// Reads the project's folders and documents, through the cache or not.
pub struct Reader<'a> {
    cache: Option<Cache<'a>>,
}

impl<'a> Reader<'a> {
    /// Reads everything from disk; no cache.
    pub fn direct() -> Reader<'static> {
        Reader { cache: None }
    }

    /// Reads through `saved`, the cache of the project at `root`.
    pub fn cached(root: &Path, saved: &'a SavedCache) -> Reader<'a> {
        Self::cached_trusting(root, saved, RACY)
    }

    /// Reads through the cache, trusting times older than `racy`.
    fn cached_trusting(root: &Path, saved: &'a SavedCache, racy: Duration) -> Reader<'a> {
        let entries = saved.entries();
        let order = entries.iter().map(|(k, _)| *k).collect();
        let limit = SystemTime::now()
            .checked_sub(racy)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        Reader {
            cache: Some(Cache {
                root: root.to_path_buf(),
                file: saved.file.clone(),
                trusted_before: (limit.as_secs() as i64, i64::from(limit.subsec_nanos())),
                saved: entries
                    .into_iter()
                    .map(|(k, entry)| {
                        let saved = Saved {
                            entry,
                            used: false,
                            prefetched: None,
                        };
                        (k, saved)
                    })
                    .collect(),
                order,
                fresh: Vec::new(),
                changed: false,
                keep_unread: false,
                hits: 0,
                misses: 0,
            }),
        }
    }

    /// Takes the stamps of every saved path under one of `prefixes`
    /// (relative to the root, e.g. `instances/`) ahead of the walk, from a
    /// few threads at once: on a large project the load is mostly these
    /// `stat`s, one after another otherwise. A stamp taken here stands for
    /// the `stat` the walk would have made a moment later; a path that
    /// could not be stated is stated again when the walk reaches it.
    pub fn prefetch(&mut self, prefixes: &[&str]) {
        /// Below this, threads cost more than they save.
        const WORTH_IT: usize = 512;
        let Some(cache) = self.cache.as_mut() else {
            return;
        };
        // In path order, each thread a run of neighbouring paths: the
        // kernel's lookups of one folder's entries share its cached
        // dentries. In hash order, the whole load took a fifth more CPU.
        let keys: Vec<&'a str> = cache
            .order
            .iter()
            .copied()
            .filter(|k| prefixes.iter().any(|p| k.starts_with(p)))
            .collect();
        if keys.len() < WORTH_IT {
            return;
        }
        let threads = std::thread::available_parallelism()
            .map_or(2, std::num::NonZero::get)
            .clamp(2, 4);
        let root = &cache.root;
        let chunks: Vec<&[&'a str]> = keys.chunks(keys.len().div_ceil(threads)).collect();
        let stamps: Vec<Vec<Option<Option<Stamp>>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|k| stat(&root.join(k)).ok())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            // A thread that failed prefetches nothing of its chunk (an
            // empty list, so the others stay aligned with theirs).
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (chunk, stamps) in chunks.into_iter().zip(stamps) {
            for (key, stamp) in chunk.iter().zip(stamps) {
                if let Some(saved) = cache.saved.get_mut(key) {
                    saved.prefetched = stamp;
                }
            }
        }
    }

    /// The stamp of `path` (cache key `key`): prefetched, or stated now.
    fn stamp(&self, path: &Path, key: Option<&str>) -> Result<Option<Stamp>> {
        if let (Some(cache), Some(key)) = (&self.cache, key)
            && let Some(stamp) = cache.saved.get(key).and_then(|s| s.prefetched)
        {
            return Ok(stamp);
        }
        stat(path)
    }

    /// Keeps the saved entries this load does not read, for a load of part
    /// of the project.
    pub fn keeping_unread(mut self) -> Self {
        if let Some(cache) = &mut self.cache {
            cache.keep_unread = true;
        }
        self
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
        fn select<S: AsRef<str>>(
            dir: &Path,
            list: &[(S, Kind)],
            want: Kind,
            exts: &[&str],
        ) -> Vec<PathBuf> {
            list.iter()
                .filter(|(name, kind)| {
                    *kind == want
                        && (exts.is_empty()
                            || Path::new(name.as_ref())
                                .extension()
                                .is_some_and(|e| exts.iter().any(|x| e == *x)))
                })
                .map(|(n, _)| dir.join(n.as_ref()))
                .collect()
        }
        if self.cache.is_none() {
            return Ok(select(dir, &list_dir(dir)?, want, exts));
        }
        let key = self.key(dir);
        let Some(stamp) = self.stamp(dir, key)? else {
            return Ok(Vec::new());
        };
        if let Some(Body::Dir(list)) = self.hit(key, stamp) {
            return Ok(select(dir, list, want, exts));
        }
        let list = list_dir(dir)?;
        let out = select(dir, &list, want, exts);
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
        let key = self.key(path);
        let Some(stamp) = self.stamp(path, key)? else {
            return Ok(None);
        };
        if let Some(Body::Doc(json)) = self.hit(key, stamp)
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

    /// Reads `path` and turns its bytes into `T` with `parse` (which cannot
    /// fail: what it finds wrong is part of `T`), cached as documents are.
    pub fn read_parsed<T>(&mut self, path: &Path, parse: impl FnOnce(&[u8]) -> T) -> Result<T>
    where
        T: DeserializeOwned + Serialize,
    {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| ProjectError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        if self.cache.is_none() {
            return Ok(parse(&read(path)?));
        }
        let key = self.key(path);
        let stamp = self.stamp(path, key)?.ok_or_else(|| ProjectError::Read {
            path: path.to_path_buf(),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
        if let Some(Body::Doc(json)) = self.hit(key, stamp)
            && let Ok(value) = serde_json::from_str(json)
        {
            return Ok(value);
        }
        let value = parse(&read(path)?);
        if let Ok(json) = serde_json::to_string(&value) {
            self.record(key, stamp, Body::Doc(json));
        }
        Ok(value)
    }

    /// The cache key of `path`: relative to the root, UTF-8; `None` when
    /// not cached (no cache, or a path that is neither).
    fn key<'p>(&self, path: &'p Path) -> Option<&'p str> {
        // Paths are the root joined with names: comparing bytes is enough,
        // and much cheaper than comparing components.
        let root = self.cache.as_ref()?.root.as_os_str().as_encoded_bytes();
        let rel = path.as_os_str().as_encoded_bytes().strip_prefix(root)?;
        let rel = match rel {
            [] => rel,
            [b'/', rest @ ..] => rest,
            _ if root.ends_with(b"/") => rel,
            _ => return None,
        };
        std::str::from_utf8(rel).ok()
    }

    /// The saved entry at `key` if `stamp` still matches it and is old
    /// enough to trust; a stale one is dropped.
    fn hit(&mut self, key: Option<&str>, stamp: Stamp) -> Option<&Body<&'a str>> {
        let cache = self.cache.as_mut()?;
        let key = key?;
        let trusted = cache
            .saved
            .get(key)
            .is_some_and(|s| s.entry.stamp == stamp && stamp.older_than(cache.trusted_before));
        if !trusted {
            cache.changed |= cache.saved.remove(key).is_some();
            return None;
        }
        let saved = cache.saved.get_mut(key)?;
        saved.used = true;
        cache.hits += 1;
        Some(&saved.entry.body)
    }

    /// Records what was read at `key`, unless its times are too recent.
    fn record(&mut self, key: Option<&str>, stamp: Stamp, body: Body<String>) {
        let Some(cache) = self.cache.as_mut() else {
            return;
        };
        cache.changed = true;
        cache.misses += 1;
        if let Some(key) = key
            && stamp.older_than(cache.trusted_before)
        {
            cache.fresh.push((key.to_string(), Entry { stamp, body }));
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
        let keep = |used: bool| used || cache.keep_unread;
        let dropped = cache.saved.values().filter(|s| !keep(s.used)).count();
        if !cache.changed && dropped == 0 {
            return;
        }
        let fresh: Vec<(&str, Entry<&str>)> = cache
            .fresh
            .iter()
            .map(|(k, e)| (k.as_str(), e.as_borrowed()))
            .collect();
        let mut entries: Vec<(&str, &Entry<&str>)> = cache
            .saved
            .iter()
            .filter(|(_, s)| keep(s.used))
            .map(|(k, s)| (*k, &s.entry))
            .chain(fresh.iter().map(|(k, e)| (*k, e)))
            .collect();
        // Saved by path: the next load prefetches in this order.
        entries.sort_unstable_by_key(|(k, _)| *k);
        if let Some(file) = &cache.file
            && let Err(e) = save_cache(file, &entries)
        {
            tracing::debug!("cannot save `{}`: {e}", file.display());
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

/// `<cache folder>/projects/<sha256 of the canonical root, 16 hex>/load-cache`.
fn cache_file(root: &Path) -> Option<PathBuf> {
    use sha2::Digest as _;
    let root = std::fs::canonicalize(root).ok()?;
    let digest = sha2::Sha256::digest(root.as_os_str().as_encoded_bytes());
    let dir = meshroom_fsutil::default_cache_dir()?.join("projects");
    Some(dir.join(&hex::encode(digest)[..16]).join(CACHE_FILE))
}

fn save_cache(file: &Path, entries: &[(&str, &Entry<&str>)]) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    if !dir.is_dir() {
        std::fs::create_dir_all(dir)?;
        if let Some(projects) = dir.parent() {
            prune(projects);
        }
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

/// Keeps the [`KEPT_PROJECTS`] most recently saved project caches in
/// `projects` (temporary projects would otherwise pile up).
fn prune(projects: &Path) {
    let Ok(rd) = std::fs::read_dir(projects) else {
        return;
    };
    let mut dirs: Vec<(SystemTime, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let modified = e.path().join(CACHE_FILE).metadata().ok()?.modified().ok()?;
            Some((modified, e.path()))
        })
        .collect();
    if dirs.len() <= KEPT_PROJECTS {
        return;
    }
    dirs.sort();
    for (_, dir) in &dirs[..dirs.len() - KEPT_PROJECTS] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Project, Scope};

    /// A temp folder with a project (`project/`: two products, two
    /// instances, one plug) and where its cache goes (`cache/load-cache`).
    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let fixture = Fixture { dir };
            fixture.write(
                "products/siem/definition.yaml",
                "consumes:\n  events:\n    - mode: push\n",
            );
            fixture.write(
                "products/edr/definition.yaml",
                "produces:\n  events:\n    - mode: push\n",
            );
            fixture.write(
                "instances/edr/e1/config.yaml",
                "settings:\n  url: http://a\n",
            );
            fixture.write("instances/siem/s1/config.yaml", "");
            fixture.write(
                "instances/edr/e1/plugs/s1/events.yaml",
                "format: ocsf\nstatus: up\n",
            );
            fixture
        }

        fn root(&self) -> PathBuf {
            self.dir.path().join("project")
        }

        fn cache(&self) -> PathBuf {
            self.dir.path().join("cache/load-cache")
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.root().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        /// Loads through the cache trusting files older than `racy`;
        /// returns the project (or error) and (hits, misses).
        fn load_trusting(&self, racy: Duration) -> (Result<Project>, usize, usize) {
            let saved = SavedCache::read_at(Some(self.cache()));
            let mut reader = Reader::cached_trusting(&self.root(), &saved, racy);
            let project = Project::load_with(&mut reader, &self.root());
            let (hits, misses) = reader.cache.as_ref().map(|c| (c.hits, c.misses)).unwrap();
            reader.finish();
            (project, hits, misses)
        }

        /// Loads trusting every time already past.
        fn load(&self) -> (Project, usize, usize) {
            let (project, hits, misses) = self.load_trusting(Duration::ZERO);
            (project.unwrap(), hits, misses)
        }

        fn uncached(&self) -> String {
            summary(&Project::load_uncached(&self.root()).unwrap())
        }
    }

    fn summary(p: &Project) -> String {
        format!("{:?}\n{:?}\n{:?}", p.products(), p.instances(), p.plugs())
    }

    /// Every file under `dir`, relative.
    fn tree(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn an_unchanged_project_is_answered_from_the_cache_kept_outside_it() {
        let f = Fixture::new();
        let before = tree(&f.root());
        let (first, hits, misses) = f.load();
        assert_eq!(hits, 0);
        assert!(misses > 0);
        assert!(f.cache().is_file());
        assert_eq!(tree(&f.root()), before, "nothing written in the project");
        let (second, hits, misses) = f.load();
        assert!(hits > 0);
        assert_eq!(misses, 0, "everything from the cache");
        assert_eq!(summary(&first), summary(&second));
        assert_eq!(summary(&second), f.uncached());
    }

    #[test]
    fn a_products_only_load_keeps_what_it_did_not_read() {
        let f = Fixture::new();
        f.load();
        // Something for the partial load to save: an edited definition.
        f.write(
            "products/siem/definition.yaml",
            "consumes:\n  alerts:\n    - mode: push\n",
        );
        let saved = SavedCache::read_at(Some(f.cache()));
        let mut reader =
            Reader::cached_trusting(&f.root(), &saved, Duration::ZERO).keeping_unread();
        let p = Project::load_parts(&mut reader, &f.root(), &Scope::products()).unwrap();
        reader.finish();
        assert_eq!(p.products().len(), 2);
        assert!(p.instances().is_empty() && p.plugs().is_empty());
        let (p, hits, misses) = f.load();
        assert!(hits > 0);
        assert_eq!(misses, 0, "instances and plugs are still cached");
        assert_eq!(summary(&p), f.uncached());
    }

    impl Fixture {
        /// Loads `scope` through the cache; returns the project and (hits, misses).
        fn load_scope(&self, scope: &Scope) -> (Project, usize, usize) {
            let saved = SavedCache::read_at(Some(self.cache()));
            let mut reader =
                Reader::cached_trusting(&self.root(), &saved, Duration::ZERO).keeping_unread();
            let project = Project::load_parts(&mut reader, &self.root(), scope).unwrap();
            let (hits, misses) = reader.cache.as_ref().map(|c| (c.hits, c.misses)).unwrap();
            reader.finish();
            (project, hits, misses)
        }
    }

    #[test]
    fn scoped_loads_read_only_their_part_and_see_what_another_scope_left_changed() {
        let f = Fixture::new();
        f.write("instances/siem/s2/config.yaml", "");
        f.write("instances/siem/s2/plugs/e1/alerts.yaml", "format: ecs\n");
        f.load();
        // The mesh without products: no product file is even looked at.
        let (mesh, _, misses) = f.load_scope(&Scope::mesh());
        assert_eq!(misses, 0);
        assert!(mesh.products().is_empty());
        assert_eq!((mesh.instances().len(), mesh.plugs().len()), (3, 2));
        let err = mesh.product("siem").unwrap_err().to_string();
        assert!(err.contains("outside what this command loaded"), "{err}");
        // Around e1: e1, its plug's other end s1, and their products; not s2.
        let (around, _, _) = f.load_scope(&Scope::around(["e1"]));
        let names: Vec<&str> = around.instances().iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["e1", "s1"]);
        assert_eq!(around.plugs().len(), 1);
        let products: Vec<&str> = around.products().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(products, ["edr", "siem"]);
        assert!(around.plug_products(&around.plugs()[0]).is_ok());
        assert!(around.instance("nope", None).is_err());
        // A definition edited while only the mesh was read, then an
        // instance edited while only products were: each scope that reads
        // a changed file sees the change, and a full load sees both.
        f.write(
            "products/siem/definition.yaml",
            "consumes:\n  alerts:\n    - mode: push\n",
        );
        f.load_scope(&Scope::mesh());
        f.write(
            "instances/edr/e1/config.yaml",
            "settings:\n  url: http://b\n",
        );
        let (products, _, misses) = f.load_scope(&Scope::products());
        assert_eq!(misses, 1, "only the edited definition is read again");
        assert!(format!("{:?}", products.product("siem").unwrap()).contains("alerts"));
        let (around, _, misses) = f.load_scope(&Scope::around(["e1"]));
        assert_eq!(misses, 1, "only the edited config is read again");
        assert_eq!(
            around.instance("e1", None).unwrap().config.settings["url"],
            "http://b"
        );
        let (all, _, misses) = f.load();
        assert_eq!(misses, 0);
        assert_eq!(summary(&all), f.uncached());
    }

    #[test]
    fn edits_additions_and_removals_are_seen() {
        let f = Fixture::new();
        f.load();
        // Same size, new contents.
        f.write(
            "instances/edr/e1/plugs/s1/events.yaml",
            "format: json\nstatus: up\n",
        );
        std::fs::create_dir_all(f.root().join("instances/siem/s2")).unwrap();
        std::fs::remove_dir_all(f.root().join("products/siem")).unwrap();
        let (p, _, misses) = f.load();
        assert!(misses > 0);
        assert_eq!(p.plugs()[0].format.as_deref(), Some("json"));
        assert!(p.instances().iter().any(|i| i.name == "s2"));
        assert!(p.find_product("siem").is_none());
        assert_eq!(summary(&p), f.uncached());
    }

    #[test]
    fn python_hook_files_are_parsed_once_and_again_when_edited() {
        let f = Fixture::new();
        let hook = |topic: &str| {
            format!(
                "from meshroom.decorators import setup_consumer\n@setup_consumer('{topic}')\ndef a(): ...\n"
            )
        };
        f.write("products/siem/setup.py", &hook("events"));
        let (p, _, _) = f.load();
        assert_eq!(p.python_hooks()[0].topic.as_deref(), Some("events"));
        let (p, hits, misses) = f.load();
        assert!(hits > 0);
        assert_eq!(misses, 0, "the parsed hooks come from the cache");
        assert_eq!(p.python_hooks().len(), 1);
        // Same size, new contents.
        f.write("products/siem/setup.py", &hook("alerts"));
        let (p, _, misses) = f.load();
        assert!(misses > 0);
        assert_eq!(p.python_hooks()[0].topic.as_deref(), Some("alerts"));
        let uncached = Project::load_uncached(&f.root()).unwrap();
        assert_eq!(p.python_hooks(), uncached.python_hooks());
    }

    #[test]
    fn an_invalid_edit_is_an_error_not_the_cached_document() {
        let f = Fixture::new();
        f.load();
        f.write("instances/edr/e1/config.yaml", "settings: [unclosed\n");
        let (result, _, _) = f.load_trusting(Duration::ZERO);
        let err = result.unwrap_err();
        assert!(err.to_string().contains("config.yaml"), "{err}");
    }

    #[test]
    fn recent_files_are_never_trusted() {
        let f = Fixture::new();
        let (_, _, first) = f.load_trusting(RACY);
        let (_, hits, misses) = f.load_trusting(RACY);
        assert_eq!(
            (hits, misses),
            (0, first),
            "files younger than {RACY:?} are read again"
        );
    }

    #[test]
    fn a_corrupt_or_foreign_cache_is_ignored_and_rebuilt() {
        let f = Fixture::new();
        let expected = f.uncached();
        for junk in [
            b"garbage".to_vec(),
            format!("{MAGIC}\u{ff}\u{ff}\u{ff}").into_bytes(),
            b"meshroom load-cache 0 0.0.0\n".to_vec(),
        ] {
            std::fs::create_dir_all(f.cache().parent().unwrap()).unwrap();
            std::fs::write(f.cache(), &junk).unwrap();
            let (p, hits, _) = f.load();
            assert_eq!(hits, 0);
            assert_eq!(summary(&p), expected);
            assert!(
                std::fs::read(f.cache())
                    .unwrap()
                    .starts_with(MAGIC.as_bytes())
            );
        }
    }

    #[test]
    fn a_cache_that_cannot_be_saved_changes_nothing() {
        let f = Fixture::new();
        // `cache` is a file: the cache folder cannot be created.
        std::fs::write(f.dir.path().join("cache"), "not a folder").unwrap();
        let (p, _, _) = f.load();
        assert_eq!(p.plugs().len(), 1);
        let (_, hits, _) = f.load();
        assert_eq!(hits, 0);
    }

    #[test]
    fn projects_have_their_own_cache_and_old_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let projects = dir.path().join("projects");
        for i in 0..KEPT_PROJECTS + 3 {
            let file = projects.join(format!("p{i:02}")).join(CACHE_FILE);
            save_cache(&file, &[]).unwrap();
        }
        let left: Vec<_> = std::fs::read_dir(&projects).unwrap().collect();
        assert!(left.len() <= KEPT_PROJECTS + 1, "{} left", left.len());
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        assert_ne!(cache_file(a.path()), cache_file(b.path()));
    }
}
