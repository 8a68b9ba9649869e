//! `meshroom add PRODUCT [NAME]`: a new instance of a product.

use super::Context;
use super::common::{done, load_project};
use super::settings::{SettingsArgs, apply};

/// Add an instance of a product, configuring its settings
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The product to instantiate
    pub product: String,
    /// The instance's name (default: the product's name); unique in the project
    pub name: Option<String>,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

pub fn exec(args: AddArgs, ctx: &Context) -> anyhow::Result<()> {
    let mut project = load_project(ctx)?;
    let product = project.product(&args.product)?.clone();
    let name = args.name.clone().unwrap_or_else(|| product.name.clone());
    let existing = project.instance(&name, Some(&product.name)).ok().cloned();
    let mut instance = match existing {
        Some(i) => {
            tracing::info!("instance `{name}` already exists: configuring it");
            i
        }
        None => project.new_instance(&product.name, &name)?,
    };
    apply(
        project.root(),
        &mut instance,
        &product,
        &args.settings,
        ctx.interactive(),
    )?;
    let path = instance.config_path();
    project.save_instance(instance)?;
    done(
        ctx,
        format!(
            "added instance `{name}` of `{}` at {}",
            product.name,
            path.display()
        ),
    );
    Ok(())
}
