//! What the one-writer lock costs a command that writes the project:
//! taking and releasing it uncontended (`.meshroom/lock`: open, `flock`,
//! holder line written, cleared), finding it busy (fail at once, holder
//! read), and a whole `meshroom configure` process for scale, which pays
//! the uncontended case once. `cargo bench -p meshroom-host --bench lock`
//! (add `--profile dev` on the shared machine).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use meshroom::project::lock::ProjectLock;

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/original_project");
    let copied = Command::new("cp")
        .arg("-R")
        .arg(&fixture)
        .arg(&project)
        .status()
        .unwrap();
    assert!(copied.success());

    let mut group = c.benchmark_group("lock");
    group.bench_function("acquire + release, uncontended", |b| {
        b.iter(|| {
            let lock =
                ProjectLock::acquire(&project, "meshroom bench", Duration::ZERO, |_| {}).unwrap();
            drop(lock);
        })
    });
    let held = ProjectLock::acquire(&project, "meshroom bench", Duration::ZERO, |_| {}).unwrap();
    group.bench_function("busy: fail at once, holder read", |b| {
        b.iter(|| {
            ProjectLock::acquire(&project, "meshroom other", Duration::ZERO, |_| {}).unwrap_err()
        })
    });
    drop(held);
    group.sample_size(30);
    let cache = dir.path().join("cache");
    group.bench_function("whole `meshroom configure` process", |b| {
        b.iter(|| {
            let out = Command::new(env!("CARGO_BIN_EXE_meshroom"))
                .arg("-p")
                .arg(&project)
                .args(["configure", "myproduct", "-c", "region=eu-west-1"])
                .env("MESHROOM_CACHE", &cache)
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        })
    });
    group.finish();
}

criterion_group!(lock, benches);
criterion_main!(lock);
