//! Python adapters (componentize-py components, about 19 MB): build time
//! and size, first compile, load from the compiled cache, and one trivial
//! hook call in a fresh instance, each beside the Rust example adapter's
//! figure. Prints medians. Needs `scripts/setup.sh` (componentize-py in
//! `target/pyvenv`) and the adapters built (`scripts/build-adapters.sh`),
//! then `cargo bench -p meshroom-host --bench python`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use meshroom::project::Project;
use meshroom::runtime::{CallPolicy, HookContext, HookKind, InstanceRef, Runtime, RuntimeConfig};
use serde_json::json;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn config(dir: &Path) -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: Some(dir.to_path_buf()),
        ..RuntimeConfig::default()
    }
}

/// Builds `adapters/example-http-py` with the real build code.
fn build_python() -> (Vec<u8>, Duration) {
    let tool = root().join("target/pyvenv/bin/componentize-py");
    assert!(tool.is_file(), "run scripts/setup.sh");
    // SAFETY: no other thread runs yet (the tokio runtime starts after the
    // builds); only the build code reads it.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("MESHROOM_COMPONENTIZE_PY", &tool)
    };
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("products/example_http_py");
    std::fs::create_dir_all(&dest).unwrap();
    for f in ["definition.yaml", "setup.py"] {
        std::fs::copy(
            root().join("adapters/example-http-py").join(f),
            dest.join(f),
        )
        .unwrap();
    }
    let project = Project::load(dir.path()).unwrap();
    let product = project.product("example_http_py").unwrap();
    let t = Instant::now();
    let bytes = meshroom::cli::build_python::build_uncached(product).unwrap();
    (bytes, t.elapsed())
}

fn figures(tokio: &tokio::runtime::Runtime, label: &str, bytes: &[u8], hook_topic: &str) {
    let cache = tempfile::tempdir().unwrap();
    // First compile (empty cache).
    let rt = Runtime::new(config(cache.path())).unwrap();
    let t = Instant::now();
    let adapter = tokio.block_on(rt.load(bytes, label)).unwrap();
    let first = t.elapsed();
    drop(adapter);
    drop(rt);
    // Load from the compiled cache, in a new runtime each time (a new process).
    let mut loads = Vec::new();
    for _ in 0..15 {
        let rt = Runtime::new(config(cache.path())).unwrap();
        let t = Instant::now();
        let a = tokio.block_on(rt.load(bytes, label)).unwrap();
        loads.push(t.elapsed());
        drop(a);
    }
    // Fresh instance + trivial hook call (an execute answering locally).
    let rt = Runtime::new(config(cache.path())).unwrap();
    let adapter = tokio.block_on(rt.load(bytes, label)).unwrap();
    let hook = adapter
        .info()
        .hooks_of(HookKind::Execute)
        .find(|h| h.topic.as_deref() == Some(hook_topic))
        .unwrap()
        .id
        .clone();
    let ctx = HookContext {
        instance: Some(InstanceRef {
            name: "siem1".into(),
            product: adapter.product().to_string(),
            settings: json!({}),
        }),
        ..HookContext::default()
    };
    let policy = CallPolicy::deny_all();
    let params = json!({"ip": "10.0.0.1"});
    let mut calls = Vec::new();
    for i in 0..220 {
        let t = Instant::now();
        tokio
            .block_on(adapter.execute(&hook, &ctx, &params, &policy))
            .unwrap();
        if i >= 20 {
            calls.push(t.elapsed());
        }
    }
    println!(
        "{label}: {} KiB; first compile {:.2?}; load from compiled cache {:.2?} (median of 15); fresh instance + trivial hook call {:.2?} (median of 200)",
        bytes.len() / 1024,
        first,
        median(loads),
        median(calls)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut builds = Vec::new();
    let mut bytes = Vec::new();
    for _ in 0..3 {
        let (b, d) = build_python();
        builds.push(d);
        bytes = b;
    }
    println!(
        "python build (componentize-py 0.25.1): {} KiB, median of 3 builds {:.1?}",
        bytes.len() / 1024,
        median(builds)
    );
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    figures(&tokio, "example_http_py (Python)", &bytes, "block_ip");
    let rust =
        std::fs::read(root().join("adapters/target/wasm32-wasip2/release/example_http.wasm"))
            .expect("run scripts/build-adapters.sh");
    figures(&tokio, "example_http (Rust)", &rust, "block_ip");
}
