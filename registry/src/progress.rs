//! Progress reporting: the library emits events, the CLI decides how to draw them
//! (a bar on a terminal, nothing otherwise).

/// What happened to one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A transfer of `size` bytes starts (`what`: e.g. `adapter component`).
    Started {
        /// The blob's digest.
        digest: String,
        /// Its role in the artifact.
        what: String,
        /// Its size in bytes.
        size: u64,
    },
    /// Bytes of a started transfer received so far (downloads from a
    /// remote registry report them as they arrive; other transfers go from
    /// `Started` to `Finished` at once).
    Transferred {
        /// The blob's digest.
        digest: String,
        /// Bytes moved so far.
        bytes: u64,
    },
    /// A transfer finished.
    Finished {
        /// The blob's digest.
        digest: String,
    },
    /// No transfer was needed: the destination already has it (registry or cache).
    Skipped {
        /// The blob's digest.
        digest: String,
        /// Its role in the artifact.
        what: String,
        /// Its size in bytes.
        size: u64,
    },
}

/// Receives progress events; implementations must be cheap and must not block.
pub trait Progress: Send + Sync {
    /// Called for each event.
    fn event(&self, event: ProgressEvent);
}

/// Ignores all events (non-terminal use, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: ProgressEvent) {}
}

impl<F: Fn(ProgressEvent) + Send + Sync> Progress for F {
    fn event(&self, event: ProgressEvent) {
        self(event)
    }
}
