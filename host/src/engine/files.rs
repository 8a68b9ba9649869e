//! Writes files an adapter returned (scaffold and catalog pull hooks) below
//! one target folder, and nowhere else.
//!
//! The paths are untrusted: absolute paths, `..`, empty or odd components,
//! symbolic links on the way and files outside the target are refused
//! before anything is written; the number and size of files are bounded;
//! existing files are kept unless the caller forces. The write is
//! all-or-nothing: every file is first written into a staging folder next
//! to the target, then moved into place (an error while moving puts back
//! what was there).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Bounds on what one hook answer may write.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    /// Most files in one answer.
    pub max_files: usize,
    /// Largest single file, in bytes.
    pub max_file_bytes: usize,
    /// Largest total, in bytes.
    pub max_total_bytes: usize,
}

impl Default for FileLimits {
    fn default() -> Self {
        FileLimits {
            max_files: 256,
            max_file_bytes: 4 << 20,
            max_total_bytes: 16 << 20,
        }
    }
}

/// Why files were not written. Nothing was written when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A path is not a plain relative path below the target folder.
    #[error(
        "refused the path `{path}`: {reason} (only plain relative paths below `{target}` are written)"
    )]
    UnsafePath {
        /// The path as the adapter sent it (escaped).
        path: String,
        /// Why.
        reason: &'static str,
        /// The target folder.
        target: String,
    },
    /// A symbolic link (or a non-folder) is in the way.
    #[error("refused to write `{path}`: `{through}` is {what}")]
    InTheWay {
        /// The file to write.
        path: String,
        /// The offending existing path.
        through: String,
        /// What it is.
        what: &'static str,
    },
    /// Too many or too large files.
    #[error("refused the answer: {0}")]
    TooMuch(String),
    /// Files exist and the caller did not force.
    #[error("{} file(s) already exist: {}; pass `--force` to overwrite them", .0.len(), .0.join(", "))]
    Exists(Vec<String>),
    /// The file system failed.
    #[error("failed to write below `{target}`: {source}")]
    Io {
        /// The target folder.
        target: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A file to write, with its untrusted path (`/`-separated, relative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Path relative to the target folder, as the adapter sent it.
    pub path: String,
    /// Contents.
    pub contents: Vec<u8>,
}

/// What [`write_files`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriteReport {
    /// Files created (paths relative to the project root when the target is
    /// inside it, else absolute).
    pub created: Vec<String>,
    /// Files overwritten (with `force`).
    pub overwritten: Vec<String>,
    /// Files left as they were because they already had these contents.
    pub unchanged: Vec<String>,
}

/// A checked relative path: its plain components.
fn checked_path(raw: &str, target: &Path) -> Result<PathBuf, FileError> {
    let refuse = |reason| FileError::UnsafePath {
        path: raw.escape_default().to_string(),
        reason,
        target: target.display().to_string(),
    };
    if raw.is_empty() {
        return Err(refuse("it is empty"));
    }
    if raw.len() > 1024 {
        return Err(refuse("it is longer than 1024 bytes"));
    }
    if raw.chars().any(|c| c.is_control()) {
        return Err(refuse("it contains control characters"));
    }
    if raw.contains('\\') {
        return Err(refuse("it contains `\\` (use `/` separators)"));
    }
    if raw.starts_with('/') || raw.starts_with("~") || raw.as_bytes().get(1) == Some(&b':') {
        return Err(refuse("it is absolute"));
    }
    let mut out = PathBuf::new();
    for part in raw.split('/') {
        match part {
            "" => return Err(refuse("it has an empty component (`//` or a trailing `/`)")),
            "." => return Err(refuse("it has a `.` component")),
            ".." => return Err(refuse("it has a `..` component")),
            p if p.len() > 255 => return Err(refuse("a component is longer than 255 bytes")),
            p if p.starts_with(".meshroom-") => {
                return Err(refuse("names starting with `.meshroom-` are reserved"));
            }
            p => out.push(p),
        }
    }
    // Defence in depth: the result must be made of normal components only.
    if !out.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(refuse("it is not a plain relative path"));
    }
    Ok(out)
}

