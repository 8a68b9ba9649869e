//! What signatures cost, against a real `docker-registry` on loopback: signing, the
//! verification a `pull` adds (one signature manifest and one payload blob; the
//! payload cached after the first), and the re-check `up` makes from the lockfile
//! (no request: the payload is in the cache). Prints medians (and p90) of N runs and
//! the requests made. Run: `cargo bench -p meshroom-registry --bench signing`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use meshroom_registry::{ArtifactRef, PrivateKey, Requirement, TrustedKey};
use support::{RegistryServer, client, package};

fn runs() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        30
    } else {
        1
    }
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let (median, p90) = (samples[samples.len() / 2], samples[samples.len() * 9 / 10]);
    println!(
        "{name:<58} median {:>8.3} ms   p90 {:>8.3} ms",
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
    let vendor = client(&dir.path().join("vendor"));
    let host = server.host();
    let key = PrivateKey::generate();
    let requirement = Requirement {
        keys: vec![TrustedKey {
            name: "acme".into(),
            key: key.public_key(),
        }],
        policy: "bench".into(),
    };
    let product = package("bench", 2 * 1024 * 1024);
    let to = ArtifactRef::parse(&format!("{host}/bench/signed:1")).unwrap();
    let published = rt.block_on(vendor.publish(&product, &to)).unwrap();
    let pinned = to.pinned(&published.manifest_digest);
    println!("signatures of a 2 MiB adapter, {runs} runs each");

    let mut sign = Vec::new();
    for i in 0..runs {
        let to = ArtifactRef::parse(&format!("{host}/bench/sign{i}:1")).unwrap();
        rt.block_on(vendor.publish(&product, &to)).unwrap();
        let t = Instant::now();
        rt.block_on(vendor.sign(&to, &key)).unwrap();
        sign.push(t.elapsed());
    }
    report(
        "sign (resolve, read .sig, push payload+config+manifest)",
        sign,
    );
    rt.block_on(vendor.sign(&pinned, &key)).unwrap();

    // Pull by tag, warm (component cached), without and with the signature check.
    let operator = client(&dir.path().join("op"));
    rt.block_on(operator.pull(&to)).unwrap();
    let mut plain = Vec::new();
    let mut checked = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        rt.block_on(operator.pull(&to)).unwrap();
        plain.push(t.elapsed());
        let t = Instant::now();
        let p = rt
            .block_on(operator.pull_checked(&to, Some(&requirement)))
            .unwrap();
        checked.push(t.elapsed());
        assert!(p.signature.is_some());
    }
    report("warm pull by tag, no signature required", plain);
    report(
        "warm pull by tag, signature verified (payload cached)",
        checked,
    );
    server.clear_log();
    let pulled = rt
        .block_on(operator.pull_checked(&to, Some(&requirement)))
        .unwrap();
    println!("  requests: {:?}", server.requests());

    // The verification alone, cold: a new cache, so the payload blob is fetched too.
    let mut cold = Vec::new();
    for i in 0..runs {
        let fresh = client(&dir.path().join(format!("cold{i}")));
        let t = Instant::now();
        rt.block_on(fresh.verify(&to, &published.manifest_digest, &requirement))
            .unwrap();
        cold.push(t.elapsed());
    }
    report("verify alone, cold (1 manifest + 1 payload blob)", cold);
    server.clear_log();
    rt.block_on(client(&dir.path().join("cold-log")).verify(
        &to,
        &published.manifest_digest,
        &requirement,
    ))
    .unwrap();
    println!("  requests: {:?}", server.requests());

    // What `up` does per locked product: re-check the recorded signature, no request.
    let entry = pulled.lock_entry();
    let mut locked = Vec::new();
    for _ in 0..runs * 10 {
        let t = Instant::now();
        rt.block_on(operator.verify_locked(&entry, &requirement))
            .unwrap();
        locked.push(t.elapsed());
    }
    report(
        "verify_locked from the lockfile and cache (what up adds)",
        locked,
    );
    server.clear_log();
    rt.block_on(operator.verify_locked(&entry, &requirement))
        .unwrap();
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    println!("  requests: none");
    let mut fetch = Vec::new();
    for _ in 0..runs * 10 {
        let t = Instant::now();
        rt.block_on(operator.fetch_locked(&entry)).unwrap();
        fetch.push(t.elapsed());
    }
    report("  for scale: locked fetch by digest, warm", fetch);
}
