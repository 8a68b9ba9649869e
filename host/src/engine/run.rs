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
//! Each finished plug is saved at once, so an interrupted or crashed run
//! leaves the project describing what really happened.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, Semaphore};

use crate::project::{Plug, PlugStatus, Project};
use crate::runtime::{CheckReport, Outcome, PlugState};

use super::index::error_chain;
use super::plan::{Action, LAST_ERROR_KEY, Plan, PlugPlan, Step};
use super::secrets::plug_scope;
use super::session::Engine;

/// How a run goes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Most hook calls at once.
    pub jobs: usize,
    /// Set (e.g. by Ctrl-C) to start no new hook.
    pub interrupt: Arc<AtomicBool>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: 16,
            interrupt: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// How one plug ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    pub check: Option<PlugState>,
}

/// What happened to one plug.
#[derive(Debug, Clone, Serialize)]
pub struct PlugReport {
    pub plug: String,
    pub verdict: Verdict,
    /// Its state after the run: `up`, `down` or `failed`.
    pub state: &'static str,
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

/// What a plug's task sends back.
struct TaskResult {
    plug: Plug,
    steps: Vec<StepResult>,
    error: Option<String>,
    interrupted: bool,
    checks: Vec<CheckReport>,
}

/// Runs `plan` (made from `project` by [`super::plan::plan`]) and saves
/// each plug as it finishes. `engine` and a snapshot of the project are
/// shared with the plug tasks.
pub async fn run(
    engine: Arc<Engine>,
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
    let snapshot = Arc::new(project.clone());
    let permits = Arc::new(Semaphore::new(options.jobs.max(1)));
    let mut locks: HashMap<String, Arc<Mutex<()>>> = HashMap::new();
    let action = plan.action;
    let mut reports: Vec<Option<PlugReport>> = vec![None; plan.plugs.len()];
    let mut tasks = tokio::task::JoinSet::new();

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
                Some(error.clone()),
            ));
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
        let (engine, snapshot, permits, interrupt) = (
            engine.clone(),
            snapshot.clone(),
            permits.clone(),
            options.interrupt.clone(),
        );
        let planned = pp.clone();
        tasks.spawn(async move {
            let result = run_plug(
                engine.clone(),
                snapshot.clone(),
                plug,
                steps,
                action,
                permits,
                interrupt,
            )
            .await;
            let (plug, report) = finish(&engine, result, action, &planned);
            if let Some(plug) = plug {
                // Saved off the async threads, many plugs at once.
                let path = snapshot.plug_path(&plug);
                match tokio::task::spawn_blocking(move || write_plug(path, &plug)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!("{e}"),
                    Err(e) => tracing::error!("a plug save failed: {e}"),
                }
            }
            (slot, report)
        });
    }

    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((slot, report)) => reports[slot] = Some(report),
            Err(e) => tracing::error!("a plug task failed: {e}"),
        }
    }
    if let Err(e) = engine.secrets().save() {
        tracing::error!("cannot save the secrets store: {}", error_chain(&e));
    }
    RunReport {
        action,
        plugs: reports.into_iter().flatten().collect(),
        interrupted: options.interrupt.load(Ordering::Relaxed),
    }
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

