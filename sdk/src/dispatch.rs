//! Glue between the generated `hooks` exports and an [`Adapter`]: finds the
//! hook by id, converts the context, calls the function, converts back.

use std::cell::RefCell;

use crate::Error;
use crate::bindings::exports::meshroom::adapter::hooks as exports;
use crate::bindings::meshroom::adapter::types as wit;
use crate::context::Context;
use crate::hook::{Adapter, Hook, HookFn, Order, PlugState, Watch};

/// Implemented by the type [`crate::export!`] generates; routes the WIT
/// exports to the adapter's hooks.
#[doc(hidden)]
pub trait Dispatch {
    /// The vendor's adapter.
    type Adapter: Adapter;
}

/// The guest side of the `watcher` resource.
#[doc(hidden)]
pub struct WatcherImpl(RefCell<Box<dyn Watch>>);

impl exports::GuestWatcher for WatcherImpl {
    fn next(&self) -> Result<Option<Vec<String>>, wit::AdapterError> {
        let mut w = self
            .0
            .try_borrow_mut()
            .map_err(|_| wit::AdapterError::Failed("watcher is already in use".into()))?;
        w.next().map_err(Into::into)
    }
}

fn find<A: Adapter>(id: &str) -> Result<HookFn, Error> {
    A::hooks()
        .into_iter()
        .find(|h| h.id == id)
        .map(|h| h.func)
        .ok_or_else(|| {
            Error::NotSupported(format!("adapter of `{}` has no hook `{id}`", A::PRODUCT))
        })
}

fn mismatch(id: &str, kind: &str) -> Error {
    Error::NotSupported(format!("hook `{id}` is not a {kind} hook"))
}

macro_rules! call {
    ($T:ty, $id:expr, $ctx:expr, $variant:ident, $kind:literal, |$f:ident, $c:ident| $body:expr) => {{
        let id: String = $id;
        let run = || -> Result<_, Error> {
            let func = find::<<$T as Dispatch>::Adapter>(&id)?;
            let $c = Context::from_wit($ctx)?;
            match func {
                HookFn::$variant($f) => $body,
                _ => Err(mismatch(&id, $kind)),
            }
        };
        run().map_err(wit::AdapterError::from)
    }};
}

fn hook_info(h: Hook) -> wit::HookInfo {
    let kind = match h.func {
        HookFn::Setup(_) => wit::HookKind::Setup,
        HookFn::Teardown(_) => wit::HookKind::Teardown,
        HookFn::Check(_) => wit::HookKind::Check,
        HookFn::Produce(_) => wit::HookKind::Produce,
        HookFn::Watch(_) => wit::HookKind::Watch,
        HookFn::Trigger(_) => wit::HookKind::Trigger,
        HookFn::Execute(_) => wit::HookKind::Execute,
        HookFn::Scaffold(_) => wit::HookKind::Scaffold,
        HookFn::Pull(_) => wit::HookKind::Pull,
        HookFn::Publish(_) => wit::HookKind::Publish,
    };
    wit::HookInfo {
        title: h.title.unwrap_or_else(|| h.id.clone()),
        id: h.id,
        kind,
        role: h.role.map(Into::into),
        topic: h.topic,
        mode: h.mode.map(Into::into),
        format: h.format,
        target_product: h.target,
        owns_both: h.owns_both,
        keep_when_overloaded: h.keep_when_overloaded,
        order: h.order.map(|o| match o {
            Order::First => wit::HookOrder::First,
            Order::Last => wit::HookOrder::Last,
            Order::Position(n) => wit::HookOrder::Position(n),
        }),
    }
}

fn outcome(o: crate::Outcome) -> wit::Outcome {
    wit::Outcome {
        outputs: serde_json::Value::Object(o.outputs).to_string(),
        secrets: o
            .secrets
            .into_iter()
            .map(|(name, value)| wit::SecretOutput { name, value })
            .collect(),
    }
}

