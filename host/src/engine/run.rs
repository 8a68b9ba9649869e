//! Running a [`Plan`]: hook calls for many plugs at once.
//!
//! - Plugs run concurrently; at most `jobs` hook calls run at a time, and
//!   the hooks of one instance run one at a time (a per-instance lock taken
//!   around each call), so a product's API never sees two meshroom calls
//!   at once.
//! - A plug's steps run in order; each sees the outputs earlier steps
//!   recorded. Non-secret outputs go to the plug's `settings`, secret ones
//!   to the secrets store (plug scope).
//! - One plug failing marks it failed (its error kept on the plug) and the
//!   others go on.
//! - When `interrupt` is set (Ctrl-C), no new hook starts; running ones
//!   finish and their outcome is saved.
//!
//! Each finished plug is saved as it finishes, in group commits (the
//! plugs finishing together are written together, each file atomic, all
//! flushed to disk at once), and reported only once durable, so an
//! interrupted or crashed run leaves the project describing what really
//! happened.
//!
//! Before a plug's first hook runs, its intent (`pending:` the status it
//! moves to, see [`Plug::pending`]) is made durable the same way, in the
//! same group commits: a run killed between a hook changing the product
//! and the plug's state reaching disk leaves the plug pending, and the
//! next `up` tears down before it sets up again (see [`super::plan`]).
//! What stays out of reach: outputs a hook returned in the instant before
//! the kill are lost, so recovery teardown finds what it cleans by the
//! plug's identity (the example adapter looks its webhook up by source
//! and topic).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, Semaphore};

use crate::project::{Plug, PlugState, PlugStatus, Project};
use crate::runtime::{CheckReport, CheckState, HookError, Outcome};

use super::events::{RunEvent, RunEvents, emit};
use super::index::error_chain;
use super::plan::{Action, Plan, PlugPlan, Step};
use super::secrets::plug_scope;
use super::session::Session;

/// How a run goes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Most hook calls at once.
    pub jobs: usize,
    /// Set (e.g. by Ctrl-C) to start no new hook.
    pub interrupt: Arc<AtomicBool>,
    /// Told of each plug's progress as it happens (a dashboard).
    pub events: Option<RunEvents>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: 16,
            interrupt: Arc::new(AtomicBool::new(false)),
            events: None,
        }
    }
}

/// How one plug ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Its hooks ran (up, down or checked).
    Done,
    /// Nothing to do.
    Skipped,
    /// A hook failed (or the plug could not run).
    Failed,
    /// Stopped by an interrupt before all its hooks ran.
    Interrupted,
    /// `check`: up in the project, not (or not as recorded) on the product.
    Drifted,
}

/// A hook that ran and how it went.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub instance: String,
    pub hook: String,
    pub ok: bool,
    /// Error message, or the check's detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckState>,
}

/// What happened to one plug.
#[derive(Debug, Clone, Serialize)]
pub struct PlugReport {
    pub plug: String,
    pub verdict: Verdict,
    /// Where it stands after the run.
    pub state: PlugState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub steps: Vec<StepResult>,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub action: Action,
    pub plugs: Vec<PlugReport>,
    /// Whether an interrupt stopped it.
    pub interrupted: bool,
}

impl RunReport {
    /// Plugs that ended with `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.plugs.iter().filter(|p| p.verdict == verdict).count()
    }

    /// Whether every plug ended well (nothing failed, drifted or was interrupted).
    pub fn success(&self) -> bool {
        !self.interrupted
            && self
                .plugs
                .iter()
                .all(|p| matches!(p.verdict, Verdict::Done | Verdict::Skipped))
    }
}

