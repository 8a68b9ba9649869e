//! Fault injection for the crash tests: with `MESHROOM_FAULT=<point>:<n>`
//! in the environment, the process aborts (no destructor runs, nothing is
//! flushed, as under SIGKILL) the `n`-th time it reaches [`point`]
//! `<point>`. Unset, a point costs one atomic load.
//!
//! The points, where a crash is hardest to survive:
//! - `staged`: a file about to replace another is written and flushed,
//!   not yet renamed (every write of [`crate::write_atomic`] and its kin,
//!   and each blob a pull streams into the registry's cache);
//! - `renamed`: it has just replaced the other;
//! - `hook-returned`: a setup or teardown hook changed a product, its
//!   outputs not yet saved (meshroom's engine);
//! - `intent-saved`: a plug's `pending:` intent is durable, its first hook
//!   not yet called.
//!
//! It must not be used for anything but tests: it never changes what a
//! run does short of ending it.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable that arms a fault.
pub const FAULT_ENV: &str = "MESHROOM_FAULT";

/// The armed point and the count at which it fires.
static ARMED: LazyLock<Option<(String, usize)>> = LazyLock::new(|| {
    let spec = std::env::var(FAULT_ENV).ok()?;
    let (point, n) = spec.rsplit_once(':')?;
    Some((point.to_string(), n.parse().ok()?))
});

static REACHED: AtomicUsize = AtomicUsize::new(0);

/// Marks that the process reached `name`; aborts it there when that is
/// the armed point's `n`-th time.
pub fn point(name: &str) {
    let Some((armed, n)) = ARMED.as_ref() else {
        return;
    };
    if armed == name && REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        eprintln!("meshroom: {FAULT_ENV}: aborting at `{name}` #{n}");
        std::process::abort();
    }
}
