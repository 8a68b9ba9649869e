//! The seam where recording and replaying plug into the sandbox's egress:
//! every HTTP request an adapter makes passes through
//! `state::Egress::send_request`, which hands it to the call's [`Tape`]
//! when the caller gave one ([`CallPolicy::tape`]).
//!
//! - A recording tape sees each exchange after the real request was made
//!   (the response body is read whole by the host first, then served to
//!   the adapter from memory).
//! - A replaying tape answers each request itself: no socket is opened,
//!   and a request it cannot answer fails with the tape's explanation (in
//!   the hook's error).
//!
//! Both see the request after the egress policy allowed it, so a replayed
//! adapter is held to the same policy as a live one. The runtime knows
//! nothing of the cassette format: that is the tape's business
//! (`meshroom-cassette`).
//!
//! [`CallPolicy::tape`]: crate::CallPolicy::tape

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::types::{HookContext, HookKind};

/// An HTTP request as the adapter sent it (after the policy allowed it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeRequest {
    /// `GET`, `POST`…
    pub method: String,
    /// The absolute URL the adapter asked for (the name, not the address
    /// it resolved to).
    pub url: String,
    /// Header names (lowercase) and values, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The whole request body.
    pub body: Bytes,
}

/// An HTTP response, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in the order received.
    pub headers: Vec<(String, String)>,
    /// The whole response body.
    pub body: Bytes,
    /// From sending the request to the end of the response body.
    pub elapsed: Duration,
}

/// One request and its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// What the adapter sent.
    pub request: TapeRequest,
    /// What came back.
    pub response: TapeResponse,
}

/// The hook call a tape is opened for.
#[derive(Debug, Clone, Copy)]
pub struct TapeCall<'a> {
    /// The product the adapter serves.
    pub product: &'a str,
    /// The adapter's own version (from `describe`).
    pub adapter_version: &'a str,
    /// The sha256 digest of the component (`sha256:<hex>`).
    pub digest: &'a str,
    /// The hook id.
    pub hook: &'a str,
    /// Its kind.
    pub kind: HookKind,
    /// The context the hook is called with.
    pub context: &'a HookContext,
    /// The call's other input: trigger/execute params, or a produce
    /// batch (records as text); `Null` for other hooks.
    pub input: &'a serde_json::Value,
}

/// Opens one [`Tape`] per hook call. Given by the caller in
/// [`CallPolicy::tape`](crate::CallPolicy::tape).
pub trait TapeDeck: Send + Sync {
    /// The tape of one call.
    fn open(&self, call: &TapeCall<'_>) -> Arc<dyn Tape>;
}

/// What one hook call's exchanges go through.
pub trait Tape: Send + Sync {
    /// True: [`Tape::answer`] answers requests and nothing reaches the
    /// network; false: requests go out and [`Tape::record`] sees them.
    fn replaying(&self) -> bool;
    /// A secret value the host handed this call through `host.secret`
    /// (to keep it out of what the tape writes, and to match requests
    /// that carry it).
    fn secret(&self, name: &str, value: &str);
    /// A secret output the call returned (kept out of what the tape writes).
    fn secret_output(&self, name: &str, value: &str);
    /// Records one exchange (recording tapes).
    fn record(&self, exchange: Exchange);
    /// Answers a request (replaying tapes); `Err` says why no recorded
    /// response fits, naming the closest recorded request.
    fn answer(&self, request: &TapeRequest) -> Result<TapeResponse, String>;
    /// The call's result, as JSON, once it succeeded (recording tapes keep
    /// it as the expected result). Secret output values are not in it.
    fn result(&self, result: serde_json::Value);
}

impl fmt::Debug for dyn TapeDeck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TapeDeck")
    }
}
