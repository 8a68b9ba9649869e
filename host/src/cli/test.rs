//! `meshroom test`: the products' conformance suites, offline.

use anyhow::Context as _;

use super::Context;
use super::common::{load_project, or_dash, print_json, print_table};
use super::exit::ExitError;
use crate::engine::Session;
use crate::engine::conformance::{ScenarioReport, run_suite};
use crate::runtime::RuntimeConfig;

/// Run the products' conformance scenarios offline: each file in `products/<name>/tests/*.yaml` replays one hook call from its cassette (no socket is opened) and checks what the hook returns; prints a table (or `--json`) and exits with status 1 when a scenario fails
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The products to test (all with scenarios by default)
    pub products: Vec<String>,
}

pub fn exec(args: TestArgs, ctx: &Context) -> anyhow::Result<()> {
    let project = load_project(ctx)?;
    for name in &args.products {
        project.product(name)?;
    }
    let rt = ctx.runtime()?;
    let reports = rt.block_on(async {
        let session = Session::start(&project, RuntimeConfig::default())
            .await
            .context("cannot start the engine")?;
        run_suite(&project, &session, &args.products).await
    })?;
    print(ctx, &reports)?;
    let failed = reports.iter().filter(|r| !r.passed).count();
    if reports.is_empty() && !ctx.quiet {
        eprintln!(
            "no scenarios found (products/<name>/tests/*.yaml); record cassettes with `meshroom up --record DIR` and name them in a scenario"
        );
    }
    if failed > 0 {
        return Err(ExitError {
            code: 1,
            message: format!("{failed} of {} scenarios failed", reports.len()),
        }
        .into());
    }
    Ok(())
}

fn print(ctx: &Context, reports: &[ScenarioReport]) -> anyhow::Result<()> {
    if ctx.json {
        return print_json(reports);
    }
    let rows: Vec<[String; 4]> = reports
        .iter()
        .map(|r| {
            [
                r.product.clone(),
                r.scenario.clone(),
                if r.passed { "ok" } else { "FAILED" }.to_string(),
                format!("{:.1} ms", r.millis),
            ]
        })
        .collect();
    print_table(&["PRODUCT", "SCENARIO", "RESULT", "TIME"], &rows)?;
    for r in reports {
        if !r.passed {
            eprintln!(
                "FAILED {} ({}): {}",
                r.scenario,
                r.file.display(),
                r.message
            );
        }
        if let Some(note) = &r.note {
            eprintln!(
                "note: {} ({}): {}",
                r.scenario,
                or_dash(r.file.display().to_string()),
                note
            );
        }
    }
    Ok(())
}
