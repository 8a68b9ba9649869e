//! meshroom: build and run Cybersecurity Mesh Architectures.
//!
//! The library behind the `meshroom` binary. Data flows one way:
//! [`cli`] parses → [`project`] (the on-disk model, pure, no I/O beyond the
//! project folder) → [`engine`] plans → [`runtime`] calls adapter hooks →
//! [`engine`] records outcomes → [`project`] saves.

pub mod cli;
pub mod engine;
pub mod fsutil;
pub mod project;
pub mod runtime;
pub mod secrets;
