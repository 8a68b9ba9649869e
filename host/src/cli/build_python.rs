//! `meshroom build PRODUCT` for a product whose hooks are Python files, in
//! the original Meshroom's layout (`products/<p>/*.py`,
//! `products/<p>/integrations/<target>/<topic>_<role>[_pull].py`): stages
//! the hook files with meshroom's Python SDK (`sdk/python/`, embedded in
//! this binary) and the pinned packages of a `requirements.txt`, runs
//! componentize-py against the adapter WIT (embedded too) and installs the
//! component beside the definition.
//!
//! The hook files are imported once, at build time (componentize-py's
//! pre-initialisation): a syntax error, a failed import or a bad decorator
//! argument fails the build with the product's file and line. The build
//! never leaves a half-built adapter: the component is written atomically,
//! only after componentize-py succeeded.
//!
//! componentize-py 0.25.1 does not make byte-identical components from
//! identical inputs (upstream issue bytecodealliance/componentize-py#247:
//! the pre-initialised heap differs), so the build is made reproducible by
//! a cache keyed by the sha256 of everything that goes in (SDK, WIT, hook
//! files, requirements, componentize-py version): the same sources give
//! the same component, hence the same digest. This module must not run
//! anything but componentize-py and pip, and never with the caller's
//! environment (the pre-initialised snapshot would keep it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};

use super::Context;
use super::common::done;
use crate::fsutil::write_atomic;
use crate::project::{Product, parse_file_stem};

/// The componentize-py release meshroom builds with (`scripts/setup.sh`
/// installs it).
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// meshroom's Python SDK, as shipped inside this binary.
const SDK_FILES: &[(&str, &str)] = &[
    (
        "meshroom/__init__.py",
        include_str!("../../../sdk/python/meshroom/__init__.py"),
    ),
    (
        "meshroom/_host.py",
        include_str!("../../../sdk/python/meshroom/_host.py"),
    ),
    (
        "meshroom/_registry.py",
        include_str!("../../../sdk/python/meshroom/_registry.py"),
    ),
    (
        "meshroom/_loader.py",
        include_str!("../../../sdk/python/meshroom/_loader.py"),
    ),
    (
        "meshroom/_dispatch.py",
        include_str!("../../../sdk/python/meshroom/_dispatch.py"),
    ),
    (
        "meshroom/decorators.py",
        include_str!("../../../sdk/python/meshroom/decorators.py"),
    ),
    (
        "meshroom/model.py",
        include_str!("../../../sdk/python/meshroom/model.py"),
    ),
    (
        "meshroom/interaction.py",
        include_str!("../../../sdk/python/meshroom/interaction.py"),
    ),
    (
        "requests/__init__.py",
        include_str!("../../../sdk/python/requests/__init__.py"),
    ),
    (
        "requests/exceptions.py",
        include_str!("../../../sdk/python/requests/exceptions.py"),
    ),
    (
        "requests/_wasi.py",
        include_str!("../../../sdk/python/requests/_wasi.py"),
    ),
];

/// The adapter WIT and the WASI packages it uses (`wit/`).
const WIT_FILES: &[(&str, &str)] = &[
    ("adapter.wit", include_str!("../../../wit/adapter.wit")),
    ("deps/cli.wit", include_str!("../../../wit/deps/cli.wit")),
    (
        "deps/clocks.wit",
        include_str!("../../../wit/deps/clocks.wit"),
    ),
    (
        "deps/filesystem.wit",
        include_str!("../../../wit/deps/filesystem.wit"),
    ),
    ("deps/http.wit", include_str!("../../../wit/deps/http.wit")),
    ("deps/io.wit", include_str!("../../../wit/deps/io.wit")),
    (
        "deps/random.wit",
        include_str!("../../../wit/deps/random.wit"),
    ),
    (
        "deps/sockets.wit",
        include_str!("../../../wit/deps/sockets.wit"),
    ),
];

