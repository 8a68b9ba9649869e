//! Peak RSS of the `meshroom` process (the release binary, `ru_maxrss` from
//! `wait4`), for the resource bounds of the reliability issue:
//! - `up`, then `down`, of the 500-plug mesh of `support/mesh.rs` through
//!   the Rust example adapter, against its local API answering after 20 ms
//!   (target: ≤ 150 MB);
//! - `pull` of a 40 MB adapter from a real registry (CNCF distribution,
//!   started on 127.0.0.1), which streams the blob into the cache: it must
//!   not hold the whole blob twice, so its peak must stay under the idle
//!   process plus twice the blob.
//!
//! Needs the adapters built and `docker-registry` installed
//! (`scripts/setup.sh`), then `cargo bench -p meshroom-host --bench rss`
//! (`-- --runs N`, default 3).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/example_adapter.rs"]
mod example_adapter;
#[path = "support/mesh.rs"]
#[allow(dead_code)]
mod mesh;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use age::secrecy::ExposeSecret;
use mesh::{EDRS, Example, PLUGS_PER_EDR};
use meshroom_tests::{DockerRegistry, padded_component};

const MIB: f64 = 1024.0 * 1024.0;

/// Wall time and peak RSS (bytes) of one run of `cmd`; panics, with its
/// stderr, unless it succeeds. A child's `ru_maxrss` starts at its parent's
/// RSS (vfork, then exec, keep the high-water mark), so `cmd` is run by a
/// fresh, small copy of this bench (`--measure`), which reports it.
fn measured(cmd: Command, errors: &Path) -> (Duration, u64) {
    let mut wrapper = Command::new(std::env::current_exe().unwrap());
    wrapper
        .arg("--measure")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapper.env(key, value),
            None => wrapper.env_remove(key),
        };
    }
    let log = std::fs::File::create(errors).unwrap();
    let started = Instant::now();
    let out = wrapper.stdin(Stdio::null()).stderr(log).output().unwrap();
    let wall = started.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        std::fs::read_to_string(errors).unwrap_or_default()
    );
    let kib: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (wall, kib * 1024)
}

/// `--measure PROGRAM ARGS…`: runs it (stdout discarded) and prints its
/// peak RSS in KiB; exits with its status.
fn measure_child(program: &str, args: &[String]) -> ! {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 reaps the child we spawned
    // (never waited on through `child`, which is dropped without waiting).
    #[allow(unsafe_code)]
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::wait4(pid, &mut status, 0, &mut usage), pid);
        usage
    };
    println!("{}", usage.ru_maxrss);
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    std::process::exit(if ok { 0 } else { 1 })
}

