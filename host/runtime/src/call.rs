//! One hook call: a fresh store and instance with the call's limits (CPU
//! budget by epochs, memory cap, wall clock), and the mapping of how it
//! ended — a result, an adapter error, a timeout, a trap — to a
//! [`HookError`] that says what happened in words.

use std::time::Duration;

use wasmtime::{Store, UpdateDeadline};

use crate::adapter::Adapter;
use crate::bindings::{self, AdapterCore, wit};
use crate::error::{HookError, HookErrorKind};
use crate::policy::{self, CallPolicy};
use crate::state::{CallState, Verdict};

/// A fresh instance for one call.
pub(crate) struct Call {
    pub store: Store<CallState>,
    pub instance: AdapterCore,
    pub timeout: Duration,
}

impl Adapter {
    pub(crate) fn err(
        &self,
        hook: &str,
        kind: HookErrorKind,
        message: impl Into<String>,
    ) -> HookError {
        HookError {
            product: self.product().to_string(),
            hook: hook.to_string(),
            kind,
            message: message.into(),
        }
    }

    pub(crate) async fn instantiate(
        &self,
        hook: &str,
        policy: &CallPolicy,
    ) -> Result<Call, HookError> {
        let rt = &self.inner.runtime;
        let cfg = &rt.config;
        let peers = if policy.sockets.is_empty() {
            Vec::new()
        } else {
            policy::resolve_socket_peers(&policy.sockets).await
        };
        let state = CallState::new(
            self.product(),
            hook,
            policy,
            peers,
            cfg.memory_cap,
            cfg.io_timeout,
        );
        let mut store = Store::new(&rt.engine, state);
        store.limiter(|s| &mut s.limiter);
        let budget = (cfg.cpu_limit.as_micros() / cfg.tick.as_micros().max(1)).max(1) as u64;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            let s = ctx.data_mut();
            s.cpu_ticks += 1;
            if s.cpu_ticks > budget {
                if let Ok(mut v) = s.shared.verdict.lock() {
                    *v = Some(Verdict::Cpu);
                }
                return Err(wasmtime::Error::msg("cpu budget exhausted"));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        let instance = self
            .inner
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| {
                self.err(
                    hook,
                    HookErrorKind::Host,
                    format!("cannot start the adapter (too many calls at once?): {e:#}"),
                )
            })?;
        Ok(Call {
            store,
            instance,
            timeout: policy.timeout.unwrap_or(cfg.timeout),
        })
    }

    /// Turns the outcome of a call into the hook's result or a clear error.
    pub(crate) fn finish<R>(
        &self,
        hook: &str,
        call: &Call,
        result: Result<wasmtime::Result<Result<R, wit::AdapterError>>, tokio::time::error::Elapsed>,
    ) -> Result<R, HookError> {
        let state = call.store.data();
        let refused = state
            .shared
            .refused
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        let refused_note = if refused.is_empty() {
            String::new()
        } else {
            format!(" (the sandbox refused: {})", refused.join(", "))
        };
        let cfg = &self.inner.runtime.config;
        match result {
            Ok(Ok(Ok(r))) => Ok(r),
            Ok(Ok(Err(e))) => {
                let (kind, message) = bindings::error_from(e);
                let mut message = state.redact(&message);
                if !refused.is_empty() && !refused.iter().any(|r| message.contains(r.as_str())) {
                    message.push_str(&refused_note);
                }
                Err(self.err(hook, kind, message))
            }
            Err(_) => Err(self.err(
                hook,
                HookErrorKind::Timeout,
                format!(
                    "did not finish within {:?} (wall clock); stopped{refused_note}",
                    call.timeout
                ),
            )),
            Ok(Err(trap)) => {
                let verdict = state.shared.verdict.lock().ok().and_then(|v| *v);
                match verdict {
                    Some(Verdict::Cpu) => Err(self.err(
                        hook,
                        HookErrorKind::CpuLimit,
                        format!(
                            "used more than {:?} of CPU (an endless loop?); stopped",
                            cfg.cpu_limit
                        ),
                    )),
                    Some(Verdict::Memory(desired)) => Err(self.err(
                        hook,
                        HookErrorKind::MemoryLimit,
                        format!(
                            "tried to grow its memory to {} MiB, over the cap of {} MiB; stopped",
                            desired >> 20,
                            cfg.memory_cap >> 20
                        ),
                    )),
                    None => {
                        let tail = state.redact(&state.stderr.tail());
                        let what = if tail.contains("panicked") {
                            format!("panicked: {}", last_lines(&tail, 6))
                        } else if tail.is_empty() {
                            format!("crashed: {}", trap_summary(&trap))
                        } else {
                            format!(
                                "crashed: {}; stderr: {}",
                                trap_summary(&trap),
                                last_lines(&tail, 6)
                            )
                        };
                        Err(self.err(
                            hook,
                            HookErrorKind::Crashed,
                            format!("{what}{refused_note}"),
                        ))
                    }
                }
            }
        }
    }

    pub(crate) fn json_result(
        &self,
        hook: &str,
        text: &str,
        what: &str,
    ) -> Result<serde_json::Value, HookError> {
        bindings::json_from(text, what).map_err(|m| self.err(hook, HookErrorKind::Failed, m))
    }
}

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// A one-line description of a trap (its root cause, without the backtrace).
fn trap_summary(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return trap.to_string();
    }
    e.chain()
        .last()
        .map_or_else(|| e.to_string(), |c| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_keeps_the_end() {
        assert_eq!(last_lines("a\nb\nc\nd", 2), "c | d");
        assert_eq!(last_lines("", 2), "");
    }
}
