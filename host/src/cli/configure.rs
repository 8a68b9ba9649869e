//! `meshroom configure INSTANCE`: change an instance's settings.

use super::Context;
use super::common::{done, load_project};
use super::settings::{SettingsArgs, apply};

/// Reconfigure an existing instance's settings
#[derive(Debug, clap::Args)]
pub struct ConfigureArgs {
    /// The instance to configure
    pub instance: String,
    /// Its product, when several products have an instance of this name
    #[arg(short, long)]
    pub product: Option<String>,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

pub fn exec(args: ConfigureArgs, ctx: &Context) -> anyhow::Result<()> {
    let mut project = load_project(ctx)?;
    let mut instance = project
        .instance(&args.instance, args.product.as_deref())?
        .clone();
    let product = project.product(&instance.product)?.clone();
    apply(
        project.root(),
        &mut instance,
        &product,
        &args.settings,
        ctx.interactive(),
    )?;
    let name = instance.name.clone();
    project.save_instance(instance)?;
    done(ctx, format!("configured instance `{name}`"));
    Ok(())
}
