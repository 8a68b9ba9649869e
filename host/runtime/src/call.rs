//! One hook call: a fresh store and instance with the call's limits (CPU
//! budget by epochs, memory cap, wall clock), and the mapping of how it
//! ended — a result, an adapter error, a timeout, a trap — to a
//! [`HookError`] that says what happened in words.

use std::time::Duration;

use wasmtime::{Store, UpdateDeadline};

use crate::adapter::Adapter;
use crate::bindings::{self, AdapterCore, wit};
use crate::error::{HookError, HookErrorKind};
use crate::limits::{self, Limits, cut, parse_json};
use crate::policy::{self, CallPolicy};
use crate::state::{self, CallState, Verdict};
use std::sync::Arc;

use crate::tape::{Tape, TapeCall};
use crate::types::{HookContext, HookKind, Outcome};

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

    /// The tape of a hook call, when the caller records or replays.
    pub(crate) fn open_tape(
        &self,
        hook: &str,
        kind: HookKind,
        ctx: &HookContext,
        input: &serde_json::Value,
        policy: &CallPolicy,
    ) -> Option<Arc<dyn Tape>> {
        policy.tape.as_ref().map(|deck| {
            deck.open(&TapeCall {
                product: self.product(),
                adapter_version: &self.info().version,
                digest: self.digest(),
                hook,
                kind,
                context: ctx,
                input,
            })
        })
    }

    pub(crate) async fn instantiate(
        &self,
        hook: &str,
        policy: &CallPolicy,
        tape: Option<Arc<dyn Tape>>,
    ) -> Result<Call, HookError> {
        let rt = &self.inner.runtime;
        let cfg = &rt.config;
        // A replay opens no socket: TCP is not recorded, so it is refused.
        let replaying = tape.as_ref().is_some_and(|t| t.replaying());
        let peers = if policy.sockets.is_empty() || replaying {
            Vec::new()
        } else {
            policy::resolve_socket_peers(&policy.sockets).await
        };
        let limits = policy.limits.unwrap_or(cfg.limits);
        let state = CallState::new(
            self.product(),
            hook,
            policy,
            peers,
            cfg.memory_cap,
            cfg.io_timeout,
            limits,
        )
        .with_tape(tape);
        let mut store = Store::new(&rt.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Bounds what the host copies out of the guest per return value
        // and per call into the host, before it is copied.
        store.set_hostcall_fuel(limits.answer_bytes);
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
        state.log_output(true);
        let refused = state
            .shared
            .refused
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        let misses = state
            .shared
            .misses
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let mut refused_note = if refused.is_empty() {
            String::new()
        } else {
            format!(" (the sandbox refused: {})", refused.join(", "))
        };
        if !misses.is_empty() {
            refused_note.push_str(&format!(" (replay: {})", misses.join("; ")));
        }
        let cfg = &self.inner.runtime.config;
        match result {
            Ok(Ok(Ok(r))) => Ok(r),
            Ok(Ok(Err(e))) => {
                let (kind, message) = bindings::error_from(e);
                let mut message = state.bounded_text(&message);
                if !misses.is_empty()
                    || (!refused.is_empty()
                        && !refused.iter().any(|r| message.contains(r.as_str())))
                {
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
                    None if over_limit(&trap, HOSTCALL_FUEL_EXHAUSTED) => Err(self.err(
                        hook,
                        HookErrorKind::OverLimit,
                        format!(
                            "returned (or passed to the host) more than {} in one value (`answer_bytes`); nothing of it was kept{refused_note}",
                            limits::human(state.limits.answer_bytes)
                        ),
                    )),
                    None if over_limit(&trap, FIELDS_TOO_BIG) => Err(self.err(
                        hook,
                        HookErrorKind::OverLimit,
                        format!(
                            "set HTTP headers of more than {} in one fields resource (`header_bytes`); stopped{refused_note}",
                            limits::human(state.limits.header_bytes)
                        ),
                    )),
                    None if over_limit(&trap, RESOURCE_TABLE_FULL) => Err(self.err(
                        hook,
                        HookErrorKind::OverLimit,
                        format!(
                            "held more than {} host resources at once (HTTP fields, requests, bodies, streams; `resources`); stopped{refused_note}",
                            state.limits.resources
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

    /// A trigger/execute result, parsed within the call's limits.
    pub(crate) fn json_result(
        &self,
        hook: &str,
        text: &str,
        limits: &Limits,
        what: &str,
    ) -> Result<serde_json::Value, HookError> {
        let kind = if text.len() > limits.result_bytes {
            HookErrorKind::OverLimit
        } else {
            HookErrorKind::Failed
        };
        parse_json(text, limits.result_bytes, limits.json_depth, what)
            .map_err(|m| self.err(hook, kind, m))
    }

    /// Checks an outcome against the call's limits and secrets: outputs
    /// bounded in size and nesting (before parsing), no secret value in a
    /// non-secret output. Nothing of a refused outcome is kept.
    pub(crate) fn outcome_checked(
        &self,
        hook: &str,
        call: Call,
        out: wit::Outcome,
    ) -> Result<Outcome, HookError> {
        let state = call.store.data();
        let limits = state.limits;
        let served: Vec<(String, zeroize::Zeroizing<String>)> = state.served().to_vec();
        let tape = state.tape.clone();
        drop(call);
        let over = |m: String| self.err(hook, HookErrorKind::OverLimit, m);
        if out.secrets.len() > limits.secret_outputs {
            return Err(over(format!(
                "returned {} secret outputs, more than the limit of {} (`secret_outputs`); nothing was stored",
                out.secrets.len(),
                limits.secret_outputs
            )));
        }
        if let Some(s) = out
            .secrets
            .iter()
            .find(|s| s.value.len() + s.name.len() > limits.outputs_bytes)
        {
            return Err(over(format!(
                "returned the secret output `{}` of more than {} (`outputs_bytes`); nothing was stored",
                limits::cut(&s.name.escape_default().to_string(), 64),
                limits::human(limits.outputs_bytes)
            )));
        }
        limits::check_json(
            &out.outputs,
            limits.outputs_bytes,
            limits.json_depth,
            "outputs",
        )
        .map_err(|m| {
            let kind = if out.outputs.len() > limits.outputs_bytes {
                HookErrorKind::OverLimit
            } else {
                HookErrorKind::Failed
            };
            self.err(hook, kind, format!("{m}; nothing was stored"))
        })?;
        let outcome =
            bindings::outcome_from(out).map_err(|m| self.err(hook, HookErrorKind::Failed, m))?;
        let known: Vec<(&str, &str)> = served
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain(
                outcome
                    .secrets
                    .iter()
                    .map(|s| (s.name.as_str(), s.value.expose())),
            )
            .collect();
        if let Some((output, secret)) = secret_in_outputs(&outcome.outputs, &known) {
            return Err(self.err(
                hook,
                HookErrorKind::Failed,
                format!(
                    "returned the value of the secret `{secret}` in its non-secret output `{output}`, which would be written in plain text; nothing was stored. Return it as a secret output instead (`outcome.secrets`, read back with `host.secret`)"
                ),
            ));
        }
        // A recording keeps the result, its secret values scrubbed.
        if let Some(tape) = tape.filter(|t| !t.replaying()) {
            for s in &outcome.secrets {
                tape.secret_output(&s.name, s.value.expose());
            }
            tape.result(outcome.summary());
        }
        Ok(outcome)
    }
}

impl Call {
    /// Gives a recording tape the call's result (built only when one
    /// records).
    pub(crate) fn tape_result(&self, result: impl FnOnce() -> serde_json::Value) {
        if let Some(tape) = self.store.data().tape.as_ref().filter(|t| !t.replaying()) {
            tape.result(result());
        }
    }
}

/// Message texts of the traps that mean a bound of [`Limits`] was hit
/// (wasmtime's error types for them are private).
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";
const RESOURCE_TABLE_FULL: &str = "resource table has no free keys";
const FIELDS_TOO_BIG: &str = "total size of fields exceeds limit";

/// Whether any cause of `trap` says `what`.
fn over_limit(trap: &wasmtime::Error, what: &str) -> bool {
    trap.chain().any(|c| c.to_string().contains(what))
}

/// The first non-secret output (by name, escaped and cut) holding one of
/// the `known` secret values (`(name, value)`), and that secret's name.
/// Keys and every string inside a value are searched.
fn secret_in_outputs(
    outputs: &serde_json::Map<String, serde_json::Value>,
    known: &[(&str, &str)],
) -> Option<(String, String)> {
    fn holds<'a>(v: &serde_json::Value, known: &[(&'a str, &str)]) -> Option<&'a str> {
        match v {
            serde_json::Value::String(s) => found_in(s, known),
            serde_json::Value::Array(a) => a.iter().find_map(|v| holds(v, known)),
            serde_json::Value::Object(m) => m
                .iter()
                .find_map(|(k, v)| found_in(k, known).or_else(|| holds(v, known))),
            _ => None,
        }
    }
    fn found_in<'a>(text: &str, known: &[(&'a str, &str)]) -> Option<&'a str> {
        known
            .iter()
            .find(|(_, v)| v.len() >= state::MIN_SECRET_LEN && text.contains(*v))
            .map(|(n, _)| *n)
    }
    outputs.iter().find_map(|(k, v)| {
        found_in(k, known)
            .or_else(|| holds(v, known))
            .map(|secret| {
                let name = if found_in(k, known).is_some() {
                    "(its name)".to_string()
                } else {
                    cut(&k.escape_default().to_string(), 64).into_owned()
                };
                (
                    name,
                    cut(&secret.escape_default().to_string(), 64).into_owned(),
                )
            })
    })
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