fn json_param(params: &str) -> Result<serde_json::Value, Error> {
    if params.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(params)
        .map_err(|e| Error::InvalidConfig(format!("params are not valid JSON: {e}")))
}

impl<T: Dispatch> exports::Guest for T {
    type Watcher = WatcherImpl;

    fn describe() -> wit::AdapterInfo {
        wit::AdapterInfo {
            product: T::Adapter::PRODUCT.to_string(),
            version: T::Adapter::VERSION.to_string(),
            hooks: T::Adapter::hooks().into_iter().map(hook_info).collect(),
        }
    }

    fn setup(hook: String, ctx: wit::Context) -> Result<wit::Outcome, wit::AdapterError> {
        call!(T, hook, ctx, Setup, "setup", |f, c| f(&c).map(outcome))
    }

    fn teardown(hook: String, ctx: wit::Context) -> Result<wit::Outcome, wit::AdapterError> {
        call!(T, hook, ctx, Teardown, "teardown", |f, c| f(&c)
            .map(outcome))
    }

    fn check(hook: String, ctx: wit::Context) -> Result<wit::CheckReport, wit::AdapterError> {
        call!(T, hook, ctx, Check, "check", |f, c| f(&c).map(|r| {
            wit::CheckReport {
                state: match r.state {
                    PlugState::Up => wit::PlugState::Up,
                    PlugState::Down => wit::PlugState::Down,
                    PlugState::Drifted => wit::PlugState::Drifted,
                },
                detail: r.detail,
            }
        }))
    }

    fn produce(
        hook: String,
        ctx: wit::Context,
        batch: Vec<Vec<u8>>,
    ) -> Result<wit::ProduceReport, wit::AdapterError> {
        call!(T, hook, ctx, Produce, "produce", |f, c| f(&c, batch).map(
            |r| {
                wit::ProduceReport {
                    accepted: r.accepted,
                    detail: r.detail,
                }
            }
        ))
    }

    fn watch(hook: String, ctx: wit::Context) -> Result<exports::Watcher, wit::AdapterError> {
        call!(T, hook, ctx, Watch, "watch", |f, c| f(&c)
            .map(|w| exports::Watcher::new(WatcherImpl(RefCell::new(w)))))
    }

    fn trigger(
        hook: String,
        ctx: wit::Context,
        params: String,
    ) -> Result<String, wit::AdapterError> {
        call!(T, hook, ctx, Trigger, "trigger", |f, c| f(
            &c,
            json_param(&params)?
        )
        .map(|v| v.to_string()))
    }

    fn execute(
        hook: String,
        ctx: wit::Context,
        params: String,
    ) -> Result<String, wit::AdapterError> {
        call!(T, hook, ctx, Execute, "execute", |f, c| f(
            &c,
            json_param(&params)?
        )
        .map(|v| v.to_string()))
    }

    fn scaffold(hook: String, ctx: wit::Context) -> Result<Vec<wit::File>, wit::AdapterError> {
        call!(T, hook, ctx, Scaffold, "scaffold", |f, c| f(&c).map(
            |files| {
                files
                    .into_iter()
                    .map(|f| wit::File {
                        path: f.path,
                        contents: f.contents,
                    })
                    .collect()
            }
        ))
    }

    fn pull(
        hook: String,
        ctx: wit::Context,
    ) -> Result<Vec<wit::ProductDefinition>, wit::AdapterError> {
        call!(T, hook, ctx, Pull, "pull", |f, c| f(&c).map(|defs| {
            defs.into_iter()
                .map(|d| wit::ProductDefinition {
                    name: d.name,
                    definition: d.definition,
                })
                .collect()
        }))
    }

    fn publish(hook: String, ctx: wit::Context) -> Result<String, wit::AdapterError> {
        call!(T, hook, ctx, Publish, "publish", |f, c| f(&c))
    }
}
