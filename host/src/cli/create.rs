//! `meshroom create product|capability|integration`.

use anyhow::Context as _;

use super::Context;
use super::common::{done, load_project, mode_parser, role_parser};
use crate::project::{Mode, ProductDefinition, Role, templates};

/// Create a product (optionally from a template), a capability or an integration
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[command(subcommand)]
    pub what: CreateCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CreateCommand {
    /// Create a product: products/NAME/definition.yaml, from a template category or folder
    Product {
        /// The product's name (letters, digits, `_`, `.`)
        name: String,
        /// A template: one of `meshroom list templates`, or a path to a folder
        #[arg(long = "from", value_name = "TEMPLATE")]
        template: Option<String>,
    },
    /// Add a capability to a product's definition
    Capability {
        /// The product
        product: String,
        /// The topic (e.g. events, alerts, threats, deny)
        topic: String,
        /// The product's role on this topic
        #[arg(value_parser = role_parser())]
        role: Role,
        /// Who initiates the exchange
        #[arg(short, long, value_parser = mode_parser(), default_value = "push")]
        mode: Mode,
        /// The data format (e.g. ecs, ocsf, cef, syslog, stix, openc2); any when omitted
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Create an integration of PRODUCT towards TARGET_PRODUCT (adds the complementary capability on the target when missing)
    Integration {
        /// The product the integration is deployed on
        product: String,
        /// The product on the other end
        target_product: String,
        /// The topic exchanged
        topic: String,
        /// PRODUCT's role
        #[arg(value_parser = role_parser())]
        role: Role,
        /// Who initiates the exchange
        #[arg(short, long, value_parser = mode_parser(), default_value = "push")]
        mode: Mode,
        /// The data format; any when omitted
        #[arg(short, long)]
        format: Option<String>,
    },
}

pub fn exec(args: CreateArgs, ctx: &Context) -> anyhow::Result<()> {
    let mut project = load_project(ctx)?;
    match args.what {
        CreateCommand::Product { name, template } => {
            if project.find_product(&name).is_some() {
                done(
                    ctx,
                    format!("product `{name}` already exists: nothing to do"),
                );
                return Ok(());
            }
            let product = match &template {
                Some(t) => {
                    let files = templates::files(t, &name)?;
                    project
                        .create_product_from_files(&name, files)
                        .with_context(|| {
                            format!("failed to create product `{name}` from template `{t}`")
                        })?
                }
                None => project.create_product(&name, ProductDefinition::default())?,
            };
            let path = product.definition_path();
            let dir = product.dir.clone();
            super::build::scaffold_adapter_crate(&name, &dir)?;
            done(
                ctx,
                format!(
                    "created product `{name}`{} at {}",
                    template.map(|t| format!(" from `{t}`")).unwrap_or_default(),
                    path.display()
                ),
            );
        }
        CreateCommand::Capability {
            product,
            topic,
            role,
            mode,
            format,
        } => {
            let changed =
                project.add_capability(&product, &topic, role, mode, format.as_deref())?;
            let cap = describe(&topic, role, mode, format.as_deref());
            if changed {
                done(
                    ctx,
                    format!("added capability `{cap}` to product `{product}`"),
                );
            } else {
                done(
                    ctx,
                    format!("product `{product}` already has capability `{cap}`: nothing to do"),
                );
            }
        }
        CreateCommand::Integration {
            product,
            target_product,
            topic,
            role,
            mode,
            format,
        } => {
            project.product(&product)?;
            project.product(&target_product)?;
            let f = format.as_deref();
            for (p, r) in [(&product, role), (&target_product, role.complement())] {
                if project.add_capability(p, &topic, r, mode, f)? {
                    done(
                        ctx,
                        format!(
                            "added capability `{}` to product `{p}`",
                            describe(&topic, r, mode, f)
                        ),
                    );
                }
            }
            let (integration, created) =
                project.add_integration(&product, &target_product, &topic, role, mode, f)?;
            let path = integration
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            if created {
                done(ctx, format!("created integration {integration} at {path}"));
            } else {
                done(
                    ctx,
                    format!("integration {integration} already exists at {path}: nothing to do"),
                );
            }
        }
    }
    Ok(())
}

fn describe(topic: &str, role: Role, mode: Mode, format: Option<&str>) -> String {
    crate::project::Capability {
        topic: Some(topic.to_string()),
        role,
        mode,
        format: format.map(str::to_string),
    }
    .to_string()
}
