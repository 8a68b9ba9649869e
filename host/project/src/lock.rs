//! One writer per project: an exclusive OS advisory lock (`flock` on Unix,
//! `LockFileEx` on Windows, through `std::fs::File::try_lock`) on
//! `.meshroom/lock` in the project folder, held for the whole command.
//!
//! The lock dies with its process, so a killed writer never leaves a stale
//! lock behind; the file only says who holds it (command, PID, since when),
//! for the message of the writer that has to wait. Readers never take it.
//! This module must not decide which commands write: the CLI does.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The project's local state folder (gitignored by `meshroom init`).
pub const STATE_DIR: &str = ".meshroom";
/// The lock file, in [`STATE_DIR`].
pub const LOCK_FILE: &str = "lock";

/// Who holds a project's lock, as it wrote in the lock file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    /// The command, e.g. `meshroom secrets set` (never its arguments: they
    /// may carry setting values).
    pub command: String,
    pub pid: u32,
    /// When it took the lock (RFC 3339, UTC).
    pub since: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ago = humantime::parse_rfc3339(&self.since)
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map(|d| format!(", {} ago", shown(d)))
            .unwrap_or_default();
        write!(
            f,
            "`{}` (PID {}, since {}{ago})",
            self.command, self.pid, self.since
        )
    }
}

/// Why a project's lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another meshroom command is changing this project: {}{}. Let it finish, then run this command again, or wait longer with `--lock-timeout DURATION` (the lock, `{}`, is released when that process ends, even if it is killed)",
        holder.as_ref().map_or_else(|| "one that has not written its name yet".to_string(), ToString::to_string),
        if waited.is_zero() { String::new() } else { format!("; waited {}", shown(*waited)) },
        path.display()
    )]
    Busy {
        path: PathBuf,
        holder: Option<Holder>,
        waited: Duration,
    },

    #[error("cannot lock the project: failed to open `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot lock the project with `{}` (does its file system support file locks?)", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The project's write lock; released (and its holder line cleared) on drop.
#[derive(Debug)]
pub struct ProjectLock {
    file: File,
    path: PathBuf,
}

/// The lock file of the project at `root`.
pub fn lock_path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join(LOCK_FILE)
}

impl ProjectLock {
    /// Takes the write lock of the project at `root` for `command`, waiting
    /// up to `timeout` for the writer that holds it (zero: fail at once).
    /// `on_wait` is called once, with the holder, if the lock is busy.
    pub fn acquire(
        root: &Path,
        command: &str,
        timeout: Duration,
        on_wait: impl FnOnce(Option<&Holder>),
    ) -> Result<ProjectLock, LockError> {
        let path = lock_path(root);
        let open = |source| LockError::Open {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(open)?;
        }
        // Never truncated on open: the holder's line stays readable.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(open)?;
        let start = Instant::now();
        let mut on_wait = Some(on_wait);
        let mut holder = None;
        let mut pause = Duration::from_millis(2);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(source)) => return Err(LockError::Lock { path, source }),
            }
            // The holder may not have written its line yet: keep the last one read.
            if let Some(h) = read_holder(&mut file) {
                holder = Some(h);
            }
            if let Some(f) = on_wait.take() {
                f(holder.as_ref());
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(LockError::Busy {
                    path,
                    holder,
                    waited: timeout,
                });
            }
            std::thread::sleep(pause.min(timeout - waited));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        let me = Holder {
            command: command.to_string(),
            pid: std::process::id(),
            since: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        };
        let mut line = serde_json::to_string(&me).unwrap_or_default();
        line.push('\n');
        // The sole writer now: temporary files a killed one left at the
        // root (beside `secrets.age`, `meshroom.lock`) are litter.
        meshroom_fsutil::remove_stale_temps(root);
        let lock = ProjectLock { file, path };
        let written = lock
            .file
            .set_len(0)
            .and_then(|()| (&lock.file).write_all(line.as_bytes()));
        if let Err(e) = written {
            // Only the waiters' message needs it: the lock itself holds.
            tracing::debug!("cannot write the holder of `{}`: {e}", lock.path.display());
        }
        Ok(lock)
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        // Cleared while still held; the lock itself goes with the file.
        let _ = self.file.set_len(0);
    }
}

/// Who holds the lock of the project at `root`, if a holder line is there
/// (a released lock has none; a killed holder's line stays until the next
/// writer replaces it). For messages only: the OS lock is the truth.
pub fn holder(root: &Path) -> Option<Holder> {
    let mut file = File::open(lock_path(root)).ok()?;
    read_holder(&mut file)
}

/// `d` to the second (to the millisecond below one).
fn shown(d: Duration) -> humantime::FormattedDuration {
    if d < Duration::from_secs(1) {
        humantime::format_duration(Duration::from_millis(
            d.as_millis().try_into().unwrap_or(u64::MAX),
        ))
    } else {
        humantime::format_duration(Duration::from_secs(d.as_secs()))
    }
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.take(4096).read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_waits_then_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = ProjectLock::acquire(dir.path(), "meshroom plug", Duration::ZERO, |_| {
            panic!("the first writer never waits")
        })
        .unwrap();
        assert_eq!(holder(dir.path()).unwrap().pid, std::process::id());
        let mut seen = None;
        let start = Instant::now();
        let err = ProjectLock::acquire(
            dir.path(),
            "meshroom add",
            Duration::from_millis(200),
            |h| seen = h.cloned(),
        )
        .unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert_eq!(seen.unwrap().command, "meshroom plug");
        let text = err.to_string();
        assert!(text.contains("`meshroom plug` (PID "), "{text}");
        assert!(text.contains("waited 200ms"), "{text}");
        assert!(text.contains("--lock-timeout"), "{text}");
        drop(first);
        assert_eq!(holder(dir.path()), None, "a released lock names nobody");
        let again =
            ProjectLock::acquire(dir.path(), "meshroom add", Duration::ZERO, |_| {}).unwrap();
        assert_eq!(holder(dir.path()).unwrap().command, "meshroom add");
        drop(again);
    }

    #[test]
    fn a_waiting_writer_gets_the_lock_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let first =
            ProjectLock::acquire(dir.path(), "meshroom up", Duration::ZERO, |_| {}).unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(first);
        });
        let second =
            ProjectLock::acquire(dir.path(), "meshroom plug", Duration::from_secs(10), |_| {});
        release.join().unwrap();
        assert!(second.is_ok(), "{second:?}");
    }
}
