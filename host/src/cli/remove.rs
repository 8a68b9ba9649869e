//! `meshroom remove INSTANCE [PRODUCT]`.

use super::Context;
use super::common::{done, load_project};
use super::secrets::forget_secrets;
use crate::secrets::SecretScope;

/// Remove an instance (its folder, its plugs and the plugs towards it)
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The instance to remove
    pub instance: String,
    /// Its product, when several products have an instance of this name
    pub product: Option<String>,
}

pub fn exec(args: RemoveArgs, ctx: &Context) -> anyhow::Result<()> {
    let mut project = load_project(ctx)?;
    let instance = project
        .instance(&args.instance, args.product.as_deref())?
        .clone();
    let mut scopes = vec![SecretScope::instance(&instance.product, &instance.name)];
    scopes.extend(
        project.plugs_of(&instance).map(|p| {
            SecretScope::plug(&p.src_instance, &p.dst_instance, &p.topic, p.mode.as_str())
        }),
    );
    let removed = project.remove_instance(&args.instance, args.product.as_deref())?;
    forget_secrets(project.root(), &scopes);
    done(
        ctx,
        format!(
            "removed instance `{}` of `{}`",
            removed.name, removed.product
        ),
    );
    Ok(())
}