/// The module componentize-py wraps (generated).
const APP_MODULE: &str = "meshroom_app";

/// One hook file of the product.
#[derive(Debug, Clone, PartialEq)]
pub struct HookFile {
    /// Path relative to the product folder, `/`-separated.
    pub rel: String,
    /// The module name the original imports it under
    /// (`<product>.setup`, `<product>.integrations.<target>.<stem>`).
    pub module: String,
    /// For an integration file: the integration it belongs to.
    pub integration: Option<serde_json::Value>,
}

/// Whether `product` holds hook `.py` files.
pub fn is_python_product(product: &Product) -> bool {
    !product.python_files.is_empty()
}

/// The hook files of `product`, product-level files first, each group
/// sorted; an integration file whose name does not parse is an error
/// naming it.
pub fn hook_files(product: &Product) -> anyhow::Result<Vec<HookFile>> {
    let mut top = Vec::new();
    let mut integrations = Vec::new();
    for path in &product.python_files {
        let rel_path = path.strip_prefix(&product.dir).unwrap_or(path);
        let parts: Vec<String> = rel_path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let rel = parts.join("/");
        let stem = |name: &str| name.strip_suffix(".py").unwrap_or(name).to_string();
        match parts.as_slice() {
            [file] => top.push(HookFile {
                module: format!("{}.{}", product.name, stem(file)),
                rel,
                integration: None,
            }),
            [dir, target, file] if dir == "integrations" => {
                let file_stem = stem(file);
                let parsed = parse_file_stem(&file_stem).with_context(|| {
                    format!(
                        "`products/{}/{rel}`: an integration file is named `<topic>_<role>[_<format>][_pull].py` (role: producer, consumer, trigger or executor)",
                        product.name
                    )
                })?;
                integrations.push(HookFile {
                    module: format!("{}.integrations.{target}.{file_stem}", product.name),
                    rel,
                    integration: Some(serde_json::json!({
                        "product": product.name,
                        "target_product": target,
                        "topic": parsed.topic,
                        "role": parsed.role.to_string(),
                        "mode": parsed.mode.to_string(),
                        "format": parsed.format,
                    })),
                });
            }
            _ => {}
        }
    }
    top.sort_by(|a, b| a.rel.cmp(&b.rel));
    integrations.sort_by(|a, b| a.rel.cmp(&b.rel));
    top.extend(integrations);
    Ok(top)
}

/// Builds the component of a Python product and points `adapter:` at it.
pub fn exec(product: &Product, ctx: &Context) -> anyhow::Result<()> {
    refuse_mixed(product)?;
    let files = hook_files(product)?;
    let requirements = product.dir.join("requirements.txt");
    let requirements = requirements.is_file().then_some(requirements);
    let mut sources = BTreeMap::new();
    for f in &files {
        let path = product.dir.join(&f.rel);
        let text =
            std::fs::read(&path).with_context(|| format!("failed to read `{}`", path.display()))?;
        sources.insert(f.rel.clone(), text);
    }
    let req_text = match &requirements {
        Some(p) => {
            Some(std::fs::read(p).with_context(|| format!("failed to read `{}`", p.display()))?)
        }
        None => None,
    };
    let version = product
        .definition
        .extra
        .get("version")
        .and_then(|v| v.as_str())
        .unwrap_or("0.1.0")
        .to_string();
    let key = source_digest(&product.name, &version, &sources, req_text.as_deref());
    let cached = build_cache_dir().map(|d| d.join(format!("{key}.wasm")));
    let bytes = match cached.as_ref().and_then(|p| std::fs::read(p).ok()) {
        Some(bytes) => {
            tracing::info!(
                "reusing the component built from the same sources ({})",
                key
            );
            bytes
        }
        None => {
            let bytes = componentize(product, &files, &version, requirements.as_deref())?;
            if let Some(path) = &cached {
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                if let Err(e) = write_atomic(path, &bytes) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot cache the built component");
                }
            }
            bytes
        }
    };
    let file_name = format!("{}.wasm", product.name);
    let dest = product.dir.join(&file_name);
    write_atomic(&dest, &bytes).with_context(|| format!("failed to write `{}`", dest.display()))?;
    if product.definition.adapter.as_deref() != Some(file_name.as_str()) {
        let mut edited = product.clone();
        edited.definition.adapter = Some(file_name.clone());
        edited.save()?;
    }
    if let Some(hint) = egress_hint(product) {
        tracing::warn!("{hint}");
    }
    done(
        ctx,
        format!(
            "built the Python hooks of `{}` ({} file(s)) into {} ({} KiB, {})",
            product.name,
            files.len(),
            dest.display(),
            bytes.len() / 1024,
            crate::runtime::digest_of(&bytes)
        ),
    );
    Ok(())
}

