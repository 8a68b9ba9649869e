//! `meshroom list products|integrations|instances|plugs|templates`.

use std::collections::HashMap;

use serde_json::json;

use anyhow::Context as _;
use meshroom_registry::{LockedProduct, Lockfile};

use super::Context;
use super::common::{
    hook_index, known, load_project, load_scope, mode_parser, or_dash, print_json, print_table,
    role_parser, to_stdout, truncate_to_width, write_json, write_table_with,
};
use super::oci::RegistryFlags;
use crate::project::{
    Capability, IntegrationFilter, IntegrationView, ListedIntegration, Mode, Project, Role, Scope,
    templates,
};

/// List products, integrations, instances, plugs or templates
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(subcommand)]
    pub what: ListCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ListCommand {
    /// List products: tags, number of integrations, instances
    Products {
        /// Only products whose name contains this
        search: Option<String>,
        /// Also show each product's capabilities
        #[arg(short, long)]
        wide: bool,
        /// Also ask the registry of each pulled product whether a newer tag exists
        /// (a network call per pulled product)
        #[arg(long)]
        outdated: bool,
        #[command(flatten)]
        registry: RegistryFlags,
    },
    /// List integrations: explicit ones (files) and generic ones (matching capabilities), with who can set each side up
    Integrations {
        /// Only integrations of this product
        product: Option<String>,
        /// Only integrations towards this product
        target_product: Option<String>,
        /// Only this topic
        #[arg(short, long)]
        topic: Option<String>,
        /// Only this role
        #[arg(short, long, value_parser = role_parser())]
        role: Option<Role>,
        /// Only this mode
        #[arg(short, long, value_parser = mode_parser())]
        mode: Option<Mode>,
        /// Also show each integration's file
        #[arg(short, long)]
        wide: bool,
    },
    /// List instances and their plugs
    Instances {
        /// Only instances whose name contains this
        search: Option<String>,
        /// Only instances of this product
        #[arg(short, long)]
        product: Option<String>,
        /// Also show each instance's settings
        #[arg(short, long)]
        wide: bool,
    },
    /// List plugs with their status (up or down)
    Plugs {
        /// Only plugs from this instance
        src_instance: Option<String>,
        /// Only plugs to this instance
        dst_instance: Option<String>,
        /// Only this topic
        #[arg(short, long)]
        topic: Option<String>,
        /// Only this mode
        #[arg(short, long, value_parser = mode_parser())]
        mode: Option<Mode>,
        /// Also show owner and recorded outputs
        #[arg(short, long)]
        wide: bool,
    },
    /// List the product templates embedded in meshroom (for `create product --from`)
    Templates {
        /// Also show full descriptions
        #[arg(short, long)]
        wide: bool,
    },
}

pub fn exec(args: ListArgs, ctx: &Context) -> anyhow::Result<()> {
    match args.what {
        ListCommand::Templates { wide } => templates_cmd(ctx, wide),
        ListCommand::Products {
            search,
            wide,
            outdated,
            registry,
        } => {
            let project = load_scope(ctx, &Scope::catalog())?;
            let outdated = outdated.then_some(&registry);
            products(ctx, &project, search.as_deref(), wide, outdated)
        }
        ListCommand::Integrations {
            product,
            target_product,
            topic,
            role,
            mode,
            wide,
        } => {
            let project = load_project(ctx)?;
            if let Some(p) = &product {
                project.product(p)?;
            }
            if let Some(p) = &target_product {
                project.product(p)?;
            }
            let filter = IntegrationFilter {
                product: product.as_deref(),
                target: target_product.as_deref(),
                topic: topic.as_deref(),
                role,
                mode,
                format: None,
            };
            integrations(ctx, &project, &filter, wide)
        }
        ListCommand::Instances {
            search,
            product,
            wide,
        } => {
            let scope = match &product {
                Some(p) => Scope::mesh().with_product(p),
                None => Scope::mesh(),
            };
            let project = load_scope(ctx, &scope)?;
            known(ctx, &project, &[], product.as_deref())?;
            instances(ctx, &project, search.as_deref(), product.as_deref(), wide)
        }
        ListCommand::Plugs {
            src_instance,
            dst_instance,
            topic,
            mode,
            wide,
        } => {
            let project = load_scope(ctx, &Scope::mesh())?;
            let names: Vec<&String> = src_instance.iter().chain(dst_instance.iter()).collect();
            known(ctx, &project, &names, None)?;
            plugs(
                ctx,
                &project,
                src_instance.as_deref(),
                dst_instance.as_deref(),
                topic.as_deref(),
                mode,
                wide,
            )
        }
    }
}