#[allow(clippy::too_many_arguments)]
async fn run_plug(
    engine: Arc<Engine>,
    project: Arc<Project>,
    mut plug: Plug,
    steps: Vec<(Step, Arc<Mutex<()>>)>,
    action: Action,
    permits: Arc<Semaphore>,
    interrupt: Arc<AtomicBool>,
) -> TaskResult {
    let mut result = TaskResult {
        plug: plug.clone(),
        steps: Vec::new(),
        error: None,
        interrupted: false,
        checks: Vec::new(),
    };
    for (step, lock) in steps {
        let _instance_guard = lock.lock().await;
        let Ok(_permit) = permits.acquire().await else {
            result.error = Some("the run was stopped".into());
            break;
        };
        if interrupt.load(Ordering::Relaxed) {
            result.interrupted = true;
            break;
        }
        let outcome = call(&engine, &project, &plug, &step, action).await;
        match outcome {
            Ok(Called::Outcome(out, max_outputs)) => {
                let mut merged = plug.settings.clone();
                merge_outputs(&mut merged, out.outputs);
                let size = serde_json::to_string(&merged).map_or(usize::MAX, |t| t.len());
                if size > max_outputs {
                    let msg = format!(
                        "{} on `{}`: the plug's recorded outputs would be {size} bytes, more than the limit of {} (`outputs_bytes`); nothing of this hook was stored",
                        step.hook,
                        step.instance,
                        crate::runtime::human(max_outputs)
                    );
                    result.steps.push(step_failed(&step, &msg));
                    result.error = Some(msg);
                    break;
                }
                plug.settings = merged;
                if !out.secrets.is_empty()
                    && let Err(e) = engine.secrets().record(&plug_scope(&plug), &out.secrets)
                {
                    let msg = format!(
                        "cannot keep the secret outputs of `{}`: {}",
                        step.hook,
                        error_chain(&e)
                    );
                    result.steps.push(step_failed(&step, &msg));
                    result.error = Some(msg);
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
            Err(message) => {
                result.steps.push(step_failed(&step, &message));
                result.error = Some(message);
                break;
            }
        }
    }
    result.plug = plug;
    result
}

fn step_failed(step: &Step, message: &str) -> StepResult {
    StepResult {
        instance: step.instance.clone(),
        hook: step.hook.clone(),
        ok: false,
        detail: Some(message.to_string()),
        check: None,
    }
}

enum Called {
    /// What setup/teardown returned, and the bound on the plug's recorded
    /// outputs (bytes of JSON).
    Outcome(Outcome, usize),
    Check(CheckReport),
}

/// One hook call, its error as one line naming the hook and instance.
async fn call(
    engine: &Engine,
    project: &Project,
    plug: &Plug,
    step: &Step,
    action: Action,
) -> Result<Called, String> {
    let fail = |e: &(dyn std::error::Error + 'static)| {
        format!("{} on `{}`: {}", step.hook, step.instance, error_chain(e))
    };
    let adapter = match engine.adapter(&step.product) {
        Ok(Some(a)) => a,
        Ok(None) => return Err(format!("product `{}` has no adapter", step.product)),
        Err(e) => return Err(fail(&e)),
    };
    let instance = project
        .instance(&step.instance, Some(&step.product))
        .map_err(|e| fail(&e))?;
    let ctx = engine
        .context(project, instance, Some(plug), Some(&step.integration))
        .map_err(|e| fail(&e))?;
    let policy = engine
        .policy(project, instance, Some(plug))
        .map_err(|e| fail(&e))?;
    tracing::info!(plug = %plug, hook = %step.hook, instance = %step.instance, "{}", step.title);
    let max_outputs = policy
        .limits
        .unwrap_or(engine.runtime().config().limits)
        .outputs_bytes;
    let r = match action {
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
    r.map_err(|e| fail(&e))
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
    error: Option<String>,
) -> PlugReport {
    let message = error.clone();
    if action != Action::Check
        && let Some(e) = &error
    {
        plug.extra
            .insert(LAST_ERROR_KEY.into(), Value::String(e.clone()));
        save(project, &plug);
    }
    PlugReport {
        plug: plug.to_string(),
        verdict: Verdict::Failed,
        state: super::plan::plug_state(&plug),
        message,
        steps: Vec::new(),
    }
}

fn save(project: &mut Project, plug: &Plug) {
    if let Err(e) = project.save_plug(plug.clone()) {
        tracing::error!("cannot save plug {plug}: {}", error_chain(&e));
    }
}

/// Writes a plug file atomically (as [`Project::save_plug`] does).
fn write_plug(
    path: Result<std::path::PathBuf, crate::project::ProjectError>,
    plug: &Plug,
) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot save plug {plug}: {e}");
    let path = path.map_err(|e| fail(&e))?;
    let text = serde_yaml_ng::to_string(plug).map_err(|e| fail(&e))?;
    crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(|e| fail(&e))
}

/// A plug's outcome (status, outputs, error), the plug to save (none
/// for `check`), and its report.
fn finish(
    engine: &Engine,
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
            (Verdict::Failed, Some(e))
        } else if let Some(bad) = checks.iter().find(|c| c.state != PlugState::Up) {
            let state = if bad.state == PlugState::Down {
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
                state: super::plan::plug_state(&plug),
                message,
                steps,
            },
        );
    }
    let verdict = if let Some(e) = &error {
        plug.extra
            .insert(LAST_ERROR_KEY.into(), Value::String(e.clone()));
        Verdict::Failed
    } else if interrupted {
        Verdict::Interrupted
    } else {
        plug.extra.shift_remove(LAST_ERROR_KEY);
        plug.status = match action {
            Action::Down => PlugStatus::Down,
            _ => PlugStatus::Up,
        };
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
        state: super::plan::plug_state(&plug),
        message: error
            .or_else(|| interrupted.then(|| "interrupted before all its hooks ran".into())),
        steps,
    };
    (Some(plug), report)
}