/// Builds the component of a Python product with componentize-py, without
/// the source-digest cache nor installing it (for benches and tools).
pub fn build_uncached(product: &Product) -> anyhow::Result<Vec<u8>> {
    refuse_mixed(product)?;
    let files = hook_files(product)?;
    let requirements = product.dir.join("requirements.txt");
    let requirements = requirements.is_file().then_some(requirements);
    componentize(product, &files, "0.1.0", requirements.as_deref())
}

/// A product folder with both a Rust adapter crate and Python hooks is
/// ambiguous: refuse it, naming both.
fn refuse_mixed(product: &Product) -> anyhow::Result<()> {
    let crate_manifest = [
        product.dir.join("adapter/Cargo.toml"),
        product.dir.join("Cargo.toml"),
    ]
    .into_iter()
    .find(|p| p.is_file());
    if let Some(manifest) = crate_manifest {
        let py: Vec<String> = product
            .python_files
            .iter()
            .take(3)
            .map(|p| p.display().to_string())
            .collect();
        bail!(
            "product `{}` has both a Rust adapter crate (`{}`) and Python hook files ({}): keep one of them (remove the crate to build the Python hooks, or move the `.py` files out to build the crate)",
            product.name,
            manifest.display(),
            py.join(", ")
        );
    }
    Ok(())
}

/// The sha256 of everything a build reads.
fn source_digest(
    product: &str,
    version: &str,
    sources: &BTreeMap<String, Vec<u8>>,
    requirements: Option<&[u8]>,
) -> String {
    let mut h = Sha256::new();
    let mut part = |name: &str, data: &[u8]| {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((data.len() as u64).to_le_bytes());
        h.update(data);
    };
    part("componentize-py", COMPONENTIZE_PY_VERSION.as_bytes());
    part("product", product.as_bytes());
    part("version", version.as_bytes());
    for (name, text) in SDK_FILES.iter().chain(WIT_FILES) {
        part(name, text.as_bytes());
    }
    for (name, text) in sources {
        part(name, text);
    }
    if let Some(r) = requirements {
        part("requirements.txt", r);
    }
    let digest = h.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where built Python components are kept by source digest.
fn build_cache_dir() -> Option<PathBuf> {
    crate::fsutil::default_cache_dir().map(|d| d.join("python-builds"))
}

/// The componentize-py program: `$MESHROOM_COMPONENTIZE_PY`, else
/// `componentize-py` on `PATH`.
fn componentize_py() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("MESHROOM_COMPONENTIZE_PY").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!(
            "MESHROOM_COMPONENTIZE_PY names `{}`, which does not exist; {}",
            p.display(),
            install_hint()
        );
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("componentize-py");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "building Python hooks needs componentize-py {COMPONENTIZE_PY_VERSION}, which is not installed; {}",
        install_hint()
    )
}

fn install_hint() -> String {
    format!(
        "install it with `python3 -m venv ~/.local/share/meshroom/pyvenv && ~/.local/share/meshroom/pyvenv/bin/pip install componentize-py=={COMPONENTIZE_PY_VERSION}` (or run meshroom's `scripts/setup.sh`), then put that venv's `bin` on PATH or set MESHROOM_COMPONENTIZE_PY to its `componentize-py`"
    )
}

