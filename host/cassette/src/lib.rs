//! meshroom-cassette: recording and replaying adapters' HTTP exchanges,
//! so an adapter can be proven without the product in the room.
//!
//! - [`Deck::record`] gives the runtime a tape per hook call
//!   ([`meshroom_runtime::TapeDeck`]) that keeps every exchange, then
//!   [`Deck::save`] writes one [`Cassette`] per call: versioned YAML
//!   (module `format` documents it), secrets scrubbed to
//!   `{{secret:NAME}}`, large bodies beside it, content-addressed.
//! - [`Deck::replay`] answers each request from the call's cassette and
//!   never opens a socket; a request that matches nothing fails the hook
//!   with the differences from the closest recorded request
//!   ([`MatchRules`] relax the match by header or JSONPath, in order or
//!   in any order).
//!
//! It works for every adapter alike (Rust, Python…): it sits at the
//! runtime's egress, not in the adapter. It knows nothing of projects:
//! the caller names each call's scope.

mod deck;
mod error;
mod format;
mod matching;
mod redact;

pub use deck::{CallReport, Deck};
pub use error::CassetteError;
pub use format::{
    AdapterStamp, BODIES_DIR, Body, CallStamp, Cassette, FORMAT_VERSION, HeaderValue, Interaction,
    LARGE_BODY, Request, Response, cassettes_in,
};
pub use matching::{MatchRules, Order};
pub use redact::{REDACTED, placeholder};
