//! Live runs: the engine's [`RunEvent`]s, from a run in this process
//! ([`Live::observer`]) or in another (`meshroom up|down|check` writing JSON
//! lines to the dashboard's socket, [`Live::listen`]), kept as each plug's
//! live state (running, drifted) and fanned out to the pages' event streams.
//!
//! Everything is bounded: the fan-out is a broadcast channel of
//! [`FANOUT`] events (a page that falls behind is told to reload, it never
//! holds memory), at most [`MAX_FEEDS`] runs feed the socket at once, each
//! line at most [`MAX_LINE`] bytes, and the live state holds at most
//! [`MAX_PLUGS`] plugs. This module must not read the project: events carry
//! names, verdicts and states only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::io::AsyncBufReadExt;
use tokio::sync::{Semaphore, broadcast};

use crate::engine::{Action, RunEvent, RunEvents, Verdict};

/// Events buffered for the pages' streams.
pub const FANOUT: usize = 1024;
/// Runs feeding the socket at once.
pub const MAX_FEEDS: usize = 64;
/// The longest event line a run may send.
pub const MAX_LINE: usize = 64 * 1024;
/// The most plugs the live state follows.
pub const MAX_PLUGS: usize = 100_000;
/// The runs remembered (the latest).
const MAX_RUNS: usize = 20;

/// What the dashboard knows of a plug from run events, beyond its file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlugLive {
    /// The action running on it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<Action>,
    /// The hook running on it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Its last `check` found drift: what it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drifted: Option<String>,
}

/// A run seen by the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct RunSeen {
    pub action: Action,
    pub pid: u32,
    pub plugs: usize,
    pub finished_plugs: usize,
    pub done: bool,
}

#[derive(Debug, Default)]
struct LiveState {
    plugs: HashMap<String, PlugLive>,
    runs: Vec<RunSeen>,
}

