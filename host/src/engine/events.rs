//! Run events: what a run of `up`, `down` or `check` tells an observer as
//! it goes (a plug started, a hook started or finished, a plug finished with
//! its verdict and state), and the feed that streams them to the dashboards
//! (`meshroom ui`) open on the project, in this process or another.
//!
//! - [`RunEvents`] is the observer a run calls ([`super::RunOptions::events`]);
//!   it must return at once: it never blocks, never fails the run.
//! - [`UiFeed`] connects to every dashboard socket of the project
//!   (`.meshroom/ui/<pid>.sock`, one per `meshroom ui` process) and writes
//!   the events to each as JSON lines through a bounded queue: when a
//!   dashboard is slow or gone, its events are dropped (and counted), the
//!   run goes on.
//!
//! An event carries names, verdicts and states only: never a setting, an
//! output value or a secret. This module must not read or write anything
//! of the project but the sockets of `.meshroom/ui/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::project::PlugState;
use crate::runtime::CheckState;

use super::plan::Action;
use super::run::Verdict;

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    /// A run of `action` over `plugs` plugs begins (process `pid`).
    RunStarted {
        action: Action,
        plugs: usize,
        pid: u32,
    },
    /// A plug's first hook is about to run.
    PlugStarted { plug: String, action: Action },
    /// A hook of a plug starts on an instance.
    StepStarted {
        plug: String,
        hook: String,
        instance: String,
    },
    /// A hook of a plug finished (`check`: what the product answered).
    StepFinished {
        plug: String,
        hook: String,
        instance: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        check: Option<CheckState>,
    },
    /// A plug is done (its state saved when the run saves state).
    PlugFinished {
        plug: String,
        action: Action,
        verdict: Verdict,
        state: PlugState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// The run is over.
    RunFinished { action: Action, interrupted: bool },
}

/// The observer of a run: called for each [`RunEvent`], from the run's
/// tasks; it must return at once.
#[derive(Clone)]
pub struct RunEvents(Arc<dyn Fn(&RunEvent) + Send + Sync>);

impl RunEvents {
    pub fn new(observe: impl Fn(&RunEvent) + Send + Sync + 'static) -> Self {
        RunEvents(Arc::new(observe))
    }

    /// Tells the observer about `event`.
    pub fn emit(&self, event: &RunEvent) {
        (self.0)(event)
    }

    /// Both observers, `self` first.
    pub fn and(self, other: RunEvents) -> RunEvents {
        RunEvents::new(move |e| {
            self.emit(e);
            other.emit(e);
        })
    }
}

impl std::fmt::Debug for RunEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunEvents")
    }
}

/// Calls `events` with the event `make` builds, if there is an observer.
pub(super) fn emit(events: Option<&RunEvents>, make: impl FnOnce() -> RunEvent) {
    if let Some(events) = events {
        events.emit(&make());
    }
}

/// The folder of the dashboards' sockets in a project.
pub fn ui_socket_dir(project_root: &Path) -> PathBuf {
    project_root.join(".meshroom").join("ui")
}

/// Events queued per dashboard before new ones are dropped.
const FEED_QUEUE: usize = 4096;

/// How long connecting to one dashboard socket may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);

/// The events of a run, streamed to every dashboard open on the project.
#[derive(Debug)]
pub struct UiFeed {
    /// One queue per dashboard; emptied by [`UiFeed::close`], which ends the
    /// writers even while an observer is still held.
    queues: Arc<std::sync::Mutex<Vec<tokio::sync::mpsc::Sender<Arc<str>>>>>,
    writers: tokio::task::JoinSet<()>,
    dropped: Arc<AtomicU64>,
}

impl UiFeed {
    /// Connects to each dashboard socket of the project; `None` when no
    /// dashboard is open (a stale socket, refused, is skipped).
    pub async fn connect(project_root: &Path) -> Option<UiFeed> {
        let dir = ui_socket_dir(project_root);
        let entries = std::fs::read_dir(&dir).ok()?;
        let mut queues = Vec::new();
        let mut feed = UiFeed {
            queues: Arc::default(),
            writers: tokio::task::JoinSet::new(),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "sock") {
                continue;
            }
            let connected =
                tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(&path)).await;
            let Ok(Ok(stream)) = connected else {
                tracing::debug!("no dashboard at {}", path.display());
                continue;
            };
            let (queue, mut events) = tokio::sync::mpsc::channel::<Arc<str>>(FEED_QUEUE);
            queues.push(queue);
            feed.writers.spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut stream = tokio::io::BufWriter::new(stream);
                while let Some(line) = events.recv().await {
                    let mut ok = stream.write_all(line.as_bytes()).await.is_ok();
                    if ok && events.is_empty() {
                        ok = stream.flush().await.is_ok();
                    }
                    if !ok {
                        // The dashboard went away: the rest of the run is not for it.
                        return;
                    }
                }
                let _ = stream.flush().await;
            });
        }
        if queues.is_empty() {
            return None;
        }
        *feed.lock() = queues;
        Some(feed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<tokio::sync::mpsc::Sender<Arc<str>>>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The observer feeding this feed.
    pub fn observer(&self) -> RunEvents {
        let queues = self.queues.clone();
        let dropped = self.dropped.clone();
        RunEvents::new(move |event| {
            let Ok(mut line) = serde_json::to_string(event) else {
                return;
            };
            line.push('\n');
            let line: Arc<str> = line.into();
            let queues = queues.lock().unwrap_or_else(|e| e.into_inner());
            for queue in queues.iter() {
                if queue.try_send(line.clone()).is_err() {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    }

    /// Lets the queued events reach the dashboards, waiting at most
    /// `within`; returns how many events were dropped.
    pub async fn close(mut self, within: Duration) -> u64 {
        self.lock().clear();
        let drained = tokio::time::timeout(within, async {
            while self.writers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::debug!("a dashboard did not read the run's last events in time");
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::debug!("{dropped} run events not sent to a slow dashboard");
        }
        dropped
    }
}