/// `meshroom -p PROJECT ARGS…` with a home, cache and login store of its own.
fn meshroom(home: &Path, project: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshroom"));
    cmd.arg("-p")
        .arg(project)
        .args(args)
        .env("HOME", home.join("home"))
        .env("XDG_CONFIG_HOME", home.join("home/.config"))
        .env("MESHROOM_CACHE", home.join("cache"))
        .env("MESHROOM_AUTH_FILE", home.join("auth.json"))
        .env("MESHROOM_REGISTRY_DIR", home.join("default-registry"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("RUST_LOG")
        .env_remove("DOCKER_CONFIG");
    cmd
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn up_and_down(runs: usize) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = tokio.block_on(mesh::api(mesh::DELAY));
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("mesh");
    let wasm = example_adapter::example_http_wasm();
    let definition =
        std::fs::read_to_string(root().join("adapters/example-http/definition.yaml")).unwrap();
    let (_, identity) = mesh::write_mesh(
        &project,
        &url,
        &Example {
            name: "example_http",
            definition,
            wasm: &wasm,
        },
    );
    let identity_file = home.path().join("identity.txt");
    std::fs::write(&identity_file, identity.to_string().expose_secret()).unwrap();
    let errors = home.path().join("stderr.txt");
    let command = |args: &[&str]| {
        let mut cmd = meshroom(home.path(), &project, args);
        cmd.env("MESHROOM_AGE_IDENTITY_FILE", &identity_file);
        cmd
    };
    // Compiles the adapter into the cache, as a first `plan` does.
    measured(command(&["plan"]), &errors);
    let idle = measured(command(&["list", "products"]), &errors).1;
    let (mut ups, mut downs, mut walls) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (wall, rss) = measured(command(&["up"]), &errors);
        let state =
            std::fs::read_to_string(project.join("instances/edr/edr0/plugs/siem0/events.yaml"))
                .unwrap();
        assert!(state.contains("status: up"), "{state}");
        ups.push(rss as f64 / MIB);
        walls.push(wall.as_secs_f64() * 1000.0);
        downs.push(measured(command(&["down"]), &errors).1 as f64 / MIB);
    }
    println!(
        "up of {} plugs (Rust example adapter, -j 16 by default): peak RSS {:.1} MiB median of {runs} (max {:.1}; wall {:.0} ms); down {:.1} MiB; a listing of the same project {:.1} MiB. Target ≤ 150 MB",
        EDRS * PLUGS_PER_EDR,
        median(ups.clone()),
        ups.iter().copied().fold(0.0, f64::max),
        median(walls),
        median(downs),
        idle as f64 / MIB,
    );
}

fn pull(runs: usize) {
    const SIZE: usize = 40 << 20;
    let registry = DockerRegistry::start().unwrap();
    let vendor = tempfile::tempdir().unwrap();
    let product = vendor.path().join("project/products/acme_ips");
    std::fs::create_dir_all(&product).unwrap();
    std::fs::write(
        product.join("definition.yaml"),
        "name: acme_ips\ndescription: An IPS with a 40 MB adapter\nvendor: Acme\nadapter: adapter.wasm\nconsumes:\n  events:\n  - format: ecs\n",
    )
    .unwrap();
    let component = padded_component(example_adapter::example_http_wasm(), SIZE);
    std::fs::write(product.join("adapter.wasm"), &component).unwrap();
    let size = component.len() as u64;
    drop(component);
    let reference = format!("{}/acme/ips:1.0.0", registry.addr());
    let errors = vendor.path().join("stderr.txt");
    let vendor_project = vendor.path().join("project");
    let (_, publish) = measured(
        meshroom(
            vendor.path(),
            &vendor_project,
            &["publish", "acme_ips", "--to", &reference],
        ),
        &errors,
    );
    let (mut peaks, mut walls, mut idles) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let operator = tempfile::tempdir().unwrap();
        let project = operator.path().join("project");
        std::fs::create_dir_all(project.join("products")).unwrap();
        let errors = operator.path().join("stderr.txt");
        idles.push(
            measured(
                meshroom(operator.path(), &project, &["list", "products"]),
                &errors,
            )
            .1 as f64
                / MIB,
        );
        let (wall, rss) = measured(
            meshroom(operator.path(), &project, &["pull", &reference]),
            &errors,
        );
        // The component stays in the cache; the definition pins it.
        let cached = std::fs::read_dir(operator.path().join("cache/blobs/sha256"))
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.metadata().unwrap().len() == size);
        assert!(cached, "the component is not in the cache");
        assert!(project.join("products/acme_ips/definition.yaml").is_file());
        peaks.push(rss as f64 / MIB);
        walls.push(wall.as_secs_f64() * 1000.0);
    }
    let (peak, idle, blob) = (median(peaks), median(idles), size as f64 / MIB);
    println!(
        "pull of a {blob:.1} MiB adapter from a real registry: peak RSS {peak:.1} MiB median of {runs} (wall {:.0} ms); an idle command {idle:.1} MiB, so the pull adds {:.1} MiB = {:.2}× the blob (bound: < 2×); its publish peaked at {:.1} MiB",
        median(walls),
        peak - idle,
        (peak - idle) / blob,
        publish as f64 / MIB,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "--measure") {
        measure_child(&args[2], &args[3..]);
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    up_and_down(runs);
    pull(runs);
}