/// Refuses links and non-folders among the existing ancestors of `path`
/// (from `root`, excluded, down to `path`'s parent), and a `path` that is a
/// link or a folder.
fn check_way(root: &Path, relative: &Path) -> Result<bool, FileError> {
    let shown = || root.join(relative).display().to_string();
    let mut current = root.to_path_buf();
    let parts: Vec<_> = relative.components().collect();
    for (i, part) in parts.iter().enumerate() {
        current.push(part);
        let last = i + 1 == parts.len();
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(FileError::InTheWay {
                    path: shown(),
                    through: current.display().to_string(),
                    what: "a symbolic link",
                });
            }
            Ok(m) if !last && !m.is_dir() => {
                return Err(FileError::InTheWay {
                    path: shown(),
                    through: current.display().to_string(),
                    what: "not a folder",
                });
            }
            Ok(m) if last && !m.is_file() => {
                return Err(FileError::InTheWay {
                    path: shown(),
                    through: current.display().to_string(),
                    what: "not a regular file",
                });
            }
            Ok(_) if last => return Ok(true),
            Ok(_) => {}
            // Missing: nothing below can exist either.
            Err(_) => return Ok(false),
        }
    }
    Ok(false)
}

/// The deepest existing ancestor of `target` (itself included) below or at
/// `root`; every existing folder on the way from `root` must be a real
/// folder, not a link.
fn existing_base(root: &Path, target: &Path) -> Result<PathBuf, FileError> {
    let relative = target
        .strip_prefix(root)
        .map_err(|_| FileError::UnsafePath {
            path: target.display().to_string(),
            reason: "the target folder is outside the project",
            target: root.display().to_string(),
        })?;
    let mut current = root.to_path_buf();
    for part in relative.components() {
        if !matches!(part, Component::Normal(_)) {
            return Err(FileError::UnsafePath {
                path: target.display().to_string(),
                reason: "the target folder is not a plain path",
                target: root.display().to_string(),
            });
        }
        let next = current.join(part);
        match std::fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() || !m.is_dir() => {
                return Err(FileError::InTheWay {
                    path: target.display().to_string(),
                    through: next.display().to_string(),
                    what: if m.file_type().is_symlink() {
                        "a symbolic link"
                    } else {
                        "not a folder"
                    },
                });
            }
            Ok(_) => current = next,
            Err(_) => break,
        }
    }
    Ok(current)
}

/// Checks every path and bound without touching the disk (besides reading
/// metadata): the plan [`write_files`] executes.
pub fn check_files(
    root: &Path,
    target: &Path,
    files: &[NewFile],
    limits: FileLimits,
    force: bool,
) -> Result<Vec<(PathBuf, bool)>, FileError> {
    if files.len() > limits.max_files {
        return Err(FileError::TooMuch(format!(
            "{} files, more than the limit of {}",
            files.len(),
            limits.max_files
        )));
    }
    let mut total = 0usize;
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(files.len());
    let mut existing = Vec::new();
    existing_base(root, target)?;
    let target_rel = target.strip_prefix(root).unwrap_or(target);
    for f in files {
        let rel = checked_path(&f.path, target)?;
        if f.contents.len() > limits.max_file_bytes {
            return Err(FileError::TooMuch(format!(
                "`{}` has {} bytes, more than the limit of {} per file",
                f.path.escape_default(),
                f.contents.len(),
                limits.max_file_bytes
            )));
        }
        total = total.saturating_add(f.contents.len());
        if total > limits.max_total_bytes {
            return Err(FileError::TooMuch(format!(
                "the files add up to more than the limit of {} bytes",
                limits.max_total_bytes
            )));
        }
        if !seen.insert(rel.clone()) {
            return Err(FileError::UnsafePath {
                path: f.path.escape_default().to_string(),
                reason: "it is given twice",
                target: target.display().to_string(),
            });
        }
        let exists = check_way(root, &target_rel.join(&rel))?;
        if exists && !force {
            existing.push(target.join(&rel).display().to_string());
        }
        out.push((rel, exists));
    }
    // A path that is also the folder of another one (`a` and `a/b`).
    for (rel, _) in &out {
        let mut parent = rel.parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            if seen.contains(p) {
                return Err(FileError::UnsafePath {
                    path: p.display().to_string(),
                    reason: "it is both a file and the folder of another file",
                    target: target.display().to_string(),
                });
            }
            parent = p.parent();
        }
    }
    if !existing.is_empty() {
        return Err(FileError::Exists(existing));
    }
    Ok(out)
}

