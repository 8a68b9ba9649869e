//! `meshroom up` of the 500-plug / 100-instance mesh of
//! `support/mesh.rs` through the Rust example adapter, against a local
//! HTTP API answering every request after 20 ms. Reports the median wall
//! time and its ratio to the floor (the longest per-instance chain of
//! calls × 20 ms; target: under 2×).
//!
//! Needs the adapters built: `scripts/build-adapters.sh`, then
//! `cargo bench -p meshroom-host --bench engine`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/example_adapter.rs"]
mod example_adapter;
#[path = "support/mesh.rs"]
mod mesh;

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mesh::{EDRS, Example, Mesh, PLUGS_PER_EDR};

fn benches(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let wasm = example_adapter::example_http_wasm();
    let definition =
        std::fs::read_to_string(manifest.join("../adapters/example-http/definition.yaml")).unwrap();
    let mesh = Mesh::new(
        &tokio,
        &Example {
            name: "example_http",
            definition,
            wasm: &wasm,
        },
    );

    let mut walls = Vec::new();
    let mut g = c.benchmark_group("engine");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.bench_function(
        format!(
            "up {} plugs / 100 instances, API answers after 20 ms",
            EDRS * PLUGS_PER_EDR
        ),
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let wall = mesh.up(&tokio);
                    walls.push(wall);
                    total += wall;
                }
                total
            })
        },
    );
    g.finish();
    walls.sort();
    // Empty when a filter on the command line skipped it.
    if let Some(median) = walls.get(walls.len() / 2) {
        eprintln!(
            "up wall time: median {median:?} over {} runs; floor {:?}; ratio {:.2}× (target < 2×)",
            walls.len(),
            mesh.floor,
            median.as_secs_f64() / mesh.floor.as_secs_f64()
        );
    }

    // `--record`'s cost: the same `up` in a new session each time (as a
    // command has), without and with a recording (its 500 cassettes
    // written, timed too).
    let recordings = tempfile::tempdir().unwrap();
    let mut medians = Vec::new();
    for record in [false, true] {
        let mut walls = Vec::new();
        let mut g = c.benchmark_group("engine");
        g.sample_size(10).measurement_time(Duration::from_secs(15));
        let label = if record {
            "up, new session, --record (cassettes written)"
        } else {
            "up, new session"
        };
        g.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let deck = record.then(|| {
                        let dir = tempfile::tempdir_in(recordings.path()).unwrap().keep();
                        meshroom_cassette::Deck::record(&dir, false).unwrap()
                    });
                    let wall = mesh.up_in_new_session(&tokio, deck);
                    walls.push(wall);
                    total += wall;
                }
                total
            })
        });
        g.finish();
        walls.sort();
        if let Some(median) = walls.get(walls.len() / 2) {
            medians.push(*median);
        }
    }
    if let [plain, recorded] = medians[..] {
        eprintln!(
            "new session: up {plain:?}, up --record {recorded:?} (medians): {:.2}× (target ≤ 1.10×)",
            recorded.as_secs_f64() / plain.as_secs_f64()
        );
    }
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