/// The live state and the fan-out of events.
#[derive(Debug)]
pub struct Live {
    fanout: broadcast::Sender<Arc<RunEvent>>,
    state: Mutex<LiveState>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            fanout: broadcast::channel(FANOUT).0,
            state: Mutex::default(),
        }
    }
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, LiveState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `event` in the live state and sends it to every page.
    pub fn publish(&self, event: RunEvent) {
        self.record(&event);
        // No page open: nobody to tell.
        let _ = self.fanout.send(Arc::new(event));
    }

    fn record(&self, event: &RunEvent) {
        let mut state = self.lock();
        if state.plugs.len() >= MAX_PLUGS {
            state.plugs.clear();
        }
        match event {
            RunEvent::RunStarted { action, plugs, pid } => {
                if state.runs.len() >= MAX_RUNS {
                    state.runs.remove(0);
                }
                state.runs.push(RunSeen {
                    action: *action,
                    pid: *pid,
                    plugs: *plugs,
                    finished_plugs: 0,
                    done: false,
                });
            }
            RunEvent::PlugStarted { plug, action } => {
                let live = state.plugs.entry(plug.clone()).or_default();
                live.running = Some(*action);
            }
            RunEvent::StepStarted { plug, hook, .. } => {
                state.plugs.entry(plug.clone()).or_default().step = Some(hook.clone());
            }
            RunEvent::StepFinished { .. } => {}
            RunEvent::PlugFinished {
                plug,
                action,
                verdict,
                message,
                ..
            } => {
                let live = state.plugs.entry(plug.clone()).or_default();
                live.running = None;
                live.step = None;
                match (action, verdict) {
                    (Action::Check, Verdict::Drifted) => {
                        live.drifted = Some(message.clone().unwrap_or_default());
                    }
                    // A check that found it fine, or an up/down that ran: no drift known.
                    (Action::Check, Verdict::Done) | (Action::Up | Action::Down, Verdict::Done) => {
                        live.drifted = None;
                    }
                    _ => {}
                }
                if let Some(run) = state.runs.iter_mut().rev().find(|r| !r.done) {
                    run.finished_plugs += 1;
                }
            }
            RunEvent::RunFinished { action, .. } => {
                if let Some(run) = state
                    .runs
                    .iter_mut()
                    .rev()
                    .find(|r| !r.done && r.action == *action)
                {
                    run.done = true;
                }
                for live in state.plugs.values_mut() {
                    if live.running == Some(*action) {
                        live.running = None;
                        live.step = None;
                    }
                }
            }
        }
    }

    /// The live state of every plug it knows, and the recent runs.
    pub fn snapshot(&self) -> (HashMap<String, PlugLive>, Vec<RunSeen>) {
        let state = self.lock();
        (state.plugs.clone(), state.runs.clone())
    }

    /// The live state of `plug`.
    pub fn plug(&self, plug: &str) -> Option<PlugLive> {
        self.lock().plugs.get(plug).cloned()
    }

    /// A new page's stream of events.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<RunEvent>> {
        self.fanout.subscribe()
    }

    /// The observer for a run in this process.
    pub fn observer(self: &Arc<Self>) -> RunEvents {
        let live = self.clone();
        RunEvents::new(move |e| live.publish(e.clone()))
    }

    /// Listens on the Unix socket `path` for the events of runs in other
    /// processes; the socket file is removed when the returned guard drops.
    pub fn listen(self: &Arc<Self>, path: &Path) -> std::io::Result<SocketGuard> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
            sweep_stale_sockets(dir);
        }
        // A socket left by a dashboard killed with this PID.
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path)?;
        let live = self.clone();
        let feeds = Arc::new(Semaphore::new(MAX_FEEDS));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let Ok(permit) = feeds.clone().try_acquire_owned() else {
                    tracing::warn!("more than {MAX_FEEDS} runs feeding the dashboard; one ignored");
                    continue;
                };
                let live = live.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    live.read_feed(stream).await;
                });
            }
        });
        Ok(SocketGuard {
            path: path.to_path_buf(),
            task,
        })
    }

    /// Reads one run's JSON lines until it closes; a line too long or not
    /// an event ends the feed.
    async fn read_feed(&self, stream: tokio::net::UnixStream) {
        use tokio::io::AsyncReadExt;
        let mut reader = tokio::io::BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line)
                .await;
            match read {
                Ok(0) | Err(_) => return,
                Ok(_) if line.len() > MAX_LINE => {
                    tracing::warn!("a run sent an event line over {MAX_LINE} bytes; feed closed");
                    return;
                }
                Ok(_) => match serde_json::from_slice::<RunEvent>(&line) {
                    Ok(event) => self.publish(event),
                    Err(e) => {
                        tracing::warn!(
                            "a run sent something that is not an event ({e}); feed closed"
                        );
                        return;
                    }
                },
            }
        }
    }
}

/// Removes the sockets of dashboards that are gone (killed before they
/// could remove theirs): nobody accepts on them any more.
fn sweep_stale_sockets(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_some_and(|e| e == "sock")
            && std::os::unix::net::UnixStream::connect(&path)
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// The dashboard's socket: removed (and no longer listened on) on drop.
#[derive(Debug)]
pub struct SocketGuard {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl SocketGuard {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::PlugState;

    fn finished(plug: &str, action: Action, verdict: Verdict) -> RunEvent {
        RunEvent::PlugFinished {
            plug: plug.into(),
            action,
            verdict,
            state: PlugState::Up,
            message: Some("gone".into()),
        }
    }

    #[test]
    fn a_drifted_check_marks_the_plug_until_an_up_or_a_good_check() {
        let live = Live::default();
        live.publish(finished("a", Action::Check, Verdict::Drifted));
        assert_eq!(live.plug("a").unwrap().drifted.as_deref(), Some("gone"));
        live.publish(finished("a", Action::Up, Verdict::Skipped));
        assert!(live.plug("a").unwrap().drifted.is_some());
        live.publish(finished("a", Action::Up, Verdict::Done));
        assert!(live.plug("a").unwrap().drifted.is_none());
    }

    #[test]
    fn a_slow_page_lags_without_holding_more_than_the_fanout() {
        let live = Live::default();
        let mut page = live.subscribe();
        for i in 0..FANOUT * 3 {
            live.publish(finished(&format!("p{i}"), Action::Check, Verdict::Done));
        }
        assert!(matches!(
            page.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
    }
}
