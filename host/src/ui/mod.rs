//! `meshroom ui`: a read-only dashboard of a project, served over HTTP on
//! the existing tokio runtime.
//!
//! - [`api`]: the JSON API behind the page (the mesh, one plug, the
//!   capability graph, the "why not" of a product pair), built from the
//!   project model and the engine's planner, the project read again on
//!   each request (through the load cache);
//! - [`live`]: the run events of `up`, `down` and `check` (from this process
//!   through [`Dashboard::events`], from others through the dashboard's
//!   socket `.meshroom/ui/<pid>.sock`), kept as the plugs' live state and
//!   streamed to the page as server-sent events;
//! - [`auth`]: the token, checked on every request when one is set;
//! - [`server`]: the HTTP server and its bounds (connections, header size
//!   and read time, request time, open event streams);
//! - `assets`: the page, its script and the vendored libraries, embedded
//!   in the binary (the page works offline).
//!
//! It must not change the project: no plug, instance or secret is written,
//! no hook runs; the only file it creates is its own socket. It never serves
//! a secret value: plug outputs whose names look secret are served by name
//! only, instance settings not at all.

pub mod api;
mod assets;
pub mod auth;
pub mod live;
pub mod server;

use std::net::SocketAddr;

pub use server::{Dashboard, DashboardConfig, UiError};

/// Whether `addr` may be served without a token: loopback only.
pub fn is_local(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}
