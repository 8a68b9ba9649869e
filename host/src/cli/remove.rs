//! `meshroom remove INSTANCE [PRODUCT]`.

use super::Context;
use super::common::{done, load_project};

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
    let removed = project.remove_instance(&args.instance, args.product.as_deref())?;
    done(
        ctx,
        format!(
            "removed instance `{}` of `{}`",
            removed.name, removed.product
        ),
    );
    Ok(())
}
