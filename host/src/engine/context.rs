//! The model → runtime context of a hook call: the instance whose adapter
//! runs, the plug with both ends, the integration. Only non-secret
//! settings go in; secrets reach an adapter through `host.secret` alone.

use serde_json::{Map, Value};

use crate::project::{Instance, Integration, Plug, Project, ProjectError, is_secret_setting};
use crate::runtime::{HookContext, InstanceRef, IntegrationRef, PlugRef};

use super::index::{runtime_mode, runtime_role};

/// An instance's settings as an adapter may see them: the product's
/// defaults overlaid with the instance's values, minus every secret one
/// (declared `secret`, or a name that looks like a credential).
pub fn public_settings(project: &Project, instance: &Instance) -> Map<String, Value> {
    let Some(product) = project.find_product(&instance.product) else {
        return Map::new();
    };
    let def = &product.definition;
    let mut settings = instance.effective_settings(def);
    settings.retain(|name, _| match def.setting(name) {
        Some(s) => !is_secret_setting(s),
        None => !crate::project::looks_secret(name),
    });
    settings
}

/// An instance as a hook sees it.
pub fn instance_ref(project: &Project, instance: &Instance) -> InstanceRef {
    InstanceRef {
        name: instance.name.clone(),
        product: instance.product.clone(),
        settings: Value::Object(public_settings(project, instance)),
    }
}

/// A plug as a hook sees it: both ends with their public settings, its
/// configs and the outputs setup hooks recorded.
pub fn plug_ref(project: &Project, plug: &Plug) -> Result<PlugRef, ProjectError> {
    let (src, dst) = project.plug_ends(plug)?;
    Ok(PlugRef {
        src: instance_ref(project, src),
        dst: instance_ref(project, dst),
        topic: plug.topic.clone(),
        mode: runtime_mode(plug.mode),
        format: plug.format.clone(),
        is_trigger: plug.is_trigger(),
        src_config: Value::Object(plug.src_config.clone()),
        dst_config: Value::Object(plug.dst_config.clone()),
        outputs: Value::Object(plug.settings.clone()),
    })
}

/// An integration as a hook sees it (its manifest's fields as settings).
pub fn integration_ref(integration: &Integration) -> IntegrationRef {
    IntegrationRef {
        product: integration.product.clone(),
        target_product: integration.target_product.clone(),
        topic: integration.topic.clone(),
        role: runtime_role(integration.role),
        mode: runtime_mode(integration.mode),
        format: integration.format.clone(),
        settings: serde_json::to_value(&integration.manifest)
            .unwrap_or_else(|_| Value::Object(Map::new())),
    }
}

/// The context of a hook running on `instance`'s adapter, for `plug` and
/// `integration` when the hook serves one.
pub fn hook_context(
    project: &Project,
    instance: &Instance,
    plug: Option<&Plug>,
    integration: Option<&Integration>,
) -> Result<HookContext, ProjectError> {
    Ok(HookContext {
        instance: Some(instance_ref(project, instance)),
        plug: plug.map(|p| plug_ref(project, p)).transpose()?,
        integration: integration.map(integration_ref),
    })
}
