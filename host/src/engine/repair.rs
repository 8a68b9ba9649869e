//! `up --repair` as one engine operation: check the selected plugs that are
//! up, set up again those whose check found drift, and report both in one
//! [`RunReport`]. A plug whose check failed is failed (whether it drifted
//! is unknown), never assumed fine.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::project::Project;

use super::plan::{Action, Selection};
use super::run::{PlugReport, RunOptions, RunReport, Verdict, run};
use super::session::Session;

/// Checks the plugs `selection` picks that are up, then runs `up` on them
/// with the drifted ones set up again.
pub async fn repair(
    session: Arc<Session>,
    project: &mut Project,
    selection: &Selection,
    options: &RunOptions,
) -> RunReport {
    let checks = session.plan(project, selection, Action::Check);
    let checked = run(session.clone(), project, checks, options).await;
    let drifted: HashSet<String> = checked
        .plugs
        .iter()
        .filter(|p| p.verdict == Verdict::Drifted)
        .map(|p| p.plug.clone())
        .collect();
    let plan = session.plan_repair(project, selection, &drifted);
    let report = run(session, project, plan, options).await;
    with_checks(report, checked)
}

/// The report of `up --repair`: plugs set up again say what drift their
/// check found; plugs whose check failed are failed (whether they drifted
/// is unknown), not skipped as already up.
fn with_checks(mut report: RunReport, checked: RunReport) -> RunReport {
    report.interrupted |= checked.interrupted;
    let checked: HashMap<String, PlugReport> = checked
        .plugs
        .into_iter()
        .map(|p| (p.plug.clone(), p))
        .collect();
    for p in &mut report.plugs {
        let Some(check) = checked.get(&p.plug) else {
            continue;
        };
        let found = check.message.as_deref().unwrap_or("no detail");
        match (check.verdict, p.verdict) {
            (Verdict::Drifted, Verdict::Done) => {
                p.message = Some(format!("set up again: it had drifted ({found})"));
            }
            (Verdict::Failed, Verdict::Skipped) => {
                p.verdict = Verdict::Failed;
                p.message = Some(format!("cannot check it: {found}"));
                p.steps.clone_from(&check.steps);
            }
            _ => {}
        }
    }
    report.interrupted |= checked.values().any(|c| c.verdict == Verdict::Interrupted);
    report
}