/// Runs componentize-py on a staged copy of the product's hooks.
fn componentize(
    product: &Product,
    files: &[HookFile],
    version: &str,
    requirements: Option<&Path>,
) -> anyhow::Result<Vec<u8>> {
    let tool = componentize_py()?;
    let stage = tempfile::Builder::new()
        .prefix("meshroom-pybuild-")
        .tempdir()
        .context("failed to create a build folder")?;
    let root = stage.path();
    let write = |rel: &str, text: &[u8]| -> anyhow::Result<()> {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create `{}`", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("failed to write `{}`", path.display()))
    };
    for (rel, text) in WIT_FILES {
        write(&format!("wit/{rel}"), text.as_bytes())?;
    }
    for (rel, text) in SDK_FILES {
        write(&format!("sdk/{rel}"), text.as_bytes())?;
    }
    let product_stage = root.join("app").join(&product.name);
    for f in files {
        let text = std::fs::read(product.dir.join(&f.rel))
            .with_context(|| format!("failed to read `{}`", product.dir.join(&f.rel).display()))?;
        write(&format!("app/{}/{}", product.name, f.rel), &text)?;
    }
    write(
        &format!("app/{APP_MODULE}.py"),
        entry_module(&product.name, version, files).as_bytes(),
    )?;
    // componentize-py looks up the implementation of an exported resource
    // (`hooks.watcher`) in a module named after its interface.
    write(
        "app/hooks.py",
        b"from meshroom._dispatch import Watcher  # noqa: F401\n",
    )?;
    let mut python_path = vec![root.join("app"), root.join("sdk")];
    if let Some(req) = requirements {
        let deps = root.join("deps");
        install_requirements(&product.name, req, &deps, &tool)?;
        python_path.push(deps);
    }
    let out = root.join("adapter.wasm");
    let empty_path = root.join("no-path");
    std::fs::create_dir_all(&empty_path).context("failed to create a build folder")?;
    let mut cmd = Command::new(&tool);
    cmd.arg("-q")
        .arg("-d")
        .arg(root.join("wit"))
        .arg("-w")
        .arg("adapter")
        .arg("componentize")
        .arg(APP_MODULE);
    for p in &python_path {
        cmd.arg("-p").arg(p);
    }
    cmd.arg("-o").arg(&out);
    // No environment: it would be baked into the pre-initialised snapshot,
    // and a `VIRTUAL_ENV` or a `python3` on PATH would add the build
    // machine's site-packages to the component.
    cmd.env_clear()
        .env("PATH", &empty_path)
        .env("HOME", root)
        .current_dir(root)
        .stdin(Stdio::null());
    tracing::info!(
        "building the Python hooks of `{}` with componentize-py (about 20 s)",
        product.name
    );
    let output = cmd
        .output()
        .with_context(|| format!("failed to run `{}`", tool.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let text = format!("{stdout}{stderr}");
        bail!(
            "{}",
            build_error(&product.name, &product_stage, root, &text)
        );
    }
    let bytes = std::fs::read(&out).with_context(|| {
        format!(
            "componentize-py reported success but wrote no component at `{}`",
            out.display()
        )
    })?;
    Ok(bytes)
}

/// The generated module componentize-py wraps: imports the hook files
/// (running their decorators) and exports the dispatch.
fn entry_module(product: &str, version: &str, files: &[HookFile]) -> String {
    let list: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            serde_json::json!([
                f.rel,
                f.module,
                f.integration.clone().unwrap_or(serde_json::Value::Null)
            ])
        })
        .collect();
    let lit = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let files_json = serde_json::Value::Array(list).to_string();
    format!(
        "# Generated by `meshroom build`: imports the hook files of `{product}`.\n\
         import json\n\
         import os\n\
         from meshroom import _loader, _registry\n\
         _registry.VERSION = {version}\n\
         _loader.load({product_lit}, os.path.join(os.path.dirname(os.path.abspath(__file__)), {product_lit}), json.loads({files_lit}))\n\
         from meshroom._dispatch import Hooks  # noqa: E402,F401\n",
        version = lit(version),
        product_lit = lit(product),
        files_lit = lit(&files_json),
    )
}

