//! `meshroom up` and `meshroom down`: run the setup (teardown) hooks of the
//! selected plugs through their products' adapters, concurrently, and
//! record what they did.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;

use super::Context;
use super::common::{known, load_scope, mode_parser, print_json, to_stdout};
use super::duration::duration_parser;
use super::exit::ExitError;
use super::tape::TapeArgs;
use crate::engine::{Action, RunOptions, RunReport, Selection, Session, Verdict};
use crate::project::{Mode, Scope};
use crate::runtime::RuntimeConfig;

/// Which plugs: `[INSTANCE] [TARGET] [TOPIC] [MODE]`, as the original.
#[derive(Debug, Clone, clap::Args)]
pub struct ScopeArgs {
    /// Only plugs from this (source) instance
    pub instance: Option<String>,
    /// Only plugs towards this (destination) instance
    pub target_instance: Option<String>,
    /// Only plugs of this topic
    pub topic: Option<String>,
    /// Only plugs in this mode
    #[arg(value_parser = mode_parser())]
    pub mode: Option<Mode>,
}

impl ScopeArgs {
    /// What these arguments read of the project: from a source instance,
    /// that instance (and the target), the instances its plugs reach and
    /// their products; without one, everything (plugs live under their
    /// source instance, so any other selection reads them all).
    pub fn project_scope(&self) -> Scope {
        match &self.instance {
            Some(src) => Scope::around(
                std::iter::once(src)
                    .chain(self.target_instance.as_ref())
                    .cloned(),
            ),
            None => Scope::all(),
        }
    }

    pub fn selection(&self) -> Selection {
        Selection {
            instance: self.instance.clone(),
            target: self.target_instance.clone(),
            topic: self.topic.clone(),
            mode: self.mode,
        }
    }
}

/// Limits of the hook calls, shared by up, down and check.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Most hook calls at once (hooks of one instance always run one at a time)
    #[arg(short = 'j', long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// Time limit of one hook call, wall clock and CPU (`90s`, `2m`, or seconds)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration_parser())]
    pub hook_timeout: Duration,
    /// Raise or lower a bound on what an adapter may return or make the host hold (repeatable), e.g. `--limit outputs_bytes=128KiB`; the names and defaults are in the README ("Bounds"). A product's `limits:` key applies over these
    #[arg(long = "limit", value_name = "NAME=VALUE")]
    pub limits: Vec<String>,
}

impl RunArgs {
    pub fn runtime_config(&self) -> anyhow::Result<RuntimeConfig> {
        let limit = self.hook_timeout;
        let mut limits = crate::runtime::Limits::default();
        for pair in &self.limits {
            limits
                .set_pair(pair)
                .map_err(|e| anyhow::anyhow!("--limit: {e}"))?;
        }
        Ok(RuntimeConfig {
            timeout: limit,
            cpu_limit: limit,
            max_instances: u32::from(self.jobs) + 8,
            limits,
            ..RuntimeConfig::default()
        })
    }
}

/// Set up the selected plugs (all by default) on their products: run their setup hooks
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub tape: TapeArgs,
    /// Also check the plugs already up (their check hooks) and set up again those that drifted
    #[arg(long)]
    pub repair: bool,
}

/// Tear down the selected plugs (all by default) from their products: run their teardown hooks
#[derive(Debug, clap::Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub tape: TapeArgs,
}

/// What `exec` does to the selected plugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Plan `action` and run it.
    Run(Action),
    /// `up --repair`: [`crate::engine::repair`].
    Repair,
}

pub fn exec_up(args: UpArgs, ctx: &Context) -> anyhow::Result<()> {
    let operation = if args.repair {
        Operation::Repair
    } else {
        Operation::Run(Action::Up)
    };
    exec(args.scope, args.run, &args.tape, operation, ctx)
}

pub fn exec_down(args: DownArgs, ctx: &Context) -> anyhow::Result<()> {
    exec(
        args.scope,
        args.run,
        &args.tape,
        Operation::Run(Action::Down),
        ctx,
    )
}

