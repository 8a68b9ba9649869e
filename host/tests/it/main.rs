//! The host's integration tests, one binary (as cargo and ripgrep do): a
//! module per area, one shared [`support`] module. Each test runs the real
//! `meshroom` binary or the runtime against real services on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

mod support;

mod cli;
mod conformance;
mod exercise;
mod faults;
mod lifecycle;
mod listing_parity;
mod lock;
mod progress_bars;
mod python;
mod real_mesh;
mod registry_cli;
mod runtime;
mod secrets;
mod signing;
mod ui;
mod untrusted_returns;
mod vendor_path;
mod wide_glyphs;
