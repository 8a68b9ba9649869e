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
    ($self:ident, $hook:ident, $policy:ident, |$store:ident, $hooks:ident| $call:expr) => {{
        let mut call = $self.instantiate($hook, $policy).await?;
        let $hooks = call.instance.meshroom_adapter_hooks();
        let $store = &mut call.store;
        let result = tokio::time::timeout(call.timeout, $call).await;
        $self.finish($hook, &call, result)
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
        let mut call = self.instantiate(hook, &policy).await?;
        let hooks = call.instance.meshroom_adapter_hooks();
        let result = tokio::time::timeout(call.timeout, hooks.call_describe(&mut call.store)).await;
        let info = self.finish(hook, &call, result.map(|r| r.map(Ok)))?;
        Ok(bindings::info_from(info))
    }

    /// Runs a setup hook.
    pub async fn setup(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Outcome, HookError> {
        let wctx = bindings::context_to(ctx);
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_setup(store, hook, &wctx))?;
        bindings::outcome_from(out).map_err(|m| self.err(hook, HookErrorKind::Failed, m))
    }

    /// Runs a teardown hook.
    pub async fn teardown(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Outcome, HookError> {
        let wctx = bindings::context_to(ctx);
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_teardown(store, hook, &wctx))?;
        bindings::outcome_from(out).map_err(|m| self.err(hook, HookErrorKind::Failed, m))
    }

    /// Runs a check hook.
    pub async fn check(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<CheckReport, HookError> {
        let wctx = bindings::context_to(ctx);
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_check(store, hook, &wctx))?;
        Ok(bindings::check_from(out))
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
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_produce(store, hook, &wctx, batch))?;
        Ok(bindings::produce_from(out))
    }

    /// Runs a trigger hook with JSON params; returns its JSON result.
    pub async fn trigger(
        &self,
        hook: &str,
        ctx: &HookContext,
        params: &serde_json::Value,
        policy: &CallPolicy,
    ) -> Result<serde_json::Value, HookError> {
        let (wctx, params) = (bindings::context_to(ctx), params.to_string());
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_trigger(store, hook, &wctx, &params))?;
        self.json_result(hook, &out, "the trigger result")
    }

    /// Runs an execute hook with JSON params; returns its JSON result.
    pub async fn execute(
        &self,
        hook: &str,
        ctx: &HookContext,
        params: &serde_json::Value,
        policy: &CallPolicy,
    ) -> Result<serde_json::Value, HookError> {
        let (wctx, params) = (bindings::context_to(ctx), params.to_string());
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_execute(store, hook, &wctx, &params))?;
        self.json_result(hook, &out, "the execute result")
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
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_scaffold(store, hook, &wctx))?;
        Ok(bindings::files_from(out))
    }

    /// Runs a catalog pull hook. The returned definitions are untrusted.
    pub async fn pull(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<Vec<PulledProduct>, HookError> {
        let wctx = bindings::context_to(ctx);
        let out = hook_call!(self, hook, policy, |store, hooks| hooks
            .call_pull(store, hook, &wctx))?;
        Ok(bindings::definitions_from(out))
    }

    /// Runs a publish hook; returns its message.
    pub async fn publish(
        &self,
        hook: &str,
        ctx: &HookContext,
        policy: &CallPolicy,
    ) -> Result<String, HookError> {
        let wctx = bindings::context_to(ctx);
        hook_call!(self, hook, policy, |store, hooks| hooks
            .call_publish(store, hook, &wctx))
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
        let mut call = self.instantiate(hook, policy).await?;
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
        let out = self.adapter.finish(&self.hook, call, result);
        if !matches!(out, Ok(Some(_))) {
            self.call = None;
        }
        out
    }
}
