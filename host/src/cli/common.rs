//! Helpers shared by the model commands: loading the project once, the hook
//! index, argument parsers, and output (tables or JSON on stdout).

use std::io::Write;

use clap::builder::{PossibleValuesParser, TypedValueParser};

use super::Context;
use crate::project::{HookIndex, Mode, Project, Role, Scope};

/// Loads the project at `-p/--path`, warning once about Python hook files
/// not built into an adapter yet.
pub fn load_project(ctx: &Context) -> anyhow::Result<Project> {
    load_scope(ctx, &Scope::all())
}

/// [`load_project`] of the products alone (no instances, no plugs): for
/// commands about products only.
pub fn load_products(ctx: &Context) -> anyhow::Result<Project> {
    load_scope(ctx, &Scope::products())
}

/// [`load_project`] of what `scope` names: each command asks for what it reads.
pub fn load_scope(ctx: &Context, scope: &Scope) -> anyhow::Result<Project> {
    let project = Project::load_scope(&ctx.project_dir, scope)?;
    warn_python_files(&project);
    Ok(project)
}

/// Checks that `names` are instances of the project (`product` among its
/// products, when given), with suggestions from the whole project when
/// `project` was loaded under a narrower scope.
pub fn known(
    ctx: &Context,
    project: &Project,
    instances: &[&String],
    product: Option<&str>,
) -> anyhow::Result<()> {
    let check = |p: &Project| -> crate::project::Result<()> {
        for name in instances {
            p.instance(name, None)?;
        }
        if let Some(name) = product {
            p.product(name)?;
        }
        Ok(())
    };
    match check(project) {
        Ok(()) => Ok(()),
        Err(_) if !project.loaded_everything() => {
            let scope = Scope::catalog();
            Ok(check(&Project::load_scope(&ctx.project_dir, &scope)?)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Warns once per product whose Python hook files have no built adapter
/// yet (their hooks run only once `meshroom build` made the component),
/// naming the command that builds it.
fn warn_python_files(project: &Project) {
    for product in project.products() {
        if product.python_files.is_empty() {
            continue;
        }
        let built = product
            .adapter_path()
            .map_or(product.definition.adapter.is_some(), |p| p.is_file());
        if built {
            if let Some(hint) = super::build_python::egress_hint(product) {
                tracing::warn!("{hint}");
            }
            continue;
        }
        let shown: Vec<String> = product
            .python_files
            .iter()
            .take(3)
            .map(|p| {
                p.strip_prefix(project.root())
                    .unwrap_or(p)
                    .display()
                    .to_string()
            })
            .collect();
        let more = if product.python_files.len() > 3 {
            format!(" and {} more", product.python_files.len() - 3)
        } else {
            String::new()
        };
        tracing::warn!(
            "product `{}` has {} Python hook file(s) ({}{more}) but no built adapter: they do not run until `meshroom build {}` makes their component",
            product.name,
            product.python_files.len(),
            shown.join(", "),
            product.name
        );
    }
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
    to_stdout(|out| write_json(out, value))
}

/// Prints an aligned table on stdout; see [`write_table`].
pub fn print_table<R, C>(headers: &[&str], rows: &[R]) -> anyhow::Result<()>
where
    R: AsRef<[C]>,
    C: AsRef<str>,
{
    to_stdout(|out| write_table(out, headers, rows))
}

/// Prints one line on stdout; unlike `println!`, a reader that went away is
/// an error (which `main` ends quietly), never a panic.
pub fn print_line(line: impl std::fmt::Display) -> anyhow::Result<()> {
    to_stdout(|out| writeln!(out, "{line}"))
}

/// Runs `write` on buffered stdout; a closed pipe is [`StdoutClosed`].
pub fn to_stdout(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// An error writing to stdout: [`StdoutClosed`] when its reader went away.
pub fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        StdoutClosed.into()
    } else {
        anyhow::Error::new(e).context("failed to write to stdout")
    }
}

/// The reader of meshroom's output went away (`meshroom … | head`): not a
/// failure, `main` ends quietly. Only stdout writes give it: a broken pipe
/// to a product is an error like any other.
#[derive(Debug, thiserror::Error)]
#[error("the reader of the output went away")]
pub struct StdoutClosed;

/// Writes `value` as pretty JSON and a newline.
pub fn write_json<T: serde::Serialize + ?Sized>(
    out: &mut dyn Write,
    value: &T,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// Writes an aligned table (headers in capitals, two spaces between
/// columns, no trailing blanks).
pub fn write_table<R, C>(out: &mut dyn Write, headers: &[&str], rows: &[R]) -> std::io::Result<()>
where
    R: AsRef<[C]>,
    C: AsRef<str>,
{
    write_table_with(out, headers, rows.len(), |n| rows[n].as_ref())
}

/// [`write_table`] of `count` rows, row `n`'s cells given by `row(n)`:
/// called twice per row, for the widths then to write, so that a long
/// listing keeps no rows.
pub fn write_table_with<R, C>(
    out: &mut dyn Write,
    headers: &[&str],
    count: usize,
    row: impl Fn(usize) -> R,
) -> std::io::Result<()>
where
    R: AsRef<[C]>,
    C: AsRef<str>,
{
    let mut widths: Vec<usize> = headers.iter().map(|h| text_width(h)).collect();
    for n in 0..count {
        let cells = row(n);
        for (w, cell) in widths.iter_mut().zip(cells.as_ref()) {
            *w = (*w).max(text_width(cell.as_ref()));
        }
    }
    let mut table = TableWriter::new(out, headers, widths)?;
    (0..count).try_for_each(|n| table.line(row(n).as_ref()))
}

/// The columns `s` takes on a terminal: its bytes when ASCII (the common
/// case), else its Unicode width (wide glyphs such as CJK and most emoji
/// take two columns, combining marks none).
pub fn text_width(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        unicode_width::UnicodeWidthStr::width(s)
    }
}

/// `s` cut to at most `max` columns, ending with `…` when cut.
pub fn truncate_to_width(s: &str, max: usize) -> String {
    if text_width(s) <= max {
        return s.to_string();
    }
    // Widths of the prefix so far (not a sum of chars: an emoji with a
    // presentation selector is wider than its chars); descriptions are short.
    let mut out = String::new();
    for c in s.chars() {
        out.push(c);
        if text_width(&out) + 1 > max {
            out.pop();
            break;
        }
    }
    let mut out = out.trim_end().to_string();
    out.push('…');
    out
}

/// Writes a table line by line, each built in one buffer first (one write
/// per line, not per cell).
struct TableWriter<'w> {
    out: &'w mut dyn Write,
    widths: Vec<usize>,
    line: Vec<u8>,
}

impl<'w> TableWriter<'w> {
    /// Starts a table with columns `widths` wide by writing its headers.
    fn new(
        out: &'w mut dyn Write,
        headers: &[&str],
        widths: Vec<usize>,
    ) -> std::io::Result<TableWriter<'w>> {
        let mut table = TableWriter {
            out,
            widths,
            line: Vec::new(),
        };
        let upper: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
        table.line(&upper)?;
        Ok(table)
    }

    /// One line: each cell padded to its column's width, two spaces between
    /// columns, trailing empty cells and blanks left out.
    fn line<C: AsRef<str>>(&mut self, cells: &[C]) -> std::io::Result<()> {
        let shown = cells
            .iter()
            .rposition(|c| !c.as_ref().is_empty())
            .map_or(0, |i| i + 1)
            .min(self.widths.len());
        self.line.clear();
        for (i, cell) in cells[..shown].iter().enumerate() {
            let cell = cell.as_ref();
            self.line.extend_from_slice(cell.as_bytes());
            if i + 1 < shown {
                let pad = self.widths[i].saturating_sub(text_width(cell)) + 2;
                self.line.resize(self.line.len() + pad, b' ');
            }
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn table(headers: &[&str], rows: &[Vec<&str>]) -> String {
        let mut out = Vec::new();
        write_table(&mut out, headers, rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn wide_glyphs_take_two_columns() {
        let text = table(
            &["name", "description", "vendor"],
            &[
                vec!["edr", "终端检测与响应", "acme"],
                vec!["siem", "🛡️ logs 📈", "bolt"],
                vec!["waf", "café", "cirrus"],
            ],
        );
        // Every VENDOR cell starts at the same terminal column.
        let columns: Vec<usize> = text
            .lines()
            .map(|line| {
                let start = line.rfind("  ").unwrap() + 2;
                text_width(&line[..start])
            })
            .collect();
        assert_eq!(columns, [22, 22, 22, 22], "{text}");
        assert_eq!(text.lines().nth(1).unwrap(), "edr   终端检测与响应  acme");
        assert_eq!(text_width("终端"), 4);
        assert_eq!(
            text_width("e\u{301}"),
            1,
            "a combining accent takes no column"
        );
    }

    #[test]
    fn truncation_counts_columns() {
        assert_eq!(truncate_to_width("short", 10), "short");
        assert_eq!(truncate_to_width("abcdefghij", 5), "abcd…");
        assert_eq!(truncate_to_width("终端检测与响应", 6), "终端…");
        assert_eq!(truncate_to_width("📈📈📈📈", 5), "📈📈…");
        assert_eq!(truncate_to_width("🛡️🛡️🛡️🛡️", 5), "🛡️🛡️…");
    }
}