/// Why a plug's run failed: one line naming the hook and the instance,
/// as shown to the user and kept as the plug's `last_error`.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The plug could not run at all: planned as failing (no setup hook,
    /// a broken adapter…).
    #[error("{0}")]
    Unrunnable(String),
    /// The product of a step has no adapter.
    #[error("product `{product}` has no adapter")]
    NoAdapter { product: String },
    /// The hook call could not be prepared (adapter, instance, context or
    /// sandbox policy).
    #[error("{hook} on `{instance}`: {}", error_chain(&**source))]
    Prepare {
        hook: String,
        instance: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The hook ran and failed (its error kind tells how).
    #[error("{hook} on `{instance}`: {source}")]
    Hook {
        hook: String,
        instance: String,
        source: HookError,
    },
    /// The plug's recorded outputs would grow past their bound
    /// (`outputs_bytes`); nothing of the hook is stored.
    #[error(
        "{hook} on `{instance}`: the plug's recorded outputs would be {size} bytes, more than the limit of {} (`outputs_bytes`); nothing of this hook was stored",
        crate::runtime::human(*limit)
    )]
    OutputsTooLarge {
        hook: String,
        instance: String,
        size: usize,
        limit: usize,
    },
    /// The hook succeeded but its secret outputs could not be stored.
    #[error("cannot keep the secret outputs of `{hook}`: {reason}")]
    SecretOutputs { hook: String, reason: String },
    /// The run was stopped before this step could start.
    #[error("the run was stopped")]
    Stopped,
}

/// What a plug's task sends back.
struct TaskResult {
    plug: Plug,
    steps: Vec<StepResult>,
    error: Option<RunError>,
    interrupted: bool,
    checks: Vec<CheckReport>,
}

/// One plug's run, as its task gets it.
struct PlugRun {
    session: Arc<Session>,
    /// The project as it was when the run started (plugs save their own file).
    project: Arc<Project>,
    plug: Plug,
    /// The steps in order, each with the lock of the instance it touches.
    steps: Vec<(Step, Arc<Mutex<()>>)>,
    action: Action,
    permits: Arc<Semaphore>,
    interrupt: Arc<AtomicBool>,
    events: Option<RunEvents>,
}

/// Runs `plan` (made from `project` by [`super::plan::plan`]) and saves
/// each plug as it finishes. `engine` and a snapshot of the project are
/// shared with the plug tasks.
pub async fn run(
    engine: Arc<Session>,
    project: &mut Project,
    plan: Plan,
    options: &RunOptions,
) -> RunReport {
    if plan.step_count() > 0
        && let Err(e) = engine.secrets().preload()
    {
        tracing::warn!(
            "cannot read the secrets store: {}; adapters asking for secrets get none",
            error_chain(&e)
        );
    }
    let events = options.events.as_ref();
    emit(events, || RunEvent::RunStarted {
        action: plan.action,
        plugs: plan.plugs.len(),
        pid: std::process::id(),
    });
    let snapshot = Arc::new(project.clone());
    let permits = Arc::new(Semaphore::new(options.jobs.max(1)));
    let mut locks: HashMap<String, Arc<Mutex<()>>> = HashMap::new();
    let action = plan.action;
    let mut reports: Vec<Option<PlugReport>> = vec![None; plan.plugs.len()];
    let mut tasks = tokio::task::JoinSet::new();
    let (commits, received) = tokio::sync::mpsc::unbounded_channel();
    let committer = tokio::spawn(commit(
        received,
        snapshot.clone(),
        engine.clone(),
        options.events.clone(),
    ));

    // Interleave plugs across instances so the first calls to start touch
    // as many different instances as possible.
    let order = interleave(&plan.plugs);
    for (slot, pp) in order.into_iter().map(|i| (i, &plan.plugs[i])) {
        let plug = snapshot.plugs()[pp.index].clone();
        if let Some(error) = &pp.error {
            reports[slot] = Some(finish_without_steps(
                project,
                plug,
                action,
                RunError::Unrunnable(error.clone()),
                engine.persists(),
            ));
            emit(events, || finished_event(action, reports[slot].as_ref()));
            continue;
        }
        if !pp.changes_state && pp.steps.is_empty() {
            reports[slot] = Some(PlugReport {
                plug: pp.plug.clone(),
                verdict: Verdict::Skipped,
                state: pp.state,
                message: pp.skip.clone(),
                steps: Vec::new(),
            });
            emit(events, || finished_event(action, reports[slot].as_ref()));
            continue;
        }
        let steps: Vec<(Step, Arc<Mutex<()>>)> = pp
            .steps
            .iter()
            .map(|s| {
                let lock = locks.entry(s.instance.clone()).or_default().clone();
                (s.clone(), lock)
            })
            .collect();
        let run = PlugRun {
            session: engine.clone(),
            project: snapshot.clone(),
            plug,
            steps,
            action,
            permits: permits.clone(),
            interrupt: options.interrupt.clone(),
            events: options.events.clone(),
        };
        let planned = pp.clone();
        let (engine, commits) = (engine.clone(), commits.clone());
        tasks.spawn(async move {
            let result = match record_intent(&engine, &commits, &planned, action, run).await {
                Ok(run) => run.run().await,
                Err(result) => result,
            };
            let (plug, report) = finish(&engine, result, action, &planned);
            let plug = plug.filter(|_| engine.persists());
            // The report counts once the plug's state is durable.
            if commits
                .send(Commit::Finished(Finished {
                    slot,
                    report_action: action,
                    plug,
                    report,
                }))
                .is_err()
            {
                tracing::error!(
                    "the plug state writer stopped; plug {} not saved",
                    planned.plug
                );
            }
        });
    }
    drop(commits);

    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!("a plug task failed: {e}");
        }
    }
    match committer.await {
        Ok(committed) => {
            for (slot, report) in committed {
                reports[slot] = Some(report);
            }
        }
        Err(e) => tracing::error!("the plug state writer failed: {e}"),
    }
    if engine.persists()
        && let Err(e) = engine.secrets().save()
    {
        tracing::error!("cannot save the secrets store: {}", error_chain(&e));
    }
    let interrupted = options.interrupt.load(Ordering::Relaxed);
    emit(events, || RunEvent::RunFinished {
        action,
        interrupted,
    });
    RunReport {
        action,
        plugs: reports.into_iter().flatten().collect(),
        interrupted,
    }
}

