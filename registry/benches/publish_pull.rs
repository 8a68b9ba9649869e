//! Publish and pull of a 2 MiB adapter on loopback, cold and warm, against a real
//! `docker-registry` and the image-layout default. Prints medians (and p90) of N runs,
//! and the requests a warm pull makes. Run: `cargo bench -p meshroom-registry`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use meshroom_registry::ArtifactRef;
use support::{RegistryServer, client, package};

/// `cargo bench` passes `--bench`: 30 runs each; under `cargo test --all-targets`
/// the benchmark runs each case once, as a smoke test.
fn runs() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        30
    } else {
        1
    }
}

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
}

fn report(name: &str, samples: Vec<Duration>) {
    let (median, p90) = stats(samples);
    println!(
        "{name:<48} median {:>8.2} ms   p90 {:>8.2} ms",
        median.as_secs_f64() * 1e3,
        p90.as_secs_f64() * 1e3
    );
}

fn main() {
    let runs = runs();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = RegistryServer::start();
    let dir = tempfile::tempdir().unwrap();
    let product = package("bench", 2 * 1024 * 1024);
    let vendor = client(&dir.path().join("vendor"));
    let host = server.host();
    println!(
        "publish/pull of a {} byte adapter, {runs} runs each",
        product.component.len()
    );

    // Publish, cold: a new repository each time, so every blob is uploaded.
    let mut cold = Vec::new();
    for i in 0..runs {
        let to = ArtifactRef::parse(&format!("{host}/bench/cold{i}:1")).unwrap();
        let t = Instant::now();
        let p = rt.block_on(vendor.publish(&product, &to)).unwrap();
        cold.push(t.elapsed());
        assert_eq!(p.uploaded, 4);
    }
    report("registry publish, cold (4 blobs uploaded)", cold);

    // Publish, warm: same inputs again, the registry has every blob.
    let to = ArtifactRef::parse(&format!("{host}/bench/cold0:1")).unwrap();
    let mut warm = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let p = rt.block_on(vendor.publish(&product, &to)).unwrap();
        warm.push(t.elapsed());
        assert_eq!(p.uploaded, 0);
    }
    report("registry publish, warm (0 blobs uploaded)", warm);

    // Pull, cold: an empty cache (and a new client) each time.
    let mut cold = Vec::new();
    for i in 0..runs {
        let operator = client(&dir.path().join(format!("op{i}")));
        let t = Instant::now();
        let p = rt.block_on(operator.pull(&to)).unwrap();
        cold.push(t.elapsed());
        assert_eq!(p.downloaded, 4);
    }
    report("registry pull by tag, cold (4 blobs verified+cached)", cold);

    // Pull, warm: the same cache and client; the tag is resolved, nothing downloaded.
    let operator = client(&dir.path().join("op0"));
    let mut warm = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let p = rt.block_on(operator.pull(&to)).unwrap();
        warm.push(t.elapsed());
        assert_eq!(p.downloaded, 0);
    }
    report("registry pull by tag, warm (cached digest)", warm);
    let mut fresh = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let p = rt
            .block_on(client(&dir.path().join("op0")).pull(&to))
            .unwrap();
        fresh.push(t.elapsed());
        assert_eq!(p.downloaded, 0);
    }
    report("  same, new client each time (one-shot CLI)", fresh);
    server.clear_log();
    let pulled = rt.block_on(operator.pull(&to)).unwrap();
    println!(
        "  requests of one warm pull by tag: {:?}",
        server.requests()
    );

    // Locked (by digest), warm: what `up` does.
    let entry = pulled.lock_entry();
    let mut locked = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        rt.block_on(operator.fetch_locked(&entry)).unwrap();
        locked.push(t.elapsed());
    }
    report("locked fetch by digest, warm (no request)", locked);
    server.clear_log();
    rt.block_on(operator.fetch_locked(&entry)).unwrap();
    println!(
        "  requests of one warm locked fetch: {:?}",
        server.requests()
    );

    // The image-layout default.
    let layout_ref = ArtifactRef::parse("bench/adapter:1").unwrap();
    let mut publish = Vec::new();
    for i in 0..runs {
        let fresh = client(&dir.path().join(format!("lv{i}")));
        let t = Instant::now();
        rt.block_on(fresh.publish(&product, &layout_ref)).unwrap();
        publish.push(t.elapsed());
    }
    report("image-layout publish, cold", publish);
    let layout_vendor = client(&dir.path().join("lv0"));
    let mut cold = Vec::new();
    for i in 0..runs {
        let operator = meshroom_registry::Registry::new(
            meshroom_registry::BlobCache::new(dir.path().join(format!("lc{i}"))),
            meshroom_registry::AuthConfig::anonymous(),
            layout_vendor.default_layout(),
        );
        let t = Instant::now();
        rt.block_on(operator.pull(&layout_ref)).unwrap();
        cold.push(t.elapsed());
    }
    report("image-layout pull, cold", cold);
    let operator = meshroom_registry::Registry::new(
        meshroom_registry::BlobCache::new(dir.path().join("lc0")),
        meshroom_registry::AuthConfig::anonymous(),
        layout_vendor.default_layout(),
    );
    let mut warm = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        rt.block_on(operator.pull(&layout_ref)).unwrap();
        warm.push(t.elapsed());
    }
    report("image-layout pull, warm", warm);
}
