//! `meshroom graph`: the mesh (instances and plugs, coloured by status) or
//! the capability graph (products and every feasible edge), as Graphviz dot,
//! Mermaid, JSON or SVG.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use super::Context;
use super::common::{hook_index, load_products, load_project, to_stdout};
use crate::project::graph::{Graph, capability_graph, mesh_graph};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz dot source
    Dot,
    /// Mermaid flowchart
    Mermaid,
    /// Nodes and edges as JSON
    Json,
    /// SVG rendered by Graphviz `dot` (must be installed)
    Svg,
}

/// Draw the mesh (instances and plugs) or, with --capabilities, the products and every feasible edge
#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// Output format
    #[arg(short, long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
    /// Draw products and every edge their capabilities allow, instead of instances and plugs
    #[arg(short, long)]
    pub capabilities: bool,
}

/// A dot string literal: quoted, with `\\`, `"` and newlines escaped.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        escape(f, self.0, |c| match c {
            '\\' => Some("\\\\"),
            '"' => Some("\\\""),
            '\n' => Some("\\n"),
            _ => None,
        })?;
        f.write_char('"')
    }
}

/// Mermaid label text: quotes and newlines as Mermaid writes them.
struct MermaidText<'a>(&'a str);

impl fmt::Display for MermaidText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape(f, self.0, |c| match c {
            '"' => Some("#quot;"),
            '\n' => Some("<br/>"),
            _ => None,
        })
    }
}

/// Writes `s`, each character `replace` maps written as its replacement;
/// runs without any are written whole.
fn escape(
    f: &mut fmt::Formatter<'_>,
    s: &str,
    replace: impl Fn(char) -> Option<&'static str>,
) -> fmt::Result {
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if let Some(r) = replace(c) {
            f.write_str(&s[start..i])?;
            f.write_str(r)?;
            start = i + c.len_utf8();
        }
    }
    f.write_str(&s[start..])
}

/// The colour of an edge of `status`.
fn edge_color(status: &str) -> &'static str {
    match status {
        "up" => "#2e7d32",
        "down" => "#9e9e9e",
        _ => "#1565c0",
    }
}

/// Graphviz dot source.
pub fn to_dot(g: &Graph) -> String {
    let mut out = String::from(
        "digraph mesh {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    // Writing to a String cannot fail.
    for n in &g.nodes {
        let _ = writeln!(out, "  {} [label={}];", Quoted(&n.id), Quoted(&n.label));
    }
    for e in &g.edges {
        let color = edge_color(&e.status);
        let style = if e.trigger { "dashed" } else { "solid" };
        let _ = writeln!(
            out,
            "  {} -> {} [label={}, color=\"{color}\", fontcolor=\"{color}\", style={style}];",
            Quoted(&e.from),
            Quoted(&e.to),
            Quoted(&e.label)
        );
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart source.
pub fn to_mermaid(g: &Graph) -> String {
    let ids: HashMap<&str, usize> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let mut out = String::from("flowchart LR\n");
    // Writing to a String cannot fail.
    for (i, n) in g.nodes.iter().enumerate() {
        let _ = writeln!(out, "  n{i}[\"{}\"]", MermaidText(&n.label));
    }
    let mut link_styles = String::new();
    for (idx, e) in g.edges.iter().enumerate() {
        let (Some(from), Some(to)) = (ids.get(e.from.as_str()), ids.get(e.to.as_str())) else {
            continue;
        };
        let arrow = if e.trigger { "-.->" } else { "-->" };
        let _ = writeln!(
            out,
            "  n{from} {arrow}|\"{}\"| n{to}",
            MermaidText(&e.label)
        );
        let _ = writeln!(
            link_styles,
            "  linkStyle {idx} stroke:{}",
            edge_color(&e.status)
        );
    }
    out.push_str(&link_styles);
    out
}

/// JSON nodes and edges.
pub fn to_json(g: &Graph) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(g)? + "\n")
}

/// SVG via Graphviz `dot -Tsvg`.
fn to_svg(g: &Graph) -> anyhow::Result<Vec<u8>> {
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "`--format svg` needs Graphviz's `dot`, which is not installed (e.g. `apt install graphviz`); `--format dot` prints the source instead"
        ),
        Err(e) => return Err(e).context("failed to run Graphviz `dot`"),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(to_dot(g).as_bytes())
            .context("failed to write to Graphviz `dot`")?;
    }
    let out = child
        .wait_with_output()
        .context("failed to run Graphviz `dot`")?;
    if !out.status.success() {
        bail!(
            "Graphviz `dot` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

pub fn exec(args: GraphArgs, ctx: &Context) -> anyhow::Result<()> {
    let graph = if args.capabilities {
        let project = load_products(ctx)?;
        let hooks = hook_index(ctx, &project)?;
        capability_graph(&project, &hooks)
    } else {
        mesh_graph(&load_project(ctx)?)
    };
    let format = if ctx.json {
        GraphFormat::Json
    } else {
        args.format
    };
    let bytes = match format {
        GraphFormat::Dot => to_dot(&graph).into_bytes(),
        GraphFormat::Mermaid => to_mermaid(&graph).into_bytes(),
        GraphFormat::Json => to_json(&graph)?.into_bytes(),
        GraphFormat::Svg => to_svg(&graph)?,
    };
    to_stdout(|out| out.write_all(&bytes))
}
