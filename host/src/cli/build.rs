//! `meshroom build PRODUCT`: build the product's adapter crate (in its
//! product folder) for `wasm32-wasip2`, copy the component next to the
//! definition and point `adapter:` at it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use super::Context;
use super::common::{done, load_project};
use crate::fsutil::write_atomic;

const TARGET: &str = "wasm32-wasip2";

/// Build a product's adapter (the cargo crate in its folder) into a WebAssembly component and
/// set `adapter:` in its definition
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The product whose adapter to build
    pub product: String,
}

pub fn exec(args: BuildArgs, ctx: &Context) -> anyhow::Result<()> {
    let project = load_project(ctx)?;
    let product = project.product(&args.product)?.clone();
    // `create product` scaffolds the crate in `adapter/`; a crate at the
    // product folder's root works too.
    let crate_dir = if product.dir.join("adapter/Cargo.toml").is_file() {
        product.dir.join("adapter")
    } else {
        product.dir.clone()
    };
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "product `{}` has no adapter crate (`{}` is missing); `meshroom create product` scaffolds one, or write a cargo crate there depending on meshroom-sdk",
            product.name,
            manifest.display()
        );
    }
    if target_missing() {
        bail!("the {TARGET} target is not installed: run `rustup target add {TARGET}`");
    }
    let target_dir = crate_dir.join("target");
    let release = target_dir.join(TARGET).join("release");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .context("failed to run `cargo` (is the Rust toolchain installed?)")?;
    if !status.success() {
        if target_missing() {
            bail!("the {TARGET} target is not installed: run `rustup target add {TARGET}`");
        }
        bail!(
            "`cargo build` of the adapter of `{}` failed (see its output above)",
            product.name
        );
    }
    let wasm = newest_wasm(&release)?;
    let file_name = format!("{}.wasm", product.name);
    let bytes =
        std::fs::read(&wasm).with_context(|| format!("failed to read `{}`", wasm.display()))?;
    let dest = product.dir.join(&file_name);
    write_atomic(&dest, &bytes).with_context(|| format!("failed to write `{}`", dest.display()))?;
    if product.definition.adapter.as_deref() != Some(file_name.as_str()) {
        let mut edited = product.clone();
        edited.definition.adapter = Some(file_name.clone());
        edited.save()?;
    }
    done(
        ctx,
        format!(
            "built the adapter of `{}`: {} ({} KiB, {})",
            product.name,
            dest.display(),
            bytes.len() / 1024,
            crate::runtime::digest_of(&bytes)
        ),
    );
    Ok(())
}

/// Whether rustup says the target is not installed (`false` without rustup).
fn target_missing() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && !String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.trim() == TARGET)
        })
}

/// The most recently built `.wasm` in `dir`.
fn newest_wasm(dir: &Path) -> anyhow::Result<PathBuf> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("failed to read `{}`", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let t = std::fs::metadata(&path)?.modified()?;
            if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
                best = Some((t, path));
            }
        }
    }
    best.map(|(_, p)| p)
        .with_context(|| format!("the build produced no `.wasm` in `{}`", dir.display()))
}
