//! Throughput of `meshroom produce` end to end: the real binary reads
//! 100,000 records from a pipe, batches them (1,000 per call) and sends each
//! batch through the example adapter's produce hook, which POSTs it to an
//! HTTP collector on 127.0.0.1 answering at once. Criterion reports the
//! time per run and the throughput in records/s (target: ≥ 50,000/s).
//!
//! Run: `scripts/build-adapters.sh && cargo bench -p meshroom-host --bench produce`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshroom_tests::{HttpCollector, RecordedRequest, Reply};

const RECORDS: usize = 100_000;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn adapter_wasm() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new("bash")
        .arg(root.join("scripts/build-adapters.sh"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "scripts/build-adapters.sh failed");
    root.join("adapters/target/wasm32-wasip2/release/example_http.wasm")
}

fn project(url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    write(
        &p.join("products/example_http/definition.yaml"),
        "name: example_http\nadapter: example_http.wasm\n\
         settings:\n  - name: url\n    type: string\n\
         egress:\n  http: [\"{{url}}\"]\n\
         produces:\n  events:\n    - mode: push\n\
         consumes:\n  events:\n    - mode: push\n",
    );
    std::fs::copy(
        adapter_wasm(),
        p.join("products/example_http/example_http.wasm"),
    )
    .unwrap();
    for name in ["edr1", "siem1"] {
        write(
            &p.join(format!("instances/example_http/{name}/config.yaml")),
            &format!("name: {name}\nproduct: example_http\nsettings:\n  url: {url}\n"),
        );
    }
    write(
        &p.join("instances/example_http/edr1/plugs/siem1/events.yaml"),
        "src_instance: edr1\ndst_instance: siem1\ntopic: events\nmode: push\nstatus: down\n",
    );
    dir
}

fn produce(dir: &Path, cache: &Path, input: &[u8]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshroom"))
        .arg("-p")
        .arg(dir)
        .args([
            "-q",
            "produce",
            "events",
            "edr1",
            "siem1",
            "--batch-size",
            "1000",
        ])
        .env("MESHROOM_CACHE", cache)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn bench(c: &mut Criterion) {
    let api = HttpCollector::start().unwrap();
    api.respond_with(|r: &RecordedRequest| {
        let n = r
            .body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        Reply::status(200).json(&serde_json::json!({ "accepted": n }))
    });
    let dir = project(&api.url());
    let cache = tempfile::tempdir().unwrap();
    let mut input = Vec::with_capacity(RECORDS * 80);
    for i in 0..RECORDS {
        input.extend_from_slice(
            format!("{{\"seq\":{i},\"host\":\"web-01\",\"msg\":\"GET /index.html 200\"}}\n")
                .as_bytes(),
        );
    }
    let mut group = c.benchmark_group("produce");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("100k_records_http_loopback", |b| {
        b.iter(|| produce(dir.path(), cache.path(), &input))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