/// Writes `files` below `target` (a folder inside `root`, created if
/// missing), all or nothing. See the module docs for the rules.
pub fn write_files(
    root: &Path,
    target: &Path,
    files: &[NewFile],
    limits: FileLimits,
    force: bool,
) -> Result<WriteReport, FileError> {
    let plan = check_files(root, target, files, limits, force)?;
    let io = |source| FileError::Io {
        target: target.display().to_string(),
        source,
    };
    let show = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut report = WriteReport::default();
    if plan.is_empty() {
        return Ok(report);
    }
    // Stage next to the deepest existing folder, so renames stay on one
    // file system and nothing appears in the target before all is written.
    let base = existing_base(root, target)?;
    let staging = tempfile::Builder::new()
        .prefix(".meshroom-stage-")
        .tempdir_in(&base)
        .map_err(io)?;
    let mut todo = Vec::new();
    for ((rel, exists), f) in plan.iter().zip(files) {
        let dest = target.join(rel);
        if *exists && std::fs::read(&dest).is_ok_and(|old| old == f.contents) {
            report.unchanged.push(show(&dest));
            continue;
        }
        let staged = staging.path().join("new").join(rel);
        if let Some(parent) = staged.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&staged, &f.contents).map_err(io)?;
        todo.push((staged, dest, *exists, rel));
    }
    // Move into place; on failure, undo the moves already made.
    let backup_dir = staging.path().join("old");
    let mut done: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let result = (|| -> std::io::Result<()> {
        for (staged, dest, exists, rel) in &todo {
            if let Some(parent) = dest.parent() {
                let mut missing = Vec::new();
                let mut p = parent.to_path_buf();
                while !p.exists() {
                    missing.push(p.clone());
                    if !p.pop() {
                        break;
                    }
                }
                std::fs::create_dir_all(parent)?;
                created_dirs.extend(missing.into_iter().rev());
            }
            let backup = if *exists {
                let b = backup_dir.join(rel);
                if let Some(parent) = b.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::rename(dest, &b)?;
                Some(b)
            } else {
                None
            };
            if let Err(e) = std::fs::rename(staged, dest) {
                if let Some(b) = &backup {
                    let _ = std::fs::rename(b, dest);
                }
                return Err(e);
            }
            done.push((dest.clone(), backup));
        }
        Ok(())
    })();
    if let Err(e) = result {
        for (dest, backup) in done.iter().rev() {
            match backup {
                Some(b) => {
                    let _ = std::fs::rename(b, dest);
                }
                None => {
                    let _ = std::fs::remove_file(dest);
                }
            }
        }
        for dir in created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(io(e));
    }
    for (dest, backup) in &done {
        if backup.is_some() {
            report.overwritten.push(show(dest));
        } else {
            report.created.push(show(dest));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, contents: &str) -> NewFile {
        NewFile {
            path: path.into(),
            contents: contents.as_bytes().to_vec(),
        }
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
                if e.file_type().unwrap().is_dir() {
                    stack.push(p);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn writes_below_the_target_only() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("products/a/integrations/b");
        let r = write_files(
            root.path(),
            &target,
            &[file("README.md", "hi"), file("docs/setup.md", "steps")],
            FileLimits::default(),
            false,
        )
        .unwrap();
        assert_eq!(
            r.created,
            [
                "products/a/integrations/b/README.md",
                "products/a/integrations/b/docs/setup.md"
            ]
        );
        assert_eq!(
            std::fs::read_to_string(target.join("docs/setup.md")).unwrap(),
            "steps"
        );
        assert!(
            !listing(root.path())
                .iter()
                .any(|p| p.contains(".meshroom-stage")),
            "staging folder removed"
        );
    }

    #[test]
    fn refuses_escapes_and_writes_nothing() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "",
            "a//b",
            "./a",
            "a/",
            "C:/x",
            "a\\..\\b",
            "nul\0",
            ".meshroom-stage-x/a",
        ] {
            let root = tempfile::tempdir().unwrap();
            let target = root.path().join("t");
            let err = write_files(
                root.path(),
                &target,
                &[file("ok.md", "fine"), file(bad, "evil")],
                FileLimits::default(),
                false,
            )
            .unwrap_err();
            assert!(matches!(err, FileError::UnsafePath { .. }), "{bad}: {err}");
            assert!(listing(root.path()).is_empty(), "{bad}: nothing written");
        }
    }

    #[test]
    fn refuses_symlinks_on_the_way() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = root.path().join("t");
        std::fs::create_dir_all(&target).unwrap();
        std::os::unix::fs::symlink(outside.path(), target.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("f"), target.join("f")).unwrap();
        for path in ["link/x", "f"] {
            let err = write_files(
                root.path(),
                &target,
                &[file(path, "evil")],
                FileLimits::default(),
                true,
            )
            .unwrap_err();
            assert!(matches!(err, FileError::InTheWay { .. }), "{err}");
        }
        assert!(listing(outside.path()).is_empty());
        // A target folder that is itself a link.
        std::os::unix::fs::symlink(outside.path(), root.path().join("u")).unwrap();
        let err = write_files(
            root.path(),
            &root.path().join("u/v"),
            &[file("x", "evil")],
            FileLimits::default(),
            true,
        )
        .unwrap_err();
        assert!(matches!(err, FileError::InTheWay { .. }), "{err}");
        assert!(listing(outside.path()).is_empty());
    }

    #[test]
    fn bounds_count_and_size() {
        let root = tempfile::tempdir().unwrap();
        let limits = FileLimits {
            max_files: 3,
            max_file_bytes: 10,
            max_total_bytes: 15,
        };
        let many: Vec<NewFile> = (0..4).map(|i| file(&format!("f{i}"), "x")).collect();
        let t = root.path().join("t");
        assert!(matches!(
            write_files(root.path(), &t, &many, limits, false),
            Err(FileError::TooMuch(_))
        ));
        assert!(matches!(
            write_files(
                root.path(),
                &t,
                &[file("big", "01234567890")],
                limits,
                false
            ),
            Err(FileError::TooMuch(_))
        ));
        assert!(matches!(
            write_files(
                root.path(),
                &t,
                &[file("a", "0123456789"), file("b", "0123456789")],
                limits,
                false
            ),
            Err(FileError::TooMuch(_))
        ));
        assert!(listing(root.path()).is_empty());
    }

    #[test]
    fn keeps_existing_files_unless_forced() {
        let root = tempfile::tempdir().unwrap();
        let t = root.path().join("t");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("a"), "old").unwrap();
        let files = [file("a", "new"), file("b", "new")];
        let err = write_files(root.path(), &t, &files, FileLimits::default(), false).unwrap_err();
        assert!(
            matches!(err, FileError::Exists(ref v) if v.len() == 1),
            "{err}"
        );
        assert_eq!(listing(&t), ["a"], "nothing written");
        assert_eq!(std::fs::read_to_string(t.join("a")).unwrap(), "old");
        let r = write_files(root.path(), &t, &files, FileLimits::default(), true).unwrap();
        assert_eq!(r.overwritten, ["t/a"]);
        assert_eq!(r.created, ["t/b"]);
        assert_eq!(std::fs::read_to_string(t.join("a")).unwrap(), "new");
        let r = write_files(root.path(), &t, &files, FileLimits::default(), true).unwrap();
        assert_eq!(r.unchanged, ["t/a", "t/b"]);
    }

    #[test]
    fn refuses_a_file_that_is_also_a_folder() {
        let root = tempfile::tempdir().unwrap();
        let t = root.path().join("t");
        let err = write_files(
            root.path(),
            &t,
            &[file("a", "x"), file("a/b", "y")],
            FileLimits::default(),
            false,
        )
        .unwrap_err();
        assert!(matches!(err, FileError::UnsafePath { .. }), "{err}");
        let err = write_files(
            root.path(),
            &t,
            &[file("a", "x"), file("a", "y")],
            FileLimits::default(),
            false,
        )
        .unwrap_err();
        assert!(matches!(err, FileError::UnsafePath { .. }), "{err}");
    }
}
