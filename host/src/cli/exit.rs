//! The CLI's error type and exit codes: [`ExitError`] carries a process
//! exit code inside an `anyhow` chain, and [`EXIT_CODES`] is the table of
//! the codes that tell an adapter's error kinds apart (`trigger`,
//! `execute`, `produce`, `watch`).

use crate::runtime::{HookError, HookErrorKind};

/// An error that asks for a specific process exit code (e.g. an adapter's
/// `unauthorized`), carried inside the `anyhow` chain.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitError {
    pub code: u8,
    pub message: String,
}

pub(super) fn stdout_closed(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<super::common::StdoutClosed>())
}

pub(super) fn exit_code_of(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<ExitError>())
        .map_or(1, |e| e.code)
}

/// The exit codes of the commands that call adapter hooks, for `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0   success
  1   error before the hook ran (project, arguments, no matching hook, adapter not loadable)
  2   invalid command line
  10  the adapter reported invalid-config (a setting or parameter is missing or malformed)
  11  the adapter reported unauthorized (the product refused the credentials)
  12  the adapter reported unreachable (product down, or host not allowed by the sandbox)
  13  the adapter reported not-supported
  14  the adapter reported failed
  20  the adapter crashed (trap or panic)
  21  the adapter used more CPU than allowed
  22  the hook did not finish in time
  23  the adapter used more memory than allowed
  24  the host could not run the hook
  25  the adapter returned or held more than the host's limits allow";

/// The exit code for a hook error kind (see [`EXIT_CODES`]).
pub fn exit_code(kind: HookErrorKind) -> u8 {
    match kind {
        HookErrorKind::InvalidConfig => 10,
        HookErrorKind::Unauthorized => 11,
        HookErrorKind::Unreachable => 12,
        HookErrorKind::NotSupported => 13,
        HookErrorKind::Failed => 14,
        HookErrorKind::Crashed => 20,
        HookErrorKind::CpuLimit => 21,
        HookErrorKind::Timeout => 22,
        HookErrorKind::MemoryLimit => 23,
        HookErrorKind::Host => 24,
        HookErrorKind::OverLimit => 25,
    }
}

/// A failed hook call as a CLI error keeping its kind in the message and
/// the exit code.
pub fn hook_failure(err: HookError) -> anyhow::Error {
    anyhow::Error::new(ExitError {
        code: exit_code(err.kind),
        message: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_documented_code() {
        use HookErrorKind::*;
        let kinds = [
            InvalidConfig,
            Unauthorized,
            Unreachable,
            NotSupported,
            Failed,
            Crashed,
            CpuLimit,
            Timeout,
            MemoryLimit,
            Host,
            OverLimit,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| exit_code(*k)).collect();
        for (k, c) in kinds.iter().zip(&codes) {
            assert!(EXIT_CODES.contains(&format!("\n  {c}  ")), "{k:?}");
        }
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
    }
}
