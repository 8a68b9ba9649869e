//! The dashboard on the benchmark mesh (200 products, 1,000 instances,
//! 3,000 plugs): the `meshroom ui` process serving it, then
//!
//! - the response time of `GET /api/mesh` (wall, client side; target ≤ 100 ms);
//! - the time until the page is interactive in headless Chromium (the mesh
//!   fetched, laid out and drawn, filters ready: `performance.now()` at
//!   that point, since navigation started; target ≤ 2 s);
//! - the server's resident memory (RSS) after those, and its peak.
//!
//! Medians. Run: `cargo bench -p meshroom-host --bench ui` (needs Debian's
//! chromium and chromium-driver: `scripts/setup.sh`). `MESHROOM_BENCH_RUNS`
//! sets the page loads (default 5); the API is asked 30 times.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/big_mesh.rs"]
mod big_mesh;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::ClientBuilder;
use serde_json::{Value, json};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mesh");
    big_mesh::generate(&root);
    let cache = dir.path().join("cache");
    let mut server = Command::new(env!("CARGO_BIN_EXE_meshroom"))
        .args(["-p"])
        .arg(&root)
        .args(["ui", "--listen", "127.0.0.1:0"])
        .env("MESHROOM_CACHE", &cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().trim_end_matches('/').to_string();
    let get = |path: &str| {
        meshroom_tests::http::get(&format!("{base}{path}"))
            .timeout(Duration::from_secs(60))
            .send()
            .unwrap()
    };

    // The API: the first request fills the load cache.
    let first = Instant::now();
    let r = get("/api/mesh");
    let first = first.elapsed();
    assert_eq!(r.status, 200);
    let mesh: Value = r.json().unwrap();
    assert_eq!(mesh["plugs"].as_array().unwrap().len(), big_mesh::PLUGS);
    let bytes = r.text().len();
    let mut api = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        assert_eq!(get("/api/mesh").status, 200);
        api.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "GET /api/mesh, 3,000 plugs ({} KB): median {:.1} ms (min {:.1}, max {:.1}; first, filling the load cache: {:.0} ms)",
        bytes / 1000,
        median(api.clone()),
        api.iter().copied().fold(f64::MAX, f64::min),
        api.iter().copied().fold(0.0, f64::max),
        first.as_secs_f64() * 1000.0
    );

    // The page in headless Chromium.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut driver = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver_url = format!("http://127.0.0.1:{port}");
    while !meshroom_tests::http::answers(&format!("{driver_url}/status")) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let runs: usize = std::env::var("MESHROOM_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut interactive = Vec::new();
    let mut fetched = Vec::new();
    for _ in 0..runs {
        let profile = tempfile::tempdir().unwrap();
        let (ms, mesh_ms) = rt.block_on(async {
            let mut caps = serde_json::Map::new();
            caps.insert(
                "goog:chromeOptions".into(),
                json!({
                    "binary": "/usr/bin/chromium",
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--window-size=1400,900",
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                }),
            );
            let c = ClientBuilder::native()
                .capabilities(caps)
                .connect(&driver_url)
                .await
                .unwrap();
            c.goto(&format!("{base}/")).await.unwrap();
            let until = Instant::now() + Duration::from_secs(120);
            loop {
                let ready = c
                    .execute("return window.meshroomReady === true", vec![])
                    .await
                    .unwrap();
                if ready == Value::Bool(true) {
                    break;
                }
                assert!(Instant::now() < until, "the page never got ready");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let t = c
                .execute("return [meshroom.interactiveMs, meshroom.meshMs]", vec![])
                .await
                .unwrap();
            if std::env::var_os("MESHROOM_BENCH_SCREENSHOT").is_some() {
                let png = c.screenshot().await.unwrap();
                std::fs::write(std::env::var_os("MESHROOM_BENCH_SCREENSHOT").unwrap(), png)
                    .unwrap();
            }
            c.close().await.unwrap();
            (t[0].as_f64().unwrap(), t[1].as_f64().unwrap())
        });
        interactive.push(ms);
        fetched.push(mesh_ms);
    }
    println!(
        "page interactive in headless Chromium (1,000 instances, 3,000 plugs): median {:.0} ms over {runs} loads (of which fetch + layout + draw {:.0} ms); all: {:?}",
        median(interactive.clone()),
        median(fetched),
        interactive.iter().map(|v| v.round()).collect::<Vec<_>>()
    );
    println!(
        "server RSS after: {} MiB (peak {} MiB)",
        status_kib(server.id(), "VmRSS:") / 1024,
        status_kib(server.id(), "VmHWM:") / 1024
    );
    let _ = driver.kill();
    let _ = server.kill();
    let _ = driver.wait();
    let _ = server.wait();
}
