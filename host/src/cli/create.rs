//! `meshroom create product|capability|integration`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::Context;
use super::common::{done, load_project, mode_parser, role_parser};
use crate::project::{Mode, ProductDefinition, Role, adapter_crate_files, templates};

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
        /// Do not scaffold the adapter crate (products/NAME/adapter/, a Rust
        /// crate on meshroom-sdk built for wasm32-wasip2)
        #[arg(long)]
        no_adapter: bool,
        /// The language of the scaffolded hooks: `rust` (an adapter crate) or
        /// `python` (a `setup.py` in the original Meshroom's layout)
        #[arg(long, value_parser = ["rust", "python"], default_value = "rust")]
        lang: String,
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
        /// Overwrite files that the products' scaffold hooks return and that already exist
        #[arg(long)]
        force: bool,
    },
}

pub fn exec(args: CreateArgs, ctx: &Context) -> anyhow::Result<()> {
    let mut project = load_project(ctx)?;
    match args.what {
        CreateCommand::Product {
            name,
            template,
            no_adapter,
            lang,
        } => {
            let python = lang == "python";
            if project.find_product(&name).is_some() {
                done(
                    ctx,
                    format!("product `{name}` already exists: nothing to do"),
                );
                return Ok(());
            }
            let mut files = match &template {
                Some(t) => templates::files(t, &name)?,
                None => vec![(
                    PathBuf::from("definition.yaml"),
                    serde_yaml_ng::to_string(&ProductDefinition {
                        name: name.clone(),
                        ..ProductDefinition::default()
                    })?
                    .into_bytes(),
                )],
            };
            if python && !no_adapter {
                let definition = definition_among(&files, &name, &project)?;
                files.push((
                    PathBuf::from("setup.py"),
                    super::python_scaffold::setup_py(&name, &definition).into_bytes(),
                ));
            } else if !no_adapter && !files.iter().any(|(p, _)| p.starts_with("adapter")) {
                let definition = definition_among(&files, &name, &project)?;
                let sdk_path = std::env::var("MESHROOM_SDK_PATH").ok();
                files.extend(
                    adapter_crate_files(&name, &definition, sdk_path.as_deref())
                        .into_iter()
                        .map(|(p, text)| (Path::new("adapter").join(p), text.into_bytes()))
                        .chain(
                            crate::project::scenario_files(&name, &definition)
                                .into_iter()
                                .map(|(p, text)| (PathBuf::from(p), text.into_bytes())),
                        ),
                );
            }
            let product = project
                .create_product_from_files(&name, files)
                .with_context(|| format!("failed to create product `{name}`"))?;
            let path = product.definition_path();
            let adapter_dir = product.dir.join("adapter");
            done(
                ctx,
                format!(
                    "created product `{name}`{} at {}",
                    template.map(|t| format!(" from `{t}`")).unwrap_or_default(),
                    path.display()
                ),
            );
            if python && !no_adapter {
                done(
                    ctx,
                    format!(
                        "scaffolded its Python hooks in {} (build them with `meshroom build {name}`)",
                        product.dir.join("setup.py").display()
                    ),
                );
            } else if !no_adapter {
                done(
                    ctx,
                    format!(
                        "scaffolded its adapter crate in {} (build it with `meshroom build {name}`)",
                        adapter_dir.display()
                    ),
                );
            }
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
            force,
        } => {
            project.product(&product)?;
            project.product(&target_product)?;
            let f = format.as_deref();
            // Run the scaffold hooks and check their files before changing anything.
            let prospective = project
                .explicit_integrations()
                .iter()
                .find(|i| {
                    i.product == product
                        && i.target_product == target_product
                        && i.topic == topic
                        && i.role == role
                        && i.mode == mode
                        && (f.is_none() || i.format.as_deref() == f)
                })
                .cloned()
                .unwrap_or_else(|| {
                    let mut i = crate::project::Integration {
                        product: product.clone(),
                        target_product: target_product.clone(),
                        topic: topic.clone(),
                        role,
                        mode,
                        format: format.clone(),
                        generic: false,
                        path: None,
                        manifest: Default::default(),
                    };
                    i.manifest = i.new_manifest();
                    i
                });
            let scaffold = super::scaffold::plan(ctx, &project, &prospective, force)?;
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
                    format!("integration {integration} already exists at {path}"),
                );
            }
            super::scaffold::write(ctx, &project, scaffold)?;
        }
    }
    Ok(())
}

/// The definition among a new product's files (empty when there is none),
/// which its scaffolded adapter crate is tailored to.
fn definition_among(
    files: &[(PathBuf, Vec<u8>)],
    name: &str,
    project: &crate::project::Project,
) -> anyhow::Result<ProductDefinition> {
    let path = Path::new("definition.yaml");
    Ok(match files.iter().find(|(p, _)| p == path) {
        Some((_, bytes)) => ProductDefinition::parse(
            &project.products_dir().join(name).join(path),
            &String::from_utf8_lossy(bytes),
        )?,
        None => ProductDefinition::default(),
    })
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
