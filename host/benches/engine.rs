//! `meshroom up` of a 500-plug / 100-instance mesh (20 EDR instances, 80
//! instances of the example product, each EDR plugged into 25 of them)
//! against a local HTTP API answering every request after 20 ms. Each plug
//! runs the example adapter's setup hook (one POST); the hooks of one
//! instance run one at a time, so the floor is the longest per-instance
//! chain of calls × 20 ms. Reports the median wall time and its ratio to
//! that floor (target: under 2×).
//!
//! Needs the adapters built: `scripts/build-adapters.sh`, then
//! `cargo bench -p meshroom-host --bench engine`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use meshroom::engine::{Action, RunOptions, Selection, Session, Verdict, run};
use meshroom::project::Project;
use meshroom::runtime::RuntimeConfig;
use meshroom::secrets::{IdentityConfig, SecretScope, SecretStore, SecretValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DELAY: Duration = Duration::from_millis(20);
const EDRS: usize = 20;
const SIEMS: usize = 80;
const PLUGS_PER_EDR: usize = 25;

/// An HTTP/1.1 server answering every request after `DELAY` with a new webhook id.
async fn slow_api() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            n += 1;
            let id = n;
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // Read one request (headers + content-length body).
                    let (head_end, len) = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, len);
                        }
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    };
                    while buf.len() < head_end + len {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    }
                    buf.drain(..head_end + len);
                    tokio::time::sleep(DELAY).await;
                    let body = format!("{{\"id\":\"wh-{id}\"}}");
                    let answer = format!(
                        "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

fn write(path: PathBuf, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The mesh, and a secrets store (x25519 identity) holding each example
/// instance's `api_key`.
/// Writes the mesh; returns its secrets store and the store's identity.
fn mesh(root: &Path, url: &str) -> (SecretStore, age::x25519::Identity) {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let example = root.join("products/example_http");
    let definition =
        std::fs::read_to_string(manifest.join("../adapters/example-http/definition.yaml")).unwrap();
    write(example.join("definition.yaml"), &definition);
    let wasm = manifest.join("../adapters/target/wasm32-wasip2/release/example_http.wasm");
    std::fs::copy(&wasm, example.join("example_http.wasm"))
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-adapters.sh", wasm.display()));
    write(
        root.join("products/edr/definition.yaml"),
        "name: edr\nproduces:\n  events:\n    - mode: push\n",
    );
    let identity = age::x25519::Identity::generate();
    let mut store = open_store(root, &identity);
    store
        .add_recipient(identity.to_public(), Some("bench"))
        .unwrap();
    for s in 0..SIEMS {
        let name = format!("siem{s}");
        write(
            root.join(format!("instances/example_http/{name}/config.yaml")),
            &format!("name: {name}\nproduct: example_http\nsettings:\n  url: {url}\n"),
        );
        store
            .set(
                &SecretScope::instance("example_http", &name),
                "api_key",
                SecretValue::new("k".into()),
            )
            .unwrap();
    }
    store.save().unwrap();
    for e in 0..EDRS {
        let name = format!("edr{e}");
        write(
            root.join(format!("instances/edr/{name}/config.yaml")),
            &format!("name: {name}\nproduct: edr\n"),
        );
        for k in 0..PLUGS_PER_EDR {
            let dst = format!("siem{}", (e * PLUGS_PER_EDR + k) % SIEMS);
            write(
                root.join(format!("instances/edr/{name}/plugs/{dst}/events.yaml")),
                &format!("src_instance: {name}\ndst_instance: {dst}\ntopic: events\nmode: push\n"),
            );
        }
    }
    (store, identity)
}

fn open_store(root: &Path, identity: &age::x25519::Identity) -> SecretStore {
    SecretStore::open_with(
        root,
        IdentityConfig {
            identity: Some(identity.to_string()),
            ..IdentityConfig::default()
        },
    )
}

fn benches(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    // MESHROOM_BENCH_DIR: where the project lives (e.g. /dev/shm to leave
    // the disk's fsync cost out).
    let dir = match std::env::var_os("MESHROOM_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let cache = tempfile::tempdir().unwrap();
    let url = tokio.block_on(slow_api());
    let (store, identity) = mesh(dir.path(), &url);
    let pristine = Project::load(dir.path()).unwrap();
    assert_eq!(pristine.plugs().len(), EDRS * PLUGS_PER_EDR);
    let jobs = 128;
    let session = |store: SecretStore| {
        tokio
            .block_on(Session::start(
                &pristine,
                RuntimeConfig {
                    cache_dir: Some(cache.path().to_path_buf()),
                    max_instances: jobs as u32 + 8,
                    ..RuntimeConfig::default()
                },
            ))
            .unwrap()
            .with_secrets(store)
    };
    let engine = Arc::new(session(store));
    let plan = engine.plan(&pristine, &Selection::default(), Action::Up);
    let mut per_instance: HashMap<&str, usize> = HashMap::new();
    for s in plan.plugs.iter().flat_map(|p| &p.steps) {
        *per_instance.entry(s.instance.as_str()).or_default() += 1;
    }
    let chain = per_instance.values().copied().max().unwrap();
    let floor = DELAY * chain as u32;
    eprintln!(
        "{} plugs, {} hook calls, longest per-instance chain {chain} calls = {floor:?} at {DELAY:?} per call",
        plan.plugs.len(),
        plan.step_count()
    );

    let mut walls = Vec::new();
    let mut g = c.benchmark_group("engine");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.bench_function(
        "up 500 plugs / 100 instances, API answers after 20 ms",
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut project = pristine.clone();
                    let plan = engine.plan(&project, &Selection::default(), Action::Up);
                    let options = RunOptions {
                        jobs,
                        ..RunOptions::default()
                    };
                    let started = Instant::now();
                    let report = tokio.block_on(run(engine.clone(), &mut project, plan, &options));
                    let wall = started.elapsed();
                    assert_eq!(
                        report.count(Verdict::Done),
                        EDRS * PLUGS_PER_EDR,
                        "{:?}",
                        report.plugs.iter().find(|p| p.verdict != Verdict::Done)
                    );
                    walls.push(wall);
                    total += wall;
                }
                total
            })
        },
    );
    g.finish();
    walls.sort();
    if let Some(median) = walls.get(walls.len() / 2) {
        eprintln!(
            "up wall time: median {median:?} over {} runs; floor {floor:?}; ratio {:.2}× (target < 2×)",
            walls.len(),
            median.as_secs_f64() / floor.as_secs_f64()
        );
    }

    // `--record`'s cost: the same `up` in a new session each time (as a
    // command has), without and with a recording (its cassettes written,
    // timed too).
    let recordings = tempfile::tempdir().unwrap();
    let mut medians = Vec::new();
    for record in [false, true] {
        let mut walls = Vec::new();
        let mut g = c.benchmark_group("engine");
        g.sample_size(10).measurement_time(Duration::from_secs(15));
        let label = if record {
            "up 500 plugs, new session, --record (cassettes written)"
        } else {
            "up 500 plugs, new session"
        };
        g.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let deck = record.then(|| {
                        let dir = tempfile::tempdir_in(recordings.path()).unwrap().keep();
                        meshroom_cassette::Deck::record(&dir, false).unwrap()
                    });
                    let engine = Arc::new(
                        session(open_store(dir.path(), &identity)).with_tape(deck.clone()),
                    );
                    let mut project = pristine.clone();
                    let plan = engine.plan(&project, &Selection::default(), Action::Up);
                    let options = RunOptions {
                        jobs,
                        ..RunOptions::default()
                    };
                    let started = Instant::now();
                    let report = tokio.block_on(run(engine.clone(), &mut project, plan, &options));
                    drop(engine);
                    if let Some(deck) = &deck {
                        assert_eq!(deck.save().unwrap().len(), EDRS * PLUGS_PER_EDR);
                    }
                    let wall = started.elapsed();
                    assert_eq!(report.count(Verdict::Done), EDRS * PLUGS_PER_EDR);
                    walls.push(wall);
                    total += wall;
                }
                total
            })
        });
        g.finish();
        walls.sort();
        // Empty when a filter on the command line skipped it.
        if let Some(median) = walls.get(walls.len() / 2) {
            medians.push(*median);
        }
    }
    if medians.len() < 2 {
        return;
    }
    eprintln!(
        "new session: up {:?}, up --record {:?} (medians): {:.2}× (target ≤ 1.10×)",
        medians[0],
        medians[1],
        medians[1].as_secs_f64() / medians[0].as_secs_f64()
    );
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
