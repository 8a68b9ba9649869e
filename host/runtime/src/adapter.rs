//! [`Adapter`]: a loaded adapter and one method per hook kind. Each call
//! runs in a fresh instance ([`crate::call`]); the WIT values are converted
//! by [`crate::bindings`]. [`Watcher`] keeps one instance alive between the
//! batches of a watch hook.

use std::sync::Arc;

use wasmtime::component::ResourceAny;

use crate::bindings::{self, AdapterCorePre};
use crate::call::Call;
use crate::config::EngineCore;
use crate::error::{HookError, HookErrorKind};
use crate::limits;
use crate::policy::CallPolicy;
use crate::state::CallState;
use crate::types::*;

/// What every clone of an [`Adapter`] shares.
pub(crate) struct AdapterInner {
    pub digest: String,
    pub name: String,
    pub info: AdapterInfo,
    pub pre: AdapterCorePre<CallState>,
    pub runtime: Arc<EngineCore>,
}

/// A loaded adapter: compiled, pre-instantiated, described. Cheap to clone;
/// every hook call runs in a fresh instance.
#[derive(Clone)]
pub struct Adapter {
    pub(crate) inner: Arc<AdapterInner>,
}

impl std::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapter")
            .field("name", &self.inner.name)
            .field("digest", &self.inner.digest)
            .field("product", &self.inner.info.product)
            .finish_non_exhaustive()
    }
}

macro_rules! hook_call {
    ($self:ident, $hook:ident, $kind:ident, $ctx:ident, $policy:ident, |$store:ident, $hooks:ident| $call:expr) => {{
        hook_call!(
            $self,
            $hook,
            $kind,
            $ctx,
            &serde_json::Value::Null,
            $policy,
            |$store, $hooks| $call
        )
    }};
    ($self:ident, $hook:ident, $kind:ident, $ctx:ident, $input:expr, $policy:ident, |$store:ident, $hooks:ident| $call:expr) => {{
        let tape = $self.open_tape($hook, HookKind::$kind, $ctx, $input, $policy);
        let mut call = $self.instantiate($hook, $policy, tape).await?;
        let $hooks = call.instance.meshroom_adapter_hooks();
        let $store = &mut call.store;
        let result = tokio::time::timeout(call.timeout, $call).await;
        ($self.finish($hook, &call, result), call)
    }};
}

impl Adapter {
    /// The `describe()` answer (cached per digest).
    pub fn info(&self) -> &AdapterInfo {
        &self.inner.info
    }

    /// The component's digest, `sha256:<hex>`.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// The name it was loaded under (file name).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The product the adapter serves (from `describe()`).
    pub fn product(&self) -> &str {
        &self.inner.info.product
    }

    pub(crate) async fn describe_now(&self) -> Result<AdapterInfo, HookError> {
        let policy = CallPolicy::deny_all();
        let hook = "describe";
        let mut call = self.instantiate(hook, &policy, None).await?;
        let hooks = call.instance.meshroom_adapter_hooks();
        let result = tokio::time::timeout(call.timeout, hooks.call_describe(&mut call.store)).await;
        let info = self.finish(hook, &call, result.map(|r| r.map(Ok)))?;
        let limits = call.store.data().limits;
        drop(call);
        if info.hooks.len() > limits.hooks {
            return Err(self.err(
                hook,
                HookErrorKind::OverLimit,
                format!(
                    "lists {} hooks, more than the limit of {} (`hooks`)",
                    info.hooks.len(),
                    limits.hooks
                ),
            ));
        }
        let mut info = bindings::info_from(info);
        for h in &mut info.hooks {
            h.title = limits::cut_owned(std::mem::take(&mut h.title), limits.title_bytes);
        }
        Ok(info)
    }

