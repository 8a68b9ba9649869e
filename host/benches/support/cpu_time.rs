//! The CPU time of the benchmark process as a criterion measurement, so a
//! machine shared with other builds does not inflate the figures. Included
//! by the benches that measure CPU time (`#[path]`: not a bench itself).

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// CPU time consumed by this process, in nanoseconds.
pub struct CpuTime;

/// CPU time this process consumed so far (user + system, every thread), in
/// nanoseconds.
pub fn cpu_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        cpu_now_ns()
    }
    fn end(&self, start: u64) -> u64 {
        cpu_now_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Values are nanoseconds, as wall time's.
        WallTime.formatter()
    }
}