/// The event of a plug that is done (reported).
fn finished_event(action: Action, report: Option<&PlugReport>) -> RunEvent {
    let (plug, verdict, state, message) = match report {
        Some(r) => (r.plug.clone(), r.verdict, r.state, r.message.clone()),
        None => (String::new(), Verdict::Failed, PlugState::Failed, None),
    };
    RunEvent::PlugFinished {
        plug,
        action,
        verdict,
        state,
        message,
    }
}

/// Makes durable that `run`'s plug is about to change (its `pending:`
/// intent) before its first hook: a plug whose run changes its state and
/// calls hooks, when the session saves anything. Gives the run back with
/// its plug marked pending, or the plug's failed result when the intent
/// could not be saved (no hook ran).
async fn record_intent(
    engine: &Session,
    commits: &tokio::sync::mpsc::UnboundedSender<Commit>,
    planned: &PlugPlan,
    action: Action,
    mut run: PlugRun,
) -> Result<PlugRun, TaskResult> {
    if !(engine.persists() && planned.changes_state && !planned.steps.is_empty()) {
        return Ok(run);
    }
    run.plug.record_start(match action {
        Action::Down => PlugStatus::Down,
        _ => PlugStatus::Up,
    });
    let (done, durable) = tokio::sync::oneshot::channel();
    let sent = commits.send(Commit::Intent {
        plug: run.plug.clone(),
        done,
    });
    let why = match (sent, durable.await) {
        (Ok(()), Ok(Ok(()))) => {
            crate::fsutil::fault::point("intent-saved");
            return Ok(run);
        }
        (Ok(()), Ok(Err(e))) => e,
        _ => "the plug state writer stopped".to_string(),
    };
    run.plug.pending = None;
    Err(TaskResult {
        plug: run.plug,
        steps: Vec::new(),
        error: Some(RunError::Unrunnable(format!(
            "cannot record that its run starts, so no hook ran: {why}"
        ))),
        interrupted: false,
        checks: Vec::new(),
    })
}