fn caps_text(caps: &[Capability], role: Role) -> String {
    caps.iter()
        .filter(|c| c.role == role)
        .map(|c| {
            let mut s = c.topic.clone().unwrap_or_else(|| "*".into());
            if c.mode == Mode::Pull {
                s.push_str(":pull");
            }
            if let Some(f) = &c.format {
                s.push('/');
                s.push_str(f);
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn products(
    ctx: &Context,
    project: &Project,
    search: Option<&str>,
    wide: bool,
    outdated: Option<&RegistryFlags>,
) -> anyhow::Result<()> {
    let hooks = hook_index(ctx, project)?;
    let lock = Lockfile::load(&Lockfile::path_in(project.root()))?;
    let counts = project.integration_counts(&hooks);
    let mut instances: HashMap<&str, Vec<&str>> = HashMap::new();
    for i in project.instances() {
        instances
            .entry(i.product.as_str())
            .or_default()
            .push(&i.name);
    }
    let selected: Vec<_> = project
        .products()
        .iter()
        .filter(|p| search.is_none_or(|s| p.name.contains(s)))
        .collect();
    let locked: Vec<Option<&LockedProduct>> = selected.iter().map(|p| lock.get(&p.name)).collect();
    let newer = match outdated {
        Some(flags) => Some(newer_versions(ctx, flags, &locked)?),
        None => None,
    };
    if ctx.json {
        let out: Vec<_> = selected
            .iter()
            .zip(&locked)
            .enumerate()
            .map(|(n, (p, l))| {
                let mut v = json!({
                    "name": p.name,
                    "description": p.definition.description,
                    "vendor": p.definition.vendor,
                    "tags": p.definition.tags,
                    "adapter": p.definition.adapter,
                    "integrations": counts.get(p.name.as_str()).copied().unwrap_or(0),
                    "instances": instances.get(p.name.as_str()).cloned().unwrap_or_default(),
                    "capabilities": project.capabilities(&p.name, &hooks),
                    "source": source_json(*l),
                });
                if let (Some(newer), Some(o)) = (&newer, v.as_object_mut()) {
                    o.insert("newer".into(), json!(newer[n]));
                }
                v
            })
            .collect();
        return print_json(&out);
    }
    let mut headers = vec!["name", "tags", "integrations", "instances", "source"];
    if newer.is_some() {
        headers.push("newer");
    }
    if wide {
        headers.extend(["produces", "consumes", "triggers", "executes"]);
    }
    let rows: Vec<Vec<String>> = selected
        .iter()
        .zip(&locked)
        .enumerate()
        .map(|(n, (p, l))| {
            let mut row = vec![
                p.name.clone(),
                or_dash(p.definition.tags.join(", ")),
                counts
                    .get(p.name.as_str())
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
                or_dash(
                    instances
                        .get(p.name.as_str())
                        .map(|v| v.join(", "))
                        .unwrap_or_default(),
                ),
                l.map_or_else(|| "local".to_string(), LockedProduct::source_label),
            ];
            if let Some(newer) = &newer {
                row.push(or_dash(newer[n].join(", ")));
            }
            if wide {
                let caps = project.capabilities(&p.name, &hooks);
                for role in Role::ALL {
                    row.push(or_dash(caps_text(&caps, role)));
                }
            }
            row
        })
        .collect();
    print_table(&headers, &rows)
}

/// The `source` of a product in `list products --json`: `"local"`, or where it was
/// pulled from and the digests `meshroom.lock` pins.
fn source_json(locked: Option<&LockedProduct>) -> serde_json::Value {
    match locked {
        None => json!("local"),
        Some(l) => json!({
            "reference": l.reference,
            "manifest_digest": l.manifest_digest.as_str(),
            "component_digest": l.component_digest.as_str(),
        }),
    }
}

/// For each listed product, the tags newer than the one it was pulled at (empty for local
/// products and digest references). Only called with `--outdated`: it asks the registries.
fn newer_versions(
    ctx: &Context,
    flags: &RegistryFlags,
    locked: &[Option<&LockedProduct>],
) -> anyhow::Result<Vec<Vec<String>>> {
    if locked.iter().all(Option::is_none) {
        return Ok(vec![Vec::new(); locked.len()]);
    }
    let registry = super::oci::registry(ctx, flags)?;
    ctx.runtime()?.block_on(async {
        let mut out = Vec::with_capacity(locked.len());
        for entry in locked {
            out.push(match entry {
                Some(e) => registry.newer_versions(e).await.with_context(|| {
                    format!(
                        "failed to list the tags of `{}` (product `{}`)",
                        e.reference, e.product
                    )
                })?,
                None => Vec::new(),
            });
        }
        Ok(out)
    })
}

/// Number of plugs per (source product, destination product, topic, mode).
fn plug_counts(project: &Project) -> foldhash::HashMap<(&str, &str, &str, Mode), usize> {
    let mut out = foldhash::HashMap::default();
    for plug in project.plugs() {
        if let Ok((src, dst)) = project.plug_ends(plug) {
            *out.entry((
                src.product.as_str(),
                dst.product.as_str(),
                plug.topic.as_str(),
                plug.mode,
            ))
            .or_default() += 1;
        }
    }
    out
}

/// `list integrations`.
fn integrations(
    ctx: &Context,
    project: &Project,
    filter: &IntegrationFilter<'_>,
    wide: bool,
) -> anyhow::Result<()> {
    let hooks = hook_index(ctx, project)?;
    let listed = project.list_integrations(&hooks, filter);
    to_stdout(|out| write_integrations(out, project, &listed, wide, ctx.json))
}

/// Writes `listed` as `list integrations` shows them: a table, or JSON
/// (also used by the benchmark).
pub fn write_integrations(
    out: &mut dyn std::io::Write,
    project: &Project,
    listed: &[ListedIntegration<'_>],
    wide: bool,
    json: bool,
) -> std::io::Result<()> {
    let counts = plug_counts(project);
    let plugs_of = |i: &IntegrationView<'_>| {
        let (src, dst) = if i.role.is_source() {
            (i.product, i.target_product)
        } else {
            (i.target_product, i.product)
        };
        counts
            .get(&(src, dst, i.topic, i.mode))
            .copied()
            .unwrap_or(0)
    };
    if json {
        #[derive(serde::Serialize)]
        struct Row<'a> {
            #[serde(flatten)]
            listed: &'a ListedIntegration<'a>,
            plugs: usize,
        }
        let rows: Vec<Row<'_>> = listed
            .iter()
            .map(|l| Row {
                listed: l,
                plugs: plugs_of(&l.integration),
            })
            .collect();
        return write_json(out, &rows);
    }
    let mut headers = vec![
        "product",
        "target product",
        "topic",
        "role",
        "mode",
        "format",
        "kind",
        "setup",
        "plugs",
    ];
    if wide {
        headers.push("file");
    }
    // Cells borrow: plug counts from a table of numbers, files (with
    // --wide) from their relative paths.
    let plugs: Vec<usize> = listed.iter().map(|l| plugs_of(&l.integration)).collect();
    let numbers: Vec<String> = (0..=plugs.iter().copied().max().unwrap_or(0))
        .map(|n| n.to_string())
        .collect();
    let files: Vec<String> = listed
        .iter()
        .filter(|_| wide)
        .map(|l| match l.integration.path() {
            Some(p) => p
                .strip_prefix(project.root())
                .unwrap_or(p)
                .display()
                .to_string(),
            None => "-".to_string(),
        })
        .collect();
    write_table_with(out, &headers, listed.len(), |n| {
        let i = &listed[n].integration;
        [
            i.product,
            i.target_product,
            i.topic,
            i.role.as_str(),
            i.mode.as_str(),
            i.format.unwrap_or("-"),
            if i.is_generic() {
                "generic"
            } else {
                "explicit"
            },
            listed[n].setup.describe(),
            &numbers[plugs[n]],
            files.get(n).map_or("", String::as_str),
        ]
    })
}

fn instances(
    ctx: &Context,
    project: &Project,
    search: Option<&str>,
    product: Option<&str>,
    wide: bool,
) -> anyhow::Result<()> {
    let selected: Vec<_> = project
        .instances()
        .iter()
        .filter(|i| {
            search.is_none_or(|s| i.name.contains(s)) && product.is_none_or(|p| i.product == p)
        })
        .collect();
    let plugs = project.plug_index();
    if ctx.json {
        let out: Vec<_> = selected
            .iter()
            .map(|i| {
                json!({
                    "name": i.name,
                    "product": i.product,
                    "settings": i.config.settings,
                    "plugs": plugs.of(i).map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect();
        return print_json(&out);
    }
    let mut headers = vec!["name", "product", "plugs"];
    if wide {
        headers.push("settings");
    }
    let rows: Vec<Vec<String>> = selected
        .iter()
        .map(|i| {
            let mut row = vec![
                i.name.clone(),
                i.product.clone(),
                or_dash(
                    plugs
                        .of(i)
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            ];
            if wide {
                row.push(or_dash(
                    i.config
                        .settings
                        .iter()
                        .map(|(k, v)| format!("{k}={}", compact(v)))
                        .collect::<Vec<_>>()
                        .join(" "),
                ));
            }
            row
        })
        .collect();
    print_table(&headers, &rows)
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One plug of `list plugs --json`: the plug as its file stores it, with its
/// status always present (the file leaves out `down`, as the original does)
/// and its source product.
fn plug_row(plug: &crate::project::Plug) -> anyhow::Result<serde_json::Value> {
    let mut row = serde_json::to_value(plug).context("failed to render a plug as JSON")?;
    if let Some(fields) = row.as_object_mut() {
        fields.insert("status".into(), plug.status.as_str().into());
        fields.insert("src_product".into(), plug.src_product.clone().into());
    }
    Ok(row)
}

/// `list plugs` (also used by the benchmark).
pub fn plugs(
    ctx: &Context,
    project: &Project,
    src: Option<&str>,
    dst: Option<&str>,
    topic: Option<&str>,
    mode: Option<Mode>,
    wide: bool,
) -> anyhow::Result<()> {
    let selected: Vec<_> = project
        .plugs()
        .iter()
        .filter(|p| {
            src.is_none_or(|s| p.src_instance == s)
                && dst.is_none_or(|d| p.dst_instance == d)
                && topic.is_none_or(|t| p.topic == t)
                && mode.is_none_or(|m| p.mode == m)
        })
        .collect();
    if ctx.json {
        let out = selected
            .iter()
            .map(|p| plug_row(p))
            .collect::<anyhow::Result<Vec<_>>>()?;
        return print_json(&out);
    }
    let mut headers = vec![
        "src instance",
        "dst instance",
        "topic",
        "mode",
        "format",
        "kind",
        "status",
    ];
    if wide {
        headers.extend(["owner", "outputs"]);
    }
    let rows: Vec<Vec<String>> = selected
        .iter()
        .map(|p| {
            let mut row = vec![
                p.src_instance.clone(),
                p.dst_instance.clone(),
                p.topic.clone(),
                p.mode.to_string(),
                or_dash(p.format.clone().unwrap_or_default()),
                if p.is_trigger() { "trigger" } else { "data" }.to_string(),
                match p.pending {
                    // A killed run's intent: the next `up` or `down` finishes it.
                    Some(to) => format!("{}, pending {}", p.status.as_str(), to.as_str()),
                    None => p.status.as_str().to_string(),
                },
            ];
            if wide {
                row.push(or_dash(
                    p.owner
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                ));
                row.push(or_dash(
                    p.settings
                        .iter()
                        .map(|(k, v)| format!("{k}={}", compact(v)))
                        .collect::<Vec<_>>()
                        .join(" "),
                ));
            }
            row
        })
        .collect();
    print_table(&headers, &rows)
}

fn templates_cmd(ctx: &Context, wide: bool) -> anyhow::Result<()> {
    let list = templates::list();
    if ctx.json {
        return print_json(&list);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            let description = if wide {
                t.description.clone()
            } else {
                truncate_to_width(&t.description, 70)
            };
            vec![
                t.name.clone(),
                format!(
                    "{}/{}/{}/{}",
                    t.capabilities[0], t.capabilities[1], t.capabilities[2], t.capabilities[3]
                ),
                or_dash(t.tags.join(", ")),
                or_dash(description),
            ]
        })
        .collect();
    print_table(
        &[
            "name",
            "produces/consumes/triggers/executes",
            "tags",
            "description",
        ],
        &rows,
    )
}
