//! Where adapter text meets the operator: the one place the command line
//! decides whether to escape it (the rule itself, and what is escaped, is
//! `runtime::escape_controls`).
//!
//! - stderr (errors, warnings): always escaped; it is read by a person.
//! - stdout (plan/up/check/produce reports, titles, details, `watch`
//!   records): escaped when stdout is a terminal; a pipe or a file gets the
//!   exact text, so `watch` records stay the raw bytes the adapter sent.
//! - `--json`: never escaped here; serde writes control characters as
//!   JSON escapes, so it is exact and safe.
//!
//! Adapter log lines are escaped by the runtime itself, wherever they go.
//! This module must not change text in any other way.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::OnceLock;

use crate::runtime::escape_controls;

/// Whether stdout is a terminal (asked once).
pub fn stdout_is_terminal() -> bool {
    static IS: OnceLock<bool> = OnceLock::new();
    *IS.get_or_init(|| std::io::stdout().is_terminal())
}

/// Text for stdout: escaped when stdout is a terminal.
pub fn for_stdout(text: &str) -> Cow<'_, str> {
    if stdout_is_terminal() {
        escape_controls(text)
    } else {
        Cow::Borrowed(text)
    }
}

/// Text for stderr: always escaped.
pub fn for_stderr(text: &str) -> Cow<'_, str> {
    escape_controls(text)
}