/// What the plug state writer is given.
enum Commit {
    /// A plug about to run its first hook, marked pending: `done` hears
    /// once that is durable (or why it could not be saved).
    Intent {
        plug: Plug,
        done: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// A plug whose hooks are done.
    Finished(Finished),
}

impl Commit {
    /// The plug state this commit writes, if any.
    fn plug(&self) -> Option<&Plug> {
        match self {
            Commit::Intent { plug, .. } => Some(plug),
            Commit::Finished(f) => f.plug.as_ref(),
        }
    }
}

/// A plug whose hooks are done, waiting for its state to be durable.
struct Finished {
    slot: usize,
    report_action: Action,
    /// The state to save (`None`: nothing to save).
    plug: Option<Plug>,
    report: PlugReport,
}

/// The most plugs made durable together.
const COMMIT_BATCH: usize = 256;

/// How long a commit waits for more plugs to finish before it writes.
const COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(5);

/// Makes plug states durable in groups (group commit): the intents and
/// finished plugs that came while the last group was being written, plus
/// those coming within [`COMMIT_WINDOW`], are written together: the
/// secrets store first (the secret outputs their state refers to), then
/// their files, each atomic and all flushed at once. Answers each intent
/// and returns each finished plug's report once its state is on disk,
/// never before.
async fn commit(
    mut commits: tokio::sync::mpsc::UnboundedReceiver<Commit>,
    snapshot: Arc<Project>,
    engine: Arc<Session>,
    events: Option<RunEvents>,
) -> Vec<(usize, PlugReport)> {
    let mut done = Vec::new();
    while let Some(first) = commits.recv().await {
        let mut batch = vec![first];
        let window = tokio::time::Instant::now() + COMMIT_WINDOW;
        while batch.len() < COMMIT_BATCH {
            match tokio::time::timeout_at(window, commits.recv()).await {
                Ok(Some(next)) => batch.push(next),
                _ => break,
            }
        }
        let (snapshot, engine) = (snapshot.clone(), engine.clone());
        let written =
            tokio::task::spawn_blocking(move || write_batch(&snapshot, &engine, batch)).await;
        match written {
            Ok(finished) => done.extend(finished.into_iter().map(|f| {
                emit(events.as_ref(), || {
                    finished_event(f.report_action, Some(&f.report))
                });
                (f.slot, f.report)
            })),
            Err(e) => tracing::error!("a plug state write failed: {e}"),
        }
    }
    done
}

/// Writes one group commit; answers its intents and gives back its
/// finished plugs, failed where their state could not be saved.
fn write_batch(snapshot: &Project, engine: &Session, batch: Vec<Commit>) -> Vec<Finished> {
    let plugs: Vec<Plug> = batch.iter().filter_map(Commit::plug).cloned().collect();
    if !plugs.is_empty()
        && batch.iter().any(|c| matches!(c, Commit::Finished(_)))
        && let Err(e) = engine.secrets().save()
    {
        tracing::error!("cannot save the secrets store: {}", error_chain(&e));
    }
    let mut results = snapshot.write_plugs(&plugs).into_iter();
    let mut finished = Vec::new();
    for c in batch {
        let saved = match c.plug() {
            Some(_) => results
                .next()
                .unwrap_or(Ok(()))
                .map_err(|e| error_chain(&e)),
            None => Ok(()),
        };
        match c {
            Commit::Intent { done, .. } => {
                // The plug's task may be gone (the run stopped): nothing to tell.
                let _ = done.send(saved);
            }
            Commit::Finished(mut f) => {
                if let Err(e) = saved {
                    // Done on the product, not recorded: say so, not "up".
                    let why = format!("its state could not be saved: {e}");
                    tracing::error!("plug {}: {why}", f.report.plug);
                    f.report.verdict = Verdict::Failed;
                    f.report.message = Some(match f.report.message.take() {
                        Some(m) => format!("{m}; {why}"),
                        None => why,
                    });
                }
                finished.push(f);
            }
        }
    }
    finished
}

/// Plan indices, round-robin over the first instance each plug touches.
fn interleave(plugs: &[PlugPlan]) -> Vec<usize> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (i, p) in plugs.iter().enumerate() {
        let key = p
            .steps
            .first()
            .map_or_else(|| p.dst_instance.clone(), |s| s.instance.clone());
        let g = *by_name.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    let mut out = Vec::with_capacity(plugs.len());
    let mut round = 0;
    while out.len() < plugs.len() {
        for (_, g) in &groups {
            if let Some(&i) = g.get(round) {
                out.push(i);
            }
        }
        round += 1;
    }
    out
}

impl PlugRun {
    /// Runs the steps in order, each under its instance's lock and a
    /// permit; stops at the first failure or at an interrupt.
    async fn run(self) -> TaskResult {
        let PlugRun {
            session,
            project,
            mut plug,
            steps,
            action,
            permits,
            interrupt,
            events,
        } = self;
        let name = plug.to_string();
        emit(events.as_ref(), || RunEvent::PlugStarted {
            plug: name.clone(),
            action,
        });
        let mut result = TaskResult {
            plug: plug.clone(),
            steps: Vec::new(),
            error: None,
            interrupted: false,
            checks: Vec::new(),
        };
        let mut reported = 0;
        for (step, lock) in steps {
            report_steps(events.as_ref(), &name, &result.steps, &mut reported);
            let _instance_guard = lock.lock().await;
            let Ok(_permit) = permits.acquire().await else {
                result.error = Some(RunError::Stopped);
                break;
            };
            if interrupt.load(Ordering::Relaxed) {
                result.interrupted = true;
                break;
            }
            emit(events.as_ref(), || RunEvent::StepStarted {
                plug: name.clone(),
                hook: step.hook.clone(),
                instance: step.instance.clone(),
            });
            let called = call(&session, &project, &plug, &step, action).await;
            crate::fsutil::fault::point("hook-returned");
            match called {
                Ok(Called::Outcome(out, max_outputs)) => {
                    let mut merged = plug.settings.clone();
                    merge_outputs(&mut merged, out.outputs);
                    let size = serde_json::to_string(&merged).map_or(usize::MAX, |t| t.len());
                    if size > max_outputs {
                        let error = RunError::OutputsTooLarge {
                            hook: step.hook.clone(),
                            instance: step.instance.clone(),
                            size,
                            limit: max_outputs,
                        };
                        result.steps.push(step_failed(&step, &error));
                        result.error = Some(error);
                        break;
                    }
                    plug.settings = merged;
                    if !out.secrets.is_empty()
                        && let Err(e) = session.secrets().record(&plug_scope(&plug), &out.secrets)
                    {
                        let error = RunError::SecretOutputs {
                            hook: step.hook.clone(),
                            reason: error_chain(&e),
                        };
                        result.steps.push(step_failed(&step, &error));
                        result.error = Some(error);
                        break;
                    }
                    result.steps.push(StepResult {
                        instance: step.instance.clone(),
                        hook: step.hook.clone(),
                        ok: true,
                        detail: None,
                        check: None,
                    });
                }
                Ok(Called::Check(report)) => {
                    result.steps.push(StepResult {
                        instance: step.instance.clone(),
                        hook: step.hook.clone(),
                        ok: true,
                        detail: Some(report.detail.clone()),
                        check: Some(report.state),
                    });
                    result.checks.push(report);
                }
                Err(error) if step.recovery => {
                    // Cleaning after a killed run: what it meant to remove
                    // may never have been made. Said, and the setup goes on.
                    tracing::warn!(plug = %plug, "recovery teardown: {error}");
                    result.steps.push(step_failed(&step, &error));
                }
                Err(error) => {
                    result.steps.push(step_failed(&step, &error));
                    result.error = Some(error);
                    break;
                }
            }
        }
        report_steps(events.as_ref(), &name, &result.steps, &mut reported);
        result.plug = plug;
        result
    }
}

/// Tells `events` about the steps of `plug` finished since the last call.
fn report_steps(
    events: Option<&RunEvents>,
    plug: &str,
    steps: &[StepResult],
    reported: &mut usize,
) {
    for s in steps.get(*reported..).unwrap_or_default() {
        emit(events, || RunEvent::StepFinished {
            plug: plug.to_string(),
            hook: s.hook.clone(),
            instance: s.instance.clone(),
            ok: s.ok,
            check: s.check,
        });
    }
    *reported = steps.len();
}

fn step_failed(step: &Step, error: &RunError) -> StepResult {
    StepResult {
        instance: step.instance.clone(),
        hook: step.hook.clone(),
        ok: false,
        detail: Some(error.to_string()),
        check: None,
    }
}

enum Called {
    /// What setup/teardown returned, and the bound on the plug's recorded
    /// outputs (bytes of JSON).
    Outcome(Outcome, usize),
    Check(CheckReport),
}

/// One hook call.
async fn call(
    session: &Session,
    project: &Project,
    plug: &Plug,
    step: &Step,
    action: Action,
) -> Result<Called, RunError> {
    let prepare = |e: Box<dyn std::error::Error + Send + Sync>| RunError::Prepare {
        hook: step.hook.clone(),
        instance: step.instance.clone(),
        source: e,
    };
    let adapter = match session.adapter(&step.product) {
        Ok(Some(a)) => a,
        Ok(None) => {
            return Err(RunError::NoAdapter {
                product: step.product.clone(),
            });
        }
        Err(e) => return Err(prepare(Box::new(e))),
    };
    let instance = project
        .instance(&step.instance, Some(&step.product))
        .map_err(|e| prepare(Box::new(e)))?;
    let ctx = session
        .context(project, instance, Some(plug), Some(&step.integration))
        .map_err(|e| prepare(Box::new(e)))?;
    let policy = session
        .policy(project, instance, Some(plug))
        .map_err(|e| prepare(Box::new(e)))?;
    tracing::info!(plug = %plug, hook = %step.hook, instance = %step.instance, "{}", step.title);
    let max_outputs = policy
        .limits
        .unwrap_or(session.runtime().config().limits)
        .outputs_bytes;
    let r = match if step.recovery { Action::Down } else { action } {
        Action::Up => adapter
            .setup(&step.hook, &ctx, &policy)
            .await
            .map(|o| Called::Outcome(o, max_outputs)),
        Action::Down => adapter
            .teardown(&step.hook, &ctx, &policy)
            .await
            .map(|o| Called::Outcome(o, max_outputs)),
        Action::Check => adapter
            .check(&step.hook, &ctx, &policy)
            .await
            .map(Called::Check),
    };
    r.map_err(|source| RunError::Hook {
        hook: step.hook.clone(),
        instance: step.instance.clone(),
        source,
    })
}

/// Merges a hook's outputs into the recorded ones (`null` removes one).
fn merge_outputs(recorded: &mut Map<String, Value>, outputs: Map<String, Value>) {
    for (k, v) in outputs {
        if v.is_null() {
            recorded.remove(&k);
        } else {
            recorded.insert(k, v);
        }
    }
}

/// A plug that could not run at all (no setup hook, broken adapter).
fn finish_without_steps(
    project: &mut Project,
    mut plug: Plug,
    action: Action,
    error: RunError,
    persists: bool,
) -> PlugReport {
    let message = error.to_string();
    if action != Action::Check && persists {
        plug.record_failure(&message);
        if let Err(e) = project.save_plug(plug.clone()) {
            tracing::error!("cannot save plug {plug}: {}", error_chain(&e));
        }
    }
    PlugReport {
        plug: plug.to_string(),
        verdict: Verdict::Failed,
        state: plug.state(),
        message: Some(message),
        steps: Vec::new(),
    }
}

/// A plug's outcome (status, outputs, error), the plug to save (none
/// for `check`), and its report.
fn finish(
    engine: &Session,
    result: TaskResult,
    action: Action,
    planned: &PlugPlan,
) -> (Option<Plug>, PlugReport) {
    let TaskResult {
        mut plug,
        steps,
        error,
        interrupted,
        checks,
        ..
    } = result;
    if action == Action::Check {
        let (verdict, message) = if let Some(e) = error {
            (Verdict::Failed, Some(e.to_string()))
        } else if let Some(bad) = checks.iter().find(|c| c.state != CheckState::Up) {
            let state = if bad.state == CheckState::Down {
                "down"
            } else {
                "drifted"
            };
            (
                Verdict::Drifted,
                Some(format!(
                    "up in the project, {state} on the product: {}",
                    bad.detail
                )),
            )
        } else if checks.is_empty() {
            (Verdict::Skipped, planned.skip.clone())
        } else {
            (Verdict::Done, None)
        };
        return (
            None,
            PlugReport {
                plug: plug.to_string(),
                verdict,
                state: plug.state(),
                message,
                steps,
            },
        );
    }
    let error = error.map(|e| e.to_string());
    let verdict = if let Some(e) = &error {
        plug.record_failure(e);
        Verdict::Failed
    } else if interrupted {
        if steps.is_empty() {
            // Stopped before its first hook: nothing of it changed.
            plug.pending = None;
        }
        Verdict::Interrupted
    } else {
        plug.record_success(match action {
            Action::Down => PlugStatus::Down,
            _ => PlugStatus::Up,
        });
        if action == Action::Down
            && let Err(e) = engine.secrets().forget(&plug_scope(&plug))
        {
            tracing::warn!(
                "cannot forget the secret outputs of {plug}: {}",
                error_chain(&e)
            );
        }
        Verdict::Done
    };
    let report = PlugReport {
        plug: plug.to_string(),
        verdict,
        state: plug.state(),
        message: error
            .or_else(|| interrupted.then(|| "interrupted before all its hooks ran".into())),
        steps,
    };
    (Some(plug), report)
}