/// Runs `operation` over the selected plugs and prints the report.
pub fn exec(
    scope: ScopeArgs,
    run: RunArgs,
    tape: &TapeArgs,
    operation: Operation,
    ctx: &Context,
) -> anyhow::Result<()> {
    let mut project = load_scope(ctx, &scope.project_scope())?;
    let deck = tape.deck()?;
    let selection = scope.selection();
    check_names(ctx, &project, &selection)?;
    let config = run.runtime_config()?;
    // More workers than cores: a guest spinning until its CPU budget runs
    // out yields often, but must never delay other plugs' I/O.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(4, |n| n.get().max(4)))
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let report = rt.block_on(async {
        let engine = Session::start(&project, config)
            .await
            .context("cannot start the engine")?
            .with_tape(deck.clone());
        let engine = Arc::new(engine);
        let interrupt = Arc::new(AtomicBool::new(false));
        let flag = interrupt.clone();
        let quiet = ctx.quiet;
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::Relaxed);
                if !quiet {
                    eprintln!("interrupted: letting running hooks finish, then saving state");
                }
            }
        });
        // Dashboards open on the project (`meshroom ui`) see the run live.
        let feed = crate::engine::UiFeed::connect(project.root()).await;
        let options = RunOptions {
            jobs: usize::from(run.jobs),
            interrupt,
            events: feed.as_ref().map(|f| f.observer()),
        };
        let report = match operation {
            Operation::Run(action) => {
                let plan = engine.plan(&project, &selection, action);
                crate::engine::run(engine, &mut project, plan, &options).await
            }
            Operation::Repair => {
                crate::engine::repair(engine, &mut project, &selection, &options).await
            }
        };
        if let Some(feed) = feed {
            feed.close(Duration::from_millis(500)).await;
        }
        anyhow::Ok(report)
    })?;
    super::tape::finish(deck.as_ref(), ctx)?;
    print_report(ctx, &report)?;
    verdict(&report)
}

/// Refuses unknown instance names up front (with suggestions).
pub fn check_names(
    ctx: &Context,
    project: &crate::project::Project,
    selection: &Selection,
) -> anyhow::Result<()> {
    let names: Vec<&String> = [&selection.instance, &selection.target]
        .into_iter()
        .flatten()
        .collect();
    known(ctx, project, &names, None)
}

fn print_report(ctx: &Context, report: &RunReport) -> anyhow::Result<()> {
    if ctx.json {
        return print_json(report);
    }
    let mut out = String::new();
    for p in &report.plugs {
        let word = match (report.action, p.verdict) {
            (_, Verdict::Skipped) => "skipped",
            (_, Verdict::Failed) => "FAILED",
            (_, Verdict::Interrupted) => "interrupted",
            (_, Verdict::Drifted) => "DRIFTED",
            (Action::Up, Verdict::Done) => "up",
            (Action::Down, Verdict::Done) => "down",
            (Action::Check, Verdict::Done) => "ok",
        };
        out.push_str(&format!("{word:<11} {}", p.plug));
        if let Some(m) = &p.message {
            out.push_str(&format!(": {m}"));
        }
        out.push('\n');
    }
    let out = super::terminal::for_stdout(&out);
    to_stdout(|w| w.write_all(out.as_bytes()))?;
    Ok(())
}

/// The exit status: a summary error when anything failed, drifted or was interrupted.
fn verdict(report: &RunReport) -> anyhow::Result<()> {
    if report.success() {
        return Ok(());
    }
    let failed = report.count(Verdict::Failed);
    let drifted = report.count(Verdict::Drifted);
    let interrupted = report.count(Verdict::Interrupted);
    let done = report.count(Verdict::Done);
    let mut parts = Vec::new();
    if failed > 0 {
        parts.push(format!("{failed} failed"));
    }
    if drifted > 0 {
        parts.push(format!("{drifted} drifted"));
    }
    if interrupted > 0 || report.interrupted {
        parts.push(format!("{interrupted} interrupted"));
    }
    let verb = match report.action {
        Action::Up => "up",
        Action::Down => "down",
        Action::Check => "checked",
    };
    Err(ExitError {
        code: if failed == 0 && drifted > 0 { 2 } else { 1 },
        message: format!(
            "{} of {} plugs: {} ({done} {verb})",
            failed + drifted + interrupted,
            report.plugs.len(),
            parts.join(", ")
        ),
    }
    .into())
}
