//! `meshroom init [PATH]`: a new project folder, under git.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use super::Context;
use super::common::done;
use crate::fsutil::write_atomic;

/// Initialize a new meshroom project (products/, instances/, README, .gitignore, trust.yaml
/// requiring signed adapters from every remote registry, git repository)
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Project folder to create, relative to `-p/--path` (default: `-p/--path` itself)
    pub path: Option<PathBuf>,
}

const GITIGNORE: &str = "\
# meshroom: caches and local state are never committed.
.meshroom/
target/
mirrors/
__pycache__/
*.pyc
# Plaintext secrets must never be committed (secrets.age is encrypted and is).
*.plain
*.plaintext
.env
*.key
identity.txt
";

fn readme(name: &str) -> String {
    format!(
        "# {name}\n\n\
         A Cybersecurity Mesh Architecture managed with [meshroom](https://github.com/meshroom-rs/meshroom).\n\n\
         - `products/` describes each product's capabilities (`meshroom create product NAME --from CATEGORY`).\n\
         - `instances/` holds each product's instances and their plugs (`meshroom add`, `meshroom plug`).\n\n\
         See the mesh with `meshroom list plugs` and `meshroom graph`.\n"
    )
}

pub fn exec(args: InitArgs, ctx: &Context) -> anyhow::Result<()> {
    let dir = match &args.path {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => ctx.project_dir.join(p),
        None => ctx.project_dir.clone(),
    };
    if crate::project::is_project(&dir) {
        tracing::info!("`{}` is already a meshroom project", dir.display());
        ensure_git(&dir)?;
        done(
            ctx,
            format!(
                "{} is already a meshroom project: nothing to do",
                dir.display()
            ),
        );
        return Ok(());
    }
    if dir.exists() {
        if !dir.is_dir() {
            bail!("`{}` exists and is not a folder", dir.display());
        }
        let non_empty = std::fs::read_dir(&dir)
            .with_context(|| format!("failed to read `{}`", dir.display()))?
            .next()
            .is_some();
        if non_empty {
            bail!(
                "`{}` is not empty and is not a meshroom project (no `products/` folder); choose an empty or new folder",
                dir.display()
            );
        }
    }
    let name = dir
        .canonicalize()
        .ok()
        .or_else(|| std::path::absolute(&dir).ok())
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "mesh".to_string());
    let write = |rel: &str, text: &str| -> anyhow::Result<()> {
        let path = dir.join(rel);
        write_atomic(&path, text.as_bytes())
            .with_context(|| format!("failed to write `{}`", path.display()))
    };
    write("README.md", &readme(&name))?;
    write(".gitignore", GITIGNORE)?;
    // Signatures required from every remote registry (see `meshroom verify`).
    write(
        crate::project::TRUST_FILE,
        crate::project::DEFAULT_TRUST_FILE,
    )?;
    for sub in ["products", "instances"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("failed to create `{}`", path.display()))?;
    }
    ensure_git(&dir)?;
    done(
        ctx,
        format!("initialized meshroom project `{name}` in {}", dir.display()),
    );
    Ok(())
}

/// `git init` unless the folder is already in a git work tree; a missing git
/// is a warning, not an error (the project works without it).
fn ensure_git(dir: &Path) -> anyhow::Result<()> {
    let inside = Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(dir)
        .output();
    match inside {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(
                "git is not installed: the project is not under version control (install git and run `git init`)"
            );
            return Ok(());
        }
        Err(e) => return Err(e).context("failed to run git"),
        Ok(out) if out.status.success() => return Ok(()),
        Ok(_) => {}
    }
    let out = Command::new("git")
        .args(["init", "--quiet"])
        .current_dir(dir)
        .output()
        .context("failed to run `git init`")?;
    if !out.status.success() {
        bail!(
            "`git init` failed in `{}`: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