/// A componentize-py failure as the operator needs it: the product file
/// and line of the Python traceback, the exception, then the traceback
/// with the staging paths mapped back to the product's.
pub fn build_error(product: &str, product_stage: &Path, stage: &Path, output: &str) -> String {
    let stage_prefix = product_stage.to_string_lossy().into_owned();
    let shown = format!("products/{product}");
    let mapped: String = output
        .replace(&stage_prefix, &shown)
        .replace(&stage.to_string_lossy().into_owned(), "<build>");
    let lines: Vec<&str> = mapped.lines().collect();
    let mut location = None;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if let Some((file, tail)) = t
            .strip_prefix("File \"")
            .and_then(|rest| rest.split_once('"'))
            && file.starts_with(&format!("{shown}/"))
        {
            let line_no = tail
                .trim_start_matches(", line ")
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or("")
                .to_string();
            location = Some((file.to_string(), line_no, i));
        }
    }
    let exception = lines
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("Caused by")
                && !l.starts_with('^')
                && !l.starts_with("Error:")
                && l.contains(':')
                && l.split(':').next().is_some_and(|w| {
                    w.ends_with("Error") || w.ends_with("Exception") || w.ends_with("Interrupt")
                })
        })
        .unwrap_or("the Python hooks could not be imported")
        .to_string();
    let tail: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let tail = tail[tail.len().saturating_sub(20)..].join("\n");
    match location {
        Some((file, line, _)) => format!(
            "building the Python hooks of `{product}` failed: {file}, line {line}: {exception}\n\n{tail}"
        ),
        None => format!("building the Python hooks of `{product}` failed: {exception}\n\n{tail}"),
    }
}

/// Installs the pinned, hashed packages of `requirements.txt` into `deps`
/// (pure-Python wheels only) and refuses packages with native extensions.
fn install_requirements(
    product: &str,
    requirements: &Path,
    deps: &Path,
    componentize_py: &Path,
) -> anyhow::Result<()> {
    let python = componentize_py
        .parent()
        .map(|d| d.join("python3"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("python3"));
    let output = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--require-hashes", "--no-deps", "--only-binary=:all:"])
        .args([
            "--python-version",
            "3.12",
            "--implementation",
            "py",
            "--platform",
            "any",
        ])
        .arg("--target")
        .arg(deps)
        .arg("-r")
        .arg(requirements)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to run `{} -m pip`", python.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if let Some(name) = stderr
            .lines()
            .find_map(|l| l.split("No matching distribution found for ").nth(1))
        {
            bail!(
                "`products/{product}/requirements.txt`: `{}` has no pure-Python wheel (it has native extensions, or no such version exists): only pure-Python packages can run in the sandbox",
                name.trim()
            );
        }
        let hint = if stderr.contains("hash") || stderr.contains("pinned") || stderr.contains("==")
        {
            " (every line must be pinned with `==` and carry `--hash=sha256:…`: make it with `pip-compile --generate-hashes` or `pip download` + `pip hash`)"
        } else {
            ""
        };
        bail!(
            "installing `products/{product}/requirements.txt` failed{hint}:\n{}",
            stderr.trim()
        );
    }
    let native = native_packages(deps);
    if !native.is_empty() {
        bail!(
            "`products/{product}/requirements.txt`: {} ha{} native extensions, which cannot run in the sandbox (only pure-Python packages can)",
            native.join(", "),
            if native.len() == 1 { "s" } else { "ve" }
        );
    }
    Ok(())
}

