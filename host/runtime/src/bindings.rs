//! Host bindings of `meshroom:adapter/adapter-core`, generated from `wit/`,
//! and their conversions to and from the runtime's public types. Nothing
//! generated leaves this module.

use super::error::HookErrorKind;
use super::types::*;

mod generated {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "adapter-core",
        exports: { default: async },
        require_store_data_send: true,
    });
}

pub(crate) use generated::AdapterCore;
pub(crate) use generated::AdapterCorePre;
pub(crate) use generated::meshroom::adapter::host as wit_host;
pub(crate) use generated::meshroom::adapter::types as wit;

fn json_text(v: &serde_json::Value) -> String {
    if v.is_null() {
        "{}".to_string()
    } else {
        v.to_string()
    }
}

fn role_to(r: Role) -> wit::Role {
    match r {
        Role::Producer => wit::Role::Producer,
        Role::Consumer => wit::Role::Consumer,
        Role::Trigger => wit::Role::Trigger,
        Role::Executor => wit::Role::Executor,
    }
}

fn role_from(r: wit::Role) -> Role {
    match r {
        wit::Role::Producer => Role::Producer,
        wit::Role::Consumer => Role::Consumer,
        wit::Role::Trigger => Role::Trigger,
        wit::Role::Executor => Role::Executor,
    }
}

fn mode_to(m: Mode) -> wit::Mode {
    match m {
        Mode::Push => wit::Mode::Push,
        Mode::Pull => wit::Mode::Pull,
    }
}

fn mode_from(m: wit::Mode) -> Mode {
    match m {
        wit::Mode::Push => Mode::Push,
        wit::Mode::Pull => Mode::Pull,
    }
}

fn instance_to(i: &InstanceRef) -> wit::Instance {
    wit::Instance {
        name: i.name.clone(),
        product: i.product.clone(),
        settings: json_text(&i.settings),
    }
}

pub(crate) fn context_to(c: &HookContext) -> wit::Context {
    wit::Context {
        instance: c.instance.as_ref().map(instance_to),
        plug: c.plug.as_ref().map(|p| wit::Plug {
            src: instance_to(&p.src),
            dst: instance_to(&p.dst),
            topic: p.topic.clone(),
            mode: mode_to(p.mode),
            format: p.format.clone(),
            is_trigger: p.is_trigger,
            src_config: json_text(&p.src_config),
            dst_config: json_text(&p.dst_config),
            outputs: json_text(&p.outputs),
        }),
        integration: c.integration.as_ref().map(|i| wit::Integration {
            product: i.product.clone(),
            target_product: i.target_product.clone(),
            topic: i.topic.clone(),
            role: role_to(i.role),
            mode: mode_to(i.mode),
            format: i.format.clone(),
            settings: json_text(&i.settings),
        }),
    }
}

pub(crate) fn info_from(i: wit::AdapterInfo) -> AdapterInfo {
    AdapterInfo {
        product: i.product,
        version: i.version,
        hooks: i
            .hooks
            .into_iter()
            .map(|h| HookInfo {
                id: h.id,
                kind: match h.kind {
                    wit::HookKind::Setup => HookKind::Setup,
                    wit::HookKind::Teardown => HookKind::Teardown,
                    wit::HookKind::Check => HookKind::Check,
                    wit::HookKind::Produce => HookKind::Produce,
                    wit::HookKind::Watch => HookKind::Watch,
                    wit::HookKind::Trigger => HookKind::Trigger,
                    wit::HookKind::Execute => HookKind::Execute,
                    wit::HookKind::Scaffold => HookKind::Scaffold,
                    wit::HookKind::Pull => HookKind::Pull,
                    wit::HookKind::Publish => HookKind::Publish,
                },
                role: h.role.map(role_from),
                topic: h.topic,
                mode: h.mode.map(mode_from),
                format: h.format,
                target_product: h.target_product,
                owns_both: h.owns_both,
                keep_when_overloaded: h.keep_when_overloaded,
                order: h.order.map(|o| match o {
                    wit::HookOrder::First => HookOrder::First,
                    wit::HookOrder::Last => HookOrder::Last,
                    wit::HookOrder::Position(n) => HookOrder::Position(n),
                }),
                title: h.title,
            })
            .collect(),
    }
}

/// Parses a JSON object sent by an adapter; `what` names it in the error.
fn object_from(
    text: &str,
    what: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    if text.trim().is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(format!("adapter returned {what} that is not a JSON object")),
        Err(e) => Err(format!("adapter returned invalid JSON for {what}: {e}")),
    }
}

pub(crate) fn outcome_from(o: wit::Outcome) -> Result<Outcome, String> {
    Ok(Outcome {
        outputs: object_from(&o.outputs, "outputs")?,
        secrets: o
            .secrets
            .into_iter()
            .map(|s| SecretOutput {
                name: s.name,
                value: SecretValue::new(s.value),
            })
            .collect(),
    })
}

pub(crate) fn check_from(r: wit::CheckReport) -> CheckReport {
    CheckReport {
        state: match r.state {
            wit::PlugState::Up => CheckState::Up,
            wit::PlugState::Down => CheckState::Down,
            wit::PlugState::Drifted => CheckState::Drifted,
        },
        detail: r.detail,
    }
}

pub(crate) fn produce_from(r: wit::ProduceReport) -> ProduceReport {
    ProduceReport {
        accepted: r.accepted,
        detail: r.detail,
    }
}

pub(crate) fn files_from(files: Vec<wit::File>) -> Vec<ScaffoldFile> {
    files
        .into_iter()
        .map(|f| ScaffoldFile {
            path: f.path,
            contents: f.contents,
        })
        .collect()
}

pub(crate) fn definitions_from(defs: Vec<wit::ProductDefinition>) -> Vec<PulledProduct> {
    defs.into_iter()
        .map(|d| PulledProduct {
            name: d.name,
            definition: d.definition,
        })
        .collect()
}

/// The adapter's error kind and message.
pub(crate) fn error_from(e: wit::AdapterError) -> (HookErrorKind, String) {
    match e {
        wit::AdapterError::InvalidConfig(m) => (HookErrorKind::InvalidConfig, m),
        wit::AdapterError::Unauthorized(m) => (HookErrorKind::Unauthorized, m),
        wit::AdapterError::Unreachable(m) => (HookErrorKind::Unreachable, m),
        wit::AdapterError::NotSupported(m) => (HookErrorKind::NotSupported, m),
        wit::AdapterError::Failed(m) => (HookErrorKind::Failed, m),
    }
}
