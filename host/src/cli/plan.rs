//! `meshroom plan`: every hook `up` (or `down` with `--down`) would run, in
//! order, and what it would skip — without running anything.

use anyhow::Context as _;

use super::Context;
use super::common::{load_scope, print_json, to_stdout};
use super::up::{ScopeArgs, check_names};
use crate::engine::{Action, Session};
use crate::runtime::RuntimeConfig;

/// Show every hook `meshroom up` would run on the selected plugs, in order, and what it would
/// skip, without running anything
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Plan `meshroom down` (teardown hooks) instead
    #[arg(long)]
    pub down: bool,
}

pub fn exec(args: PlanArgs, ctx: &Context) -> anyhow::Result<()> {
    let project = load_scope(ctx, &args.scope.project_scope())?;
    let selection = args.scope.selection();
    check_names(ctx, &project, &selection)?;
    let action = if args.down { Action::Down } else { Action::Up };
    let plan = ctx.runtime()?.block_on(async {
        let engine = Session::start(
            &project,
            RuntimeConfig {
                pooling: false,
                ..RuntimeConfig::default()
            },
        )
        .await
        .context("cannot start the engine")?;
        anyhow::Ok(engine.plan(&project, &selection, action))
    })?;
    if ctx.json {
        return print_json(&plan);
    }
    let mut out = String::new();
    for p in &plan.plugs {
        if let Some(e) = &p.error {
            out.push_str(&format!("{} [{}]: would fail: {e}\n", p.plug, p.state));
            continue;
        }
        if let Some(s) = &p.skip {
            out.push_str(&format!("{} [{}]: skip ({s})\n", p.plug, p.state));
            continue;
        }
        out.push_str(&format!("{} [{}]\n", p.plug, p.state));
        for (i, s) in p.steps.iter().enumerate() {
            out.push_str(&format!(
                "  {}. {} on {} ({}, {:?} side): {}\n",
                i + 1,
                s.hook,
                s.instance,
                s.product,
                s.side,
                s.title
            ));
        }
    }
    if plan.plugs.is_empty() {
        out.push_str("no plug selected\n");
    }
    let out = super::terminal::for_stdout(&out);
    to_stdout(|w| w.write_all(out.as_bytes()))?;
    if !ctx.quiet {
        eprintln!(
            "{} hook call(s) on {} plug(s)",
            plan.step_count(),
            plan.plugs.len()
        );
    }
    Ok(())
}
