//! Python adapters (componentize-py components, about 19 MB): build time
//! and size, first compile, load from the compiled cache, one trivial hook
//! call in a fresh instance (target: ≤ 1 ms), each beside the Rust example
//! adapter's figure; then `up` of the 500-plug mesh of `support/mesh.rs`
//! through the Python twin against the same mesh through the Rust adapter
//! (target: ≤ 1.5×), runs interleaved so both see the same machine. Prints
//! medians. Needs `scripts/setup.sh` (componentize-py in `target/pyvenv`)
//! and the adapters built (`scripts/build-adapters.sh`), then
//! `cargo bench -p meshroom-host --bench python` (`-- --quick`: one build,
//! fewer runs).

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unsafe_code)] // `support/cpu_time.rs` calls `clock_gettime`

#[path = "support/cpu_time.rs"]
#[allow(dead_code)] // its criterion measurement is not used here
mod cpu_time;
#[path = "support/mesh.rs"]
mod mesh;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use meshroom::project::Project;
use meshroom::runtime::{
    CallPolicy, HookContext, HookKind, InstanceRef, MemoryReset, Mode, PlugRef, Runtime,
    RuntimeConfig,
};
use serde_json::json;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// CPU time of this process so far.
fn cpu_time() -> Duration {
    Duration::from_nanos(cpu_time::cpu_now_ns())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn config(dir: &Path, reset: MemoryReset) -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: Some(dir.to_path_buf()),
        memory_reset: reset,
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

fn figures(
    tokio: &tokio::runtime::Runtime,
    label: &str,
    bytes: &[u8],
    hook_topic: &str,
    reset: MemoryReset,
) {
    let cache = tempfile::tempdir().unwrap();
    // First compile (empty cache).
    let rt = Runtime::new(config(cache.path(), reset)).unwrap();
    let t = Instant::now();
    let adapter = tokio.block_on(rt.load(bytes, label)).unwrap();
    let first = t.elapsed();
    drop(adapter);
    drop(rt);
    // Load from the compiled cache, in a new runtime each time (a new process).
    let mut loads = Vec::new();
    for _ in 0..15 {
        let rt = Runtime::new(config(cache.path(), reset)).unwrap();
        let t = Instant::now();
        let a = tokio.block_on(rt.load(bytes, label)).unwrap();
        loads.push(t.elapsed());
        drop(a);
    }
    // Fresh instance + trivial hook call (an execute answering locally).
    let rt = Runtime::new(config(cache.path(), reset)).unwrap();
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
    // Fresh instance + the setup hook `up` runs: one POST to an API on
    // loopback answering at once.
    let url = tokio.block_on(mesh::api(Duration::ZERO));
    let siem = InstanceRef {
        name: "siem1".into(),
        product: adapter.product().to_string(),
        settings: json!({ "url": url }),
    };
    let ctx = HookContext {
        instance: Some(siem.clone()),
        plug: Some(PlugRef {
            src: InstanceRef {
                name: "edr1".into(),
                product: "edr".into(),
                settings: json!({}),
            },
            dst: siem,
            topic: "events".into(),
            mode: Mode::Push,
            format: None,
            is_trigger: false,
            src_config: json!({}),
            dst_config: json!({}),
            outputs: json!({}),
        }),
        integration: None,
    };
    let setup = adapter
        .info()
        .hooks_of(HookKind::Setup)
        .next()
        .unwrap()
        .id
        .clone();
    let policy = CallPolicy::deny_all()
        .allow_http(&url)
        .with_secrets(|_: &str| Some("k".to_string()));
    let mut setups = Vec::new();
    for i in 0..120 {
        let t = Instant::now();
        tokio
            .block_on(adapter.setup(&setup, &ctx, &policy))
            .unwrap();
        if i >= 20 {
            setups.push(t.elapsed());
        }
    }
    println!(
        "{label}, {reset:?} reset: {} KiB; first compile {:.2?}; load from compiled cache {:.2?} (median of 15); fresh instance + trivial hook call {:.2?} (median of 200); fresh instance + setup hook POSTing to loopback {:.2?} (median of 100)",
        bytes.len() / 1024,
        first,
        median(loads),
        median(calls),
        median(setups)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let mut builds = Vec::new();
    let mut bytes = Vec::new();
    for _ in 0..if quick { 1 } else { 3 } {
        let (b, d) = build_python();
        builds.push(d);
        bytes = b;
    }
    println!(
        "python build (componentize-py 0.25.1): {} KiB, median of {} builds {:.1?}",
        bytes.len() / 1024,
        builds.len(),
        median(builds)
    );
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    // Each adapter under each memory reset (`DirtyPages`, the default, and
    // the `memset` fallback for kernels without PAGEMAP_SCAN).
    for reset in [MemoryReset::DirtyPages, MemoryReset::Prefix] {
        figures(
            &tokio,
            "example_http_py (Python)",
            &bytes,
            "block_ip",
            reset,
        );
    }
    let rust =
        std::fs::read(root().join("adapters/target/wasm32-wasip2/release/example_http.wasm"))
            .expect("run scripts/build-adapters.sh");
    for reset in [MemoryReset::DirtyPages, MemoryReset::Prefix] {
        figures(&tokio, "example_http (Rust)", &rust, "block_ip", reset);
    }

    // `up` of the same mesh through each adapter.
    let rust_mesh = mesh::Mesh::new(
        &tokio,
        &mesh::Example {
            name: "example_http",
            definition: std::fs::read_to_string(
                root().join("adapters/example-http/definition.yaml"),
            )
            .unwrap(),
            wasm: &rust,
        },
    );
    let definition =
        std::fs::read_to_string(root().join("adapters/example-http-py/definition.yaml")).unwrap();
    let python_mesh = mesh::Mesh::new(
        &tokio,
        &mesh::Example {
            name: "example_http_py",
            definition: format!("{definition}\nadapter: example_http_py.wasm\n"),
            wasm: &bytes,
        },
    );
    // One warm-up each, then interleaved runs.
    rust_mesh.up(&tokio);
    python_mesh.up(&tokio);
    let (mut rust_ups, mut python_ups) = (Vec::new(), Vec::new());
    let (mut rust_cpu, mut python_cpu) = (Vec::new(), Vec::new());
    for _ in 0..if quick { 3 } else { 11 } {
        let c = cpu_time();
        rust_ups.push(rust_mesh.up(&tokio));
        rust_cpu.push(cpu_time() - c);
        let c = cpu_time();
        python_ups.push(python_mesh.up(&tokio));
        python_cpu.push(cpu_time() - c);
    }
    let runs = rust_ups.len();
    let (r, p) = (median(rust_ups), median(python_ups));
    println!(
        "up of {} plugs / 100 instances, API answering after 20 ms (floor {:?}), median of {runs} interleaved runs: Rust {r:.1?} ({:.1?} CPU), Python {p:.1?} ({:.1?} CPU); Python / Rust = {:.2}× (target ≤ 1.5×)",
        mesh::EDRS * mesh::PLUGS_PER_EDR,
        rust_mesh.floor,
        median(rust_cpu),
        median(python_cpu),
        p.as_secs_f64() / r.as_secs_f64()
    );
}
