//! Project-scale benchmark: a generated project of 200 products, 1,000
//! instances and 3,000 plugs; times what `list plugs`, `list integrations`,
//! `plug` and `graph` do (through the library functions the commands call,
//! each including its load of the project), plus whole `meshroom` processes
//! (`list plugs`, `list integrations`, `list products`, `graph
//! --capabilities`). Target: each under 50 ms. Loads go through the
//! project's load cache (in meshroom's cache folder) as every command does;
//! `load_uncached` reads and parses every file, as the first command after
//! a change.
//!
//! Run: `cargo bench -p meshroom-host --bench project`
//!
//! The library benchmarks measure CPU time of this process (not wall time),
//! so a machine shared with other builds does not inflate them; the
//! whole-process one measures wall time.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// One `clock_gettime` call for the CPU-time measurement.
#![allow(unsafe_code)]

#[path = "support/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;
use std::process::{Command, Stdio};

use cpu_time::CpuTime;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

use meshroom::cli::{graph, list};
use meshroom::project::graph::{capability_graph, mesh_graph};
use meshroom::project::{IntegrationFilter, Mode, PlugRequest, Project, Scope};

#[path = "support/big_mesh.rs"]
mod big_mesh;
use big_mesh::{INSTANCES_PER_PRODUCT, PLUGS, PRODUCTS, generate, hooks};

fn bench(c: &mut Criterion<CpuTime>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    generate(root);
    let hooks = hooks();
    {
        let p = Project::load(root).unwrap();
        assert_eq!(p.products().len(), PRODUCTS);
        assert_eq!(p.instances().len(), PRODUCTS * INSTANCES_PER_PRODUCT);
        assert_eq!(p.plugs().len(), PLUGS, "plug paths collided");
        eprintln!(
            "generated: {} products, {} instances, {} plugs, {} integrations",
            p.products().len(),
            p.instances().len(),
            p.plugs().len(),
            p.integrations(&hooks, &IntegrationFilter::default()).len()
        );
    }

    let mut g = c.benchmark_group("project");
    g.sample_size(20);
    // Every file read and parsed: the first command after a change.
    g.bench_function("load_uncached", |b| {
        b.iter(|| black_box(Project::load_uncached(root).unwrap()))
    });
    // The load cache trusts files older than two seconds.
    std::thread::sleep(meshroom::project::LOAD_CACHE_RACY);
    Project::load(root).unwrap();
    g.bench_function("load", |b| {
        b.iter(|| black_box(Project::load(root).unwrap()))
    });
    g.bench_function("load_mesh", |b| {
        b.iter(|| black_box(Project::load_scope(root, &Scope::mesh()).unwrap()))
    });
    g.bench_function("list_plugs", |b| {
        b.iter(|| {
            // The scope `list plugs` loads: no product folder.
            let p = Project::load_scope(root, &Scope::mesh()).unwrap();
            let rows: Vec<String> = p
                .plugs()
                .iter()
                .map(|plug| format!("{plug} {}", plug.status.as_str()))
                .collect();
            black_box(rows)
        })
    });
    // What `list integrations` does: list, then write the table (into a
    // sink, so the terminal is not measured).
    let list_integrations = |p: &Project, filter: &IntegrationFilter<'_>| {
        let listed = p.list_integrations(&hooks, filter);
        list::write_integrations(&mut std::io::sink(), p, &listed, false, false).unwrap();
        listed.len()
    };
    g.bench_function("list_integrations", |b| {
        b.iter(|| {
            let p = Project::load(root).unwrap();
            black_box(list_integrations(&p, &IntegrationFilter::default()))
        })
    });
    // The same as JSON.
    g.bench_function("list_integrations_json", |b| {
        b.iter(|| {
            let p = Project::load(root).unwrap();
            let listed = p.list_integrations(&hooks, &IntegrationFilter::default());
            list::write_integrations(&mut std::io::sink(), &p, &listed, false, true).unwrap();
            black_box(listed.len())
        })
    });
    // What a user of a large project runs: one product's integrations.
    g.bench_function("list_integrations_of_one_product", |b| {
        let filter = IntegrationFilter {
            product: Some("product1"),
            ..IntegrationFilter::default()
        };
        b.iter(|| {
            let p = Project::load(root).unwrap();
            black_box(list_integrations(&p, &filter))
        })
    });
    // `list products`, which counts every product's integrations.
    g.bench_function("integration_counts", |b| {
        b.iter(|| {
            let p = Project::load(root).unwrap();
            black_box(p.integration_counts(&hooks).len())
        })
    });
    // A plug not in the project yet: product0 (SIEM-like) consumes events
    // from product1 (EDR-like); instance p1i4 → p0i3.
    let request = PlugRequest {
        topic: "events".into(),
        src: "p1i4".into(),
        dst: "p0i3".into(),
        mode: Some(Mode::Push),
        ..PlugRequest::default()
    };
    let plug_file = root.join("instances/product1/p1i4/plugs/p0i3/events.yaml");
    g.bench_function("plug", |b| {
        b.iter_batched(
            || {
                let _ = std::fs::remove_file(&plug_file);
            },
            |()| {
                let mut p = Project::load(root).unwrap();
                black_box(p.plug(&hooks, &request).unwrap())
            },
            BatchSize::PerIteration,
        )
    });
    let _ = std::fs::remove_file(&plug_file);
    g.bench_function("graph_dot", |b| {
        b.iter(|| {
            let p = Project::load(root).unwrap();
            black_box(graph::to_dot(&mesh_graph(&p)))
        })
    });
    // `graph --capabilities` loads the products alone.
    g.bench_function("graph_capabilities_dot", |b| {
        b.iter(|| {
            let p = Project::load_products(root).unwrap();
            black_box(graph::to_dot(&capability_graph(&p, &hooks)))
        })
    });
    g.finish();
}

/// Whole `meshroom` processes (listings into /dev/null), wall time.
fn bench_process(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    generate(root);
    std::thread::sleep(meshroom::project::LOAD_CACHE_RACY);
    let mut g = c.benchmark_group("process");
    g.sample_size(20);
    for command in [
        &["list", "plugs"][..],
        &["list", "integrations"],
        &["list", "integrations", "product1"],
        &["list", "products"],
        &["graph", "--capabilities"],
    ] {
        g.bench_function(command.join("_"), |b| {
            b.iter(|| {
                let status = Command::new(env!("CARGO_BIN_EXE_meshroom"))
                    .arg("-p")
                    .arg(root)
                    .args(command)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success());
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench
}
criterion_group!(process, bench_process);
criterion_main!(benches, process);
