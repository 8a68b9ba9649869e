//! Adapter runtime costs: compiling a component (paid once per digest),
//! loading it from the compiled cache, and one hook call in a fresh store
//! (instantiate + call + drop). Needs the adapters built first:
//! `scripts/build-adapters.sh`, then `cargo bench -p meshroom-host --bench runtime`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

#[path = "support/example_adapter.rs"]
mod example_adapter;

use criterion::{Criterion, criterion_group, criterion_main};
use meshroom::runtime::{CallPolicy, HookContext, InstanceRef, Runtime, RuntimeConfig};
use serde_json::json;

fn config(dir: &std::path::Path) -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: Some(dir.to_path_buf()),
        ..RuntimeConfig::default()
    }
}

fn benches(c: &mut Criterion) {
    let bytes = example_adapter::example_http_wasm();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Each iteration gets a new runtime (as a new process would); only the
    // load is timed, and each runtime is dropped before the next one.
    let time_load = |cache: &std::path::Path| {
        let rt = Runtime::new(config(cache)).unwrap();
        let t = Instant::now();
        let adapter = tokio
            .block_on(rt.load(&bytes, "example_http.wasm"))
            .unwrap();
        let elapsed = t.elapsed();
        drop((adapter, rt));
        elapsed
    };

    let mut g = c.benchmark_group("runtime");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("compile (cold cache, once per digest)", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let dir = tempfile::tempdir().unwrap();
                    time_load(dir.path())
                })
                .sum()
        })
    });
    g.finish();

    let warm = tempfile::tempdir().unwrap();
    time_load(warm.path());
    let mut g = c.benchmark_group("runtime");
    g.sample_size(50);
    g.bench_function("load from compiled cache (new runtime)", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| time_load(warm.path())).sum())
    });
    g.finish();

    let rt = Runtime::new(config(warm.path())).unwrap();
    let adapter = tokio
        .block_on(rt.load(&bytes, "example_http.wasm"))
        .unwrap();
    let ctx = HookContext {
        instance: Some(InstanceRef {
            name: "i".into(),
            product: "example_http".into(),
            settings: json!({}),
        }),
        ..HookContext::default()
    };
    let params = json!({"ip": "10.0.0.1"});
    let policy = CallPolicy::deny_all();
    let mut g = c.benchmark_group("runtime");
    g.bench_function("fresh store + instantiate + trivial hook call", |b| {
        b.iter(|| {
            tokio
                .block_on(adapter.execute("explain_block", &ctx, &params, &policy))
                .unwrap()
        })
    });
    g.bench_function("describe_cached (listing, no load)", |b| {
        b.iter(|| rt.describe_cached(adapter.digest()).unwrap())
    });
    g.finish();
}

criterion_group!(runtime, benches);
criterion_main!(runtime);