/// The installed distributions (from their `*.dist-info/RECORD`) that
/// ship compiled extension modules.
pub fn native_packages(deps: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(deps) else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(dist) = name.strip_suffix(".dist-info") else {
            continue;
        };
        let Ok(record) = std::fs::read_to_string(entry.path().join("RECORD")) else {
            continue;
        };
        let native = record.lines().any(|l| {
            let file = l.split(',').next().unwrap_or("");
            file.ends_with(".so") || file.ends_with(".pyd") || file.ends_with(".dylib")
        });
        if native {
            out.push(dist.split('-').next().unwrap_or(dist).to_string());
        }
    }
    out.sort();
    out
}

/// Without an `egress:` key a product reaches nothing: the line to add,
/// from its URL-typed settings.
pub fn egress_hint(product: &Product) -> Option<String> {
    if product.definition.extra.contains_key("egress") {
        return None;
    }
    let urls: Vec<String> = product
        .definition
        .settings
        .iter()
        .filter(|s| {
            let n = s.name.to_ascii_lowercase();
            n == "url"
                || n.ends_with("_url")
                || n.ends_with("url")
                || n == "endpoint"
                || n == "host"
        })
        .map(|s| format!("\"{{{{{}}}}}\"", s.name))
        .collect();
    let line = if urls.is_empty() {
        "egress:\\n  http: [\"{{url}}\"]".to_string()
    } else {
        format!("egress:\\n  http: [{}]", urls.join(", "))
    };
    Some(format!(
        "product `{}` has no `egress:` key, so its hooks can reach no host (default deny): add `{line}` to `products/{}/definition.yaml`",
        product.name, product.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracebacks_name_the_product_file_and_line() {
        let stage = Path::new("/tmp/meshroom-pybuild-x");
        let pstage = stage.join("app/acme");
        let out = "Traceback (most recent call last):\n  File \"/tmp/meshroom-pybuild-x/app/meshroom_app.py\", line 5, in <module>\n  File \"products/acme/setup.py\", line 3\n    def broken(:\n               ^\nSyntaxError: invalid syntax\nError: pre-initialization failed\n";
        let msg = build_error("acme", &pstage, stage, out);
        assert!(
            msg.starts_with(
                "building the Python hooks of `acme` failed: products/acme/setup.py, line 3: SyntaxError: invalid syntax"
            ),
            "{msg}"
        );
        assert!(!msg.contains("/tmp/meshroom-pybuild-x"), "{msg}");
    }

    #[test]
    fn native_extensions_are_found_in_records() {
        let dir = tempfile::tempdir().unwrap();
        let pure = dir.path().join("six-1.16.0.dist-info");
        let native = dir.path().join("PyYAML-6.0.2.dist-info");
        std::fs::create_dir_all(&pure).unwrap();
        std::fs::create_dir_all(&native).unwrap();
        std::fs::write(pure.join("RECORD"), "six.py,sha256=x,1\n").unwrap();
        std::fs::write(
            native.join("RECORD"),
            "yaml/__init__.py,sha256=x,1\n_yaml/_yaml.cpython-312-x86_64-linux-gnu.so,sha256=y,2\n",
        )
        .unwrap();
        assert_eq!(native_packages(dir.path()), vec!["PyYAML".to_string()]);
    }

    #[test]
    fn the_source_digest_changes_with_any_input() {
        let mut s = BTreeMap::new();
        s.insert("setup.py".to_string(), b"x = 1\n".to_vec());
        let a = source_digest("p", "0.1.0", &s, None);
        assert_eq!(a, source_digest("p", "0.1.0", &s, None));
        s.insert("setup.py".to_string(), b"x = 2\n".to_vec());
        assert_ne!(a, source_digest("p", "0.1.0", &s, None));
        assert_ne!(a, source_digest("p", "0.1.0", &s, Some(b"six==1")));
    }
}
