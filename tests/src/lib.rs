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
//! | [`FaultProxy`] | [`fault_proxy`] | in-process proxy breaking a service's answers on cue |
//! | [`Rsyslog`] | [`rsyslog`] | rsyslog with one TCP input written to a file |
//! | [`Caddy`] | [`caddy`] | Caddy, configured through its admin API |
//! | [`CrowdSec`] | [`crowdsec`] | CrowdSec local API, with a watcher and a bouncer |
//! | [`Taxii`] | [`taxii`] | medallion TAXII 2.1 server (memory backend) |
//! | [`HttpCollector`] | [`collector`] | in-process HTTP server recording every request |
//! | [`TcpLineReceiver`] | [`line_receiver`] | in-process TCP server collecting lines |
//!
//! Only 127.0.0.1 is ever used. The API is blocking (std only) so it works the same
//! from plain `#[test]`s and from `#[tokio::test]`s. It must not be used outside tests.

/// The lifecycle methods every process-backed service has; the struct needs the
/// fields `process: ServiceProcess` and `launch: Launch`.
macro_rules! lifecycle_methods {
    ($name:literal) => {
        /// The service's main process id (also its process group id).
        pub fn pid(&self) -> u32 {
            self.process.pid()
        }

        /// The last lines of the service's logs, for assertions and failure messages.
        pub fn log_tail(&self) -> String {
            self.process.log_tail()
        }

        /// Whether the service's process still runs.
        pub fn is_running(&mut self) -> bool {
            self.process.is_running()
        }

        /// Stops the service now (dropping does it too); `restart()` brings it back.
        pub fn stop(&mut self) -> anyhow::Result<()> {
            anyhow::Context::context(self.process.stop(), concat!("failed to stop ", $name))
        }

        /// Starts the service again on the same ports with the same folder (after
        /// `stop()`, a crash, or to restart a running one), and waits until it is
        /// ready: to test what happens while a product is down and after it is back.
        pub fn restart(&mut self) -> anyhow::Result<()> {
            self.stop()?;
            self.process =
                anyhow::Context::context(self.launch.run(), concat!("failed to restart ", $name))?;
            Ok(())
        }

        /// Freezes the service (SIGSTOP): connections are accepted by the kernel but
        /// never answered, as with a hung product. `resume()` undoes it.
        pub fn pause(&mut self) {
            self.process.pause();
        }

        /// Lets a paused service answer again.
        pub fn resume(&mut self) {
            self.process.resume();
        }
    };
}

pub mod caddy;
pub mod collector;
pub mod crowdsec;
pub mod fault_proxy;
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
pub use fault_proxy::{Fault, FaultProxy, ProxiedRequest};
pub use line_receiver::TcpLineReceiver;
pub use port::{free_port, port_is_free};
pub use process::process_alive;
pub use registry::{DockerRegistry, RegistryRequest};
pub use rsyslog::Rsyslog;
pub use taxii::Taxii;

use std::path::{Path, PathBuf};

/// The workspace root (the folder holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let tests_crate = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests_crate.parent().unwrap_or(tests_crate).to_path_buf()
}

/// `component` grown to `size` bytes or more by a custom section (custom
/// sections are ignored by validation and by the runtime): a large adapter
/// that still runs.
pub fn padded_component(mut component: Vec<u8>, size: usize) -> Vec<u8> {
    fn leb128(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"meshroom-padding";
    let mut section = leb128(name.len());
    section.extend_from_slice(name);
    section.resize(section.len() + size.saturating_sub(component.len()), 0x5a);
    component.push(0);
    component.extend(leb128(section.len()));
    component.extend(section);
    component
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

/// The current UTC time as RFC 3339 with seconds (`2026-11-27T21:00:00Z`), as the
/// products' APIs expect in timestamps (STIX `created`, CrowdSec `start_at`).
pub fn utc_now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    rfc3339_from_unix(secs)
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (proleptic Gregorian).
pub fn rfc3339_from_unix(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let rem = secs % 86_400;
    // Days to civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates_are_civil_dates() {
        assert_eq!(super::rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::rfc3339_from_unix(951_782_400),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            super::rfc3339_from_unix(1_795_815_000),
            "2026-11-27T21:30:00Z"
        );
        assert_eq!(
            super::rfc3339_from_unix(4_107_542_399),
            "2100-02-28T23:59:59Z"
        );
    }

    #[test]
    fn random_uuids_are_version_4() {
        let a = super::random_uuid();
        let b = super::random_uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(["8", "9", "a", "b"].contains(&&a[19..20]), "{a}");
    }
}
