//! Harness for meshroom's end-to-end tests: starts REAL services on 127.0.0.1.
//!
//! Each service runs in its own temporary folder, on free loopback ports, and is
//! ready-checked against its real API before `start()` returns. Dropping the value
//! stops it (SIGTERM to its process group, then SIGKILL), also when a test panics;
//! a watchdog process stops it too if the test process itself dies. Logs stay in
//! the temporary folder and are quoted in every start-up error.
//!
//! | service | module | product |
//! |---|---|---|
//! | [`DockerRegistry`] | [`registry`] | CNCF distribution (Debian `docker-registry`) |
//! | [`Rsyslog`] | [`rsyslog`] | rsyslog with one TCP input written to a file |
//! | [`Caddy`] | [`caddy`] | Caddy, configured through its admin API |
//! | [`CrowdSec`] | [`crowdsec`] | CrowdSec local API, with a watcher and a bouncer |
//! | [`Taxii`] | [`taxii`] | medallion TAXII 2.1 server (memory backend) |
//! | [`HttpCollector`] | [`collector`] | in-process HTTP server recording every request |
//! | [`TcpLineReceiver`] | [`line_receiver`] | in-process TCP server collecting lines |
//!
//! Only 127.0.0.1 is ever used. The API is blocking (std only) so it works the same
//! from plain `#[test]`s and from `#[tokio::test]`s. It must not be used outside tests.

pub mod caddy;
pub mod collector;
pub mod crowdsec;
pub mod http;
mod inproc;
pub mod line_receiver;
pub mod port;
pub mod process;
pub mod registry;
pub mod rsyslog;
pub mod taxii;

pub use caddy::Caddy;
pub use collector::{HttpCollector, RecordedRequest, Reply};
pub use crowdsec::CrowdSec;
pub use line_receiver::TcpLineReceiver;
pub use port::{free_port, port_is_free};
pub use process::process_alive;
pub use registry::DockerRegistry;
pub use rsyslog::Rsyslog;
pub use taxii::Taxii;

use std::path::{Path, PathBuf};

/// The workspace root (the folder holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let tests_crate = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests_crate.parent().unwrap_or(tests_crate).to_path_buf()
}

/// `n` random bytes as lowercase hex, for passwords, keys and ids of throwaway services.
pub fn random_hex(n: usize) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::with_capacity(n * 2);
    while out.len() < n * 2 {
        // RandomState is seeded from the OS per instance; mixing a counter and the
        // time keeps successive values distinct.
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(n * 2);
    out
}

/// A random RFC 4122 version 4 UUID.
pub fn random_uuid() -> String {
    let h = random_hex(16);
    let variant = ["8", "9", "a", "b"][usize::from(h.as_bytes()[16] % 4)];
    format!(
        "{}-{}-4{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        variant,
        &h[17..20],
        &h[20..32]
    )
}

/// A temp folder for one service instance, kept when `MESHROOM_KEEP_SERVICE_DIRS`
/// is set (for debugging a failing test).
pub(crate) fn tempdir(service: &str) -> anyhow::Result<tempfile::TempDir> {
    use anyhow::Context;
    let mut dir = tempfile::Builder::new()
        .prefix(&format!("meshroom-{service}-"))
        .tempdir()
        .with_context(|| format!("failed to create a temp folder for {service}"))?;
    if std::env::var_os("MESHROOM_KEEP_SERVICE_DIRS").is_some() {
        dir.disable_cleanup(true);
        eprintln!("meshroom-tests: keeping {}", dir.path().display());
    }
    Ok(dir)
}

/// Writes a whole file, with an error naming it.
pub(crate) fn write_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::write(path, contents).with_context(|| format!("failed to write `{}`", path.display()))
}
