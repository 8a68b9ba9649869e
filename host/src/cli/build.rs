//! `meshroom build PRODUCT`: build the product's adapter crate (in its
//! product folder) for `wasm32-wasip2`, copy the component next to the
//! definition and point `adapter:` at it. A product whose hooks are
//! Python files is built by [`super::build_python`].

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use super::Context;
use super::common::{done, load_project};
use crate::fsutil::write_atomic;

const TARGET: &str = "wasm32-wasip2";

/// Build a product's adapter (the cargo crate in its folder, or its Python hook files with
/// componentize-py) into a WebAssembly component and set `adapter:` in its definition
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The product whose adapter to build
    pub product: String,
}

pub fn exec(args: BuildArgs, ctx: &Context) -> anyhow::Result<()> {
    let project = load_project(ctx)?;
    let product = project.product(&args.product)?.clone();
    if super::build_python::is_python_product(&product) {
        return super::build_python::exec(&product, ctx);
    }
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
        return Err(missing_target());
    }
    // cargo chooses the target dir (the crate's `target/`, or
    // `CARGO_TARGET_DIR`, or its config) and names the component it built
    // in its JSON messages on stdout; diagnostics go to stderr as usual.
    let mut child = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--target", TARGET])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest)
        .stdout(Stdio::piped())
        .spawn()
        .context("failed to run `cargo` (is the Rust toolchain installed?)")?;
    let built = match child.stdout.take() {
        Some(stdout) => built_component(BufReader::new(stdout)),
        None => None,
    };
    let status = child.wait().context("failed to wait for `cargo`")?;
    if !status.success() {
        if target_missing() {
            return Err(missing_target());
        }
        bail!(
            "`cargo build` of the adapter of `{}` failed (see its output above)",
            product.name
        );
    }
    let wasm = built.with_context(|| {
        format!(
            "`cargo build` of `{}` produced no WebAssembly component: the crate must be a `cdylib` (`[lib] crate-type = [\"cdylib\"]`)",
            manifest.display()
        )
    })?;
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

/// The error telling how to install the missing target.
fn missing_target() -> anyhow::Error {
    anyhow::anyhow!("the {TARGET} target is not installed: run `rustup target add {TARGET}`")
}

/// Whether rustup says the target is not installed (`false` without rustup).
fn target_missing() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| o.status.success() && !lists_target(&String::from_utf8_lossy(&o.stdout)))
}

/// Whether the output of `rustup target list --installed` lists [`TARGET`].
fn lists_target(installed: &str) -> bool {
    installed.lines().any(|l| l.trim() == TARGET)
}

/// The `.wasm` file of the last `cdylib` among cargo's JSON messages
/// (`--message-format=json…`): the crate being built comes after its
/// dependencies.
fn built_component(messages: impl BufRead) -> Option<PathBuf> {
    let mut found = None;
    for line in messages.lines().map_while(std::io::Result::ok) {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let is_cdylib = message["target"]["crate_types"]
            .as_array()
            .is_some_and(|types| types.iter().any(|t| t == "cdylib"));
        if message["reason"] != "compiler-artifact" || !is_cdylib {
            continue;
        }
        let wasm = message["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .find(|f| f.ends_with(".wasm"));
        if let Some(wasm) = wasm {
            found = Some(PathBuf::from(wasm));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_target_says_which_rustup_command_installs_it() {
        assert!(!lists_target("x86_64-unknown-linux-gnu\nwasm32-wasip1\n"));
        assert!(lists_target("x86_64-unknown-linux-gnu\nwasm32-wasip2\n"));
        assert_eq!(
            missing_target().to_string(),
            "the wasm32-wasip2 target is not installed: run `rustup target add wasm32-wasip2`"
        );
    }

    #[test]
    fn the_component_is_the_last_cdylib_cargo_built() {
        let messages = [
            r#"{"reason":"compiler-artifact","target":{"crate_types":["lib"]},"filenames":["/t/libserde.rlib"]}"#,
            "not json: a line of a build script",
            r#"{"reason":"compiler-artifact","target":{"crate_types":["cdylib"]},"filenames":["/t/wasm32-wasip2/release/acme_adapter.wasm"]}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        assert_eq!(
            built_component(messages.as_bytes()),
            Some(PathBuf::from("/t/wasm32-wasip2/release/acme_adapter.wasm"))
        );
        assert_eq!(
            built_component(&b"{\"reason\":\"build-finished\"}"[..]),
            None
        );
    }
}
