//! Helpers shared by the model commands: loading the project once, the hook
//! index, argument parsers, and output (tables or JSON on stdout).

use std::io::Write;

use anyhow::Context as _;
use clap::builder::{PossibleValuesParser, TypedValueParser};

use super::Context;
use crate::project::{HookIndex, Mode, Project, Role};

/// Loads the project at `-p/--path`, warning once about Python hook files
/// (the original's hooks are never executed).
pub fn load_project(ctx: &Context) -> anyhow::Result<Project> {
    let project = Project::load(&ctx.project_dir)?;
    let py: Vec<String> = project
        .python_files()
        .map(|p| {
            p.strip_prefix(project.root())
                .unwrap_or(p)
                .display()
                .to_string()
        })
        .collect();
    if !py.is_empty() {
        let shown = py.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
        let more = if py.len() > 3 {
            format!(" and {} more", py.len() - 3)
        } else {
            String::new()
        };
        tracing::warn!(
            "{} Python hook file(s) found ({shown}{more}): meshroom never executes Python; port their hooks to a WebAssembly adapter (see `meshroom create product --help`)",
            py.len()
        );
    }
    Ok(project)
}

/// Who can set each integration up: the hooks the products' adapters
/// declare (`describe()`, cached by component digest: listing never
/// recompiles).
pub fn hook_index(_ctx: &Context, project: &Project) -> anyhow::Result<HookIndex> {
    crate::engine::listing_hook_index(project)
}

/// Parser for a `push|pull` argument.
pub fn mode_parser() -> impl TypedValueParser<Value = Mode> {
    PossibleValuesParser::new(["push", "pull"]).try_map(|s| s.parse::<Mode>())
}

/// Parser for a `producer|consumer|trigger|executor` argument.
pub fn role_parser() -> impl TypedValueParser<Value = Role> {
    PossibleValuesParser::new(["producer", "consumer", "trigger", "executor"])
        .try_map(|s| s.parse::<Role>())
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).context("failed to write JSON")?;
    writeln!(out).context("failed to write JSON")?;
    Ok(())
}

/// Prints an aligned table on stdout (headers in capitals, two spaces between columns).
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = String>| {
        let mut l = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let pad = widths[i].saturating_sub(cell.chars().count());
            l.push_str(&cell);
            l.extend(std::iter::repeat_n(' ', pad));
        }
        text.push_str(l.trim_end());
        text.push('\n');
    };
    line(&mut headers.iter().map(|h| h.to_uppercase()));
    for row in rows {
        line(&mut row.iter().cloned());
    }
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("failed to write to stdout")
}

/// Confirms an action on stderr ("plugged …"); `-q` silences it.
pub fn done(ctx: &Context, message: impl std::fmt::Display) {
    if !ctx.quiet {
        eprintln!("{message}");
    }
}

/// `-` for empty cells.
pub fn or_dash(s: impl Into<String>) -> String {
    let s = s.into();
    if s.is_empty() { "-".to_string() } else { s }
}