    /// Runs a setup hook.
    pub async fn setup(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Outcome, HookError> {
        let wctx = bindings::context_to(ctx);
        let (out, call) = hook_call!(self, hook, Setup, ctx, policy, |store, hooks| hooks
            .call_setup(store, hook, &wctx));
        self.outcome_checked(hook, call, out?)
    }

    /// Runs a teardown hook.
    pub async fn teardown(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Outcome, HookError> {
        let wctx = bindings::context_to(ctx);
        let (out, call) = hook_call!(self, hook, Teardown, ctx, policy, |store, hooks| hooks
            .call_teardown(store, hook, &wctx));
        self.outcome_checked(hook, call, out?)
    }

    /// Runs a check hook.
    pub async fn check(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<CheckReport, HookError> {
        let wctx = bindings::context_to(ctx);
        let (out, call) = hook_call!(self, hook, Check, ctx, policy, |store, hooks| hooks
            .call_check(store, hook, &wctx));
        let mut report = bindings::check_from(out?);
        report.detail = call.store.data().bounded_text(&report.detail);
        call.tape_result(|| serde_json::json!({ "check": report }));
        Ok(report)
    }

    /// Runs a produce hook on one batch of records.
    pub async fn produce(
        &self,
        hook: &str,
        ctx: &HookContext,
        batch: &[Vec<u8>],
        policy: &CallPolicy,
    ) -> Result<ProduceReport, HookError> {
        let wctx = bindings::context_to(ctx);
        let input = taped_batch(policy, batch);
        let (out, call) = hook_call!(self, hook, Produce, ctx, &input, policy, |store, hooks| {
            hooks.call_produce(store, hook, &wctx, batch)
        });
        let mut report = bindings::produce_from(out?);
        report.detail = call.store.data().bounded_text(&report.detail);
        if report.accepted as usize > batch.len() {
            return Err(self.err(
                hook,
                HookErrorKind::Failed,
                format!(
                    "reported {} records accepted of a batch of {}: an adapter error (a produce report counts only records of its batch); detail: {}",
                    report.accepted,
                    batch.len(),
                    report.detail
                ),
            ));
        }
        call.tape_result(|| serde_json::json!({ "produce": report }));
        Ok(report)
    }

    /// Runs a trigger hook with JSON params; returns its JSON result.
    pub async fn trigger(
        &self,
        hook: &str,
        ctx: &HookContext,
        params: &serde_json::Value,
        policy: &CallPolicy,
    ) -> Result<serde_json::Value, HookError> {
        let (wctx, text) = (bindings::context_to(ctx), params.to_string());
        let (out, call) = hook_call!(self, hook, Trigger, ctx, params, policy, |store, hooks| {
            hooks.call_trigger(store, hook, &wctx, &text)
        });
        let limits = call.store.data().limits;
        let result = self.json_result(hook, &out?, &limits, "the trigger result")?;
        call.tape_result(|| serde_json::json!({ "trigger": result }));
        Ok(result)
    }

    /// Runs an execute hook with JSON params; returns its JSON result.
    pub async fn execute(
        &self,
        hook: &str,
        ctx: &HookContext,
        params: &serde_json::Value,
        policy: &CallPolicy,
    ) -> Result<serde_json::Value, HookError> {
        let (wctx, text) = (bindings::context_to(ctx), params.to_string());
        let (out, call) = hook_call!(self, hook, Execute, ctx, params, policy, |store, hooks| {
            hooks.call_execute(store, hook, &wctx, &text)
        });
        let limits = call.store.data().limits;
        let result = self.json_result(hook, &out?, &limits, "the execute result")?;
        call.tape_result(|| serde_json::json!({ "execute": result }));
        Ok(result)
    }

    /// Runs a scaffold hook. The returned paths are untrusted: check them
    /// before writing.
    pub async fn scaffold(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Vec<ScaffoldFile>, HookError> {
        let wctx = bindings::context_to(ctx);
        let (out, _call) = hook_call!(self, hook, Scaffold, ctx, policy, |store, hooks| hooks
            .call_scaffold(store, hook, &wctx));
        Ok(bindings::files_from(out?))
    }

    /// Runs a catalog pull hook. The returned definitions are untrusted.
    pub async fn pull(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Vec<PulledProduct>, HookError> {
        let wctx = bindings::context_to(ctx);
        let (out, _call) = hook_call!(self, hook, Pull, ctx, policy, |store, hooks| hooks
            .call_pull(store, hook, &wctx));
        Ok(bindings::definitions_from(out?))
    }

    /// Runs a publish hook; returns its message.
    pub async fn publish(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<String, HookError> {
        let wctx = bindings::context_to(ctx);
        let (out, call) = hook_call!(self, hook, Publish, ctx, policy, |store, hooks| hooks
            .call_publish(store, hook, &wctx));
        let message = call.store.data().bounded_text(&out?);
        call.tape_result(|| serde_json::json!({ "publish": message }));
        Ok(message)
    }

    /// Starts a watch hook. The returned [`Watcher`] keeps its instance
    /// alive between batches; each [`Watcher::next`] has the call limits.
    pub async fn watch(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Watcher, HookError> {
        let wctx = bindings::context_to(ctx);
        let tape = self.open_tape(hook, HookKind::Watch, ctx, &serde_json::Value::Null, policy);
        let mut call = self.instantiate(hook, policy, tape).await?;
        let hooks = call.instance.meshroom_adapter_hooks();
        let result =
            tokio::time::timeout(call.timeout, hooks.call_watch(&mut call.store, hook, &wctx))
                .await;
        let resource = self.finish(hook, &call, result)?;
        Ok(Watcher {
            adapter: self.clone(),
            hook: hook.to_string(),
            call: Some(call),
            resource,
        })
    }
}

/// A produce batch as a tape keeps it (records as text), built only when
/// the call is taped.
fn taped_batch(policy: &CallPolicy, batch: &[Vec<u8>]) -> serde_json::Value {
    if policy.tape.is_none() {
        return serde_json::Value::Null;
    }
    batch
        .iter()
        .map(|r| serde_json::Value::String(String::from_utf8_lossy(r).into_owned()))
        .collect()
}

/// A running watch hook.
pub struct Watcher {
    adapter: Adapter,
    hook: String,
    /// `None` once the stream ended or failed (the instance is dropped).
    call: Option<Call>,
    resource: ResourceAny,
}

impl Watcher {
    /// The next batch of records; `None` when the stream ended. After an
    /// error the watcher is finished.
    pub async fn next(&mut self) -> Result<Option<Vec<String>>, HookError> {
        let Some(call) = self.call.as_mut() else {
            return Ok(None);
        };
        call.store.data_mut().cpu_ticks = 0;
        let hooks = call.instance.meshroom_adapter_hooks();
        let result = tokio::time::timeout(
            call.timeout,
            hooks.watcher().call_next(&mut call.store, self.resource),
        )
        .await;
        let mut out = self.adapter.finish(&self.hook, call, result);
        let max = call.store.data().limits.watch_batch;
        if let Ok(Some(records)) = &mut out
            && records.len() > max
        {
            tracing::warn!(
                product = %self.adapter.product(),
                hook = %self.hook,
                "watch batch of {} records cut to the limit of {max} (`watch_batch`)",
                records.len()
            );
            records.truncate(max);
        }
        if let Ok(Some(records)) = &out {
            call.tape_result(|| serde_json::json!({ "watch": records }));
        }
        if !matches!(out, Ok(Some(_))) {
            self.call = None;
        }
        out
    }
}
