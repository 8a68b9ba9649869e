//! The vendor workflows through adapters: scaffold hooks (`create
//! integration`), catalog pull hooks (`pull PRODUCT`) and publish hooks
//! (`publish PRODUCT …` without `--to`).
//!
//! What adapters return is untrusted: scaffold files and pulled product
//! definitions are written only through [`super::files`] (below the target
//! folder, bounded, all or nothing); a pulled definition that does not
//! validate is reported and skipped. These hooks run without an instance,
//! so their sandbox allows no network and answers no secret.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::Session;
use super::files::{FileError, FileLimits, NewFile, WriteReport, check_files, write_files};
use crate::project::{Integration, ProductDefinition, Project, names::validate_name};
use crate::runtime::{CallPolicy, HookContext, HookError, HookInfo, HookKind, HookOrder};

/// Why a vendor workflow stopped.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// A hook failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// The files a hook returned were refused; nothing was written.
    #[error("the files returned by {who} for `{}` were refused, nothing was written: {source}", target.display())]
    Files {
        /// Which hooks.
        who: String,
        /// The target folder.
        target: PathBuf,
        /// Why.
        #[source]
        source: FileError,
    },
    /// The adapter could not be used.
    #[error(transparent)]
    Engine(#[from] super::EngineError),
}

/// The run order of hooks: first, positions ascending, unordered, last.
fn order_rank(h: &HookInfo) -> (u8, i32) {
    match h.order {
        Some(HookOrder::First) => (0, 0),
        Some(HookOrder::Position(i)) => (1, i),
        None => (2, 0),
        Some(HookOrder::Last) => (3, 0),
    }
}

/// The hooks of `kind` applying to `integration` (a scope left unset
/// matches anything), target-specific ones overriding generic ones unless
/// those are kept, in run order.
pub fn hooks_for_integration<'h>(
    hooks: &'h [HookInfo],
    kind: HookKind,
    integration: &Integration,
) -> Vec<&'h HookInfo> {
    let role = super::runtime_role(integration.role);
    let mode = super::runtime_mode(integration.mode);
    let mut out: Vec<&HookInfo> = hooks
        .iter()
        .filter(|h| {
            h.kind == kind
                && h.role.is_none_or(|r| r == role)
                && h.topic.as_deref().is_none_or(|t| t == integration.topic)
                && h.mode.is_none_or(|m| m == mode)
                && h.format
                    .as_deref()
                    .is_none_or(|f| integration.format.as_deref().is_none_or(|g| f == g))
                && h.target_product
                    .as_deref()
                    .is_none_or(|t| t == integration.target_product)
        })
        .collect();
    if out.iter().any(|h| h.target_product.is_some()) {
        out.retain(|h| h.target_product.is_some() || h.keep_when_overloaded);
    }
    out.sort_by_key(|h| order_rank(h));
    out
}

/// The folder of `integration`'s files: `products/<product>/integrations/<target>/`.
pub fn integration_dir(project: &Project, integration: &Integration) -> PathBuf {
    project
        .products_dir()
        .join(&integration.product)
        .join("integrations")
        .join(&integration.target_product)
}

/// What scaffolding one integration wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Scaffolded {
    /// The product whose scaffold hooks ran.
    pub product: String,
    /// The hooks that ran, in order.
    pub hooks: Vec<String>,
    /// The files.
    pub files: WriteReport,
}

/// One product's checked scaffold files: (product, hooks run, target folder,
/// files, who for messages).
type PlannedSide = (String, Vec<String>, PathBuf, Vec<NewFile>, String);

/// Files scaffold hooks returned, checked and ready to write.
#[derive(Debug)]
pub struct ScaffoldPlan {
    limits: FileLimits,
    force: bool,
    sides: Vec<PlannedSide>,
}

/// Runs the scaffold hooks of each integration's product (e.g. both ends
/// of a new integration) and checks the files they return against each
/// integration's folder. Nothing is written: see [`ScaffoldPlan::write`].
pub async fn scaffold(
    engine: &Session,
    project: &Project,
    integrations: &[Integration],
    force: bool,
) -> Result<ScaffoldPlan, VendorError> {
    let limits = FileLimits::default();
    let mut sides = Vec::new();
    for integration in integrations {
        let Some(adapter) = engine.adapter(&integration.product)? else {
            tracing::debug!(
                "product `{}` has no adapter: no scaffold hook",
                integration.product
            );
            continue;
        };
        let hooks = hooks_for_integration(&adapter.info().hooks, HookKind::Scaffold, integration);
        if hooks.is_empty() {
            continue;
        }
        let ctx = HookContext {
            integration: Some(super::integration_ref(integration)),
            ..HookContext::default()
        };
        let policy = CallPolicy::deny_all();
        // Later hooks replace files of the same path written by earlier ones.
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut ran = Vec::new();
        for h in &hooks {
            tracing::info!(product = %integration.product, hook = %h.id, "scaffold: {}", h.title);
            for f in adapter.scaffold(&h.id, &ctx, &policy).await? {
                files.insert(f.path, f.contents);
            }
            ran.push(h.id.clone());
        }
        let files: Vec<NewFile> = files
            .into_iter()
            .map(|(path, contents)| NewFile { path, contents })
            .collect();
        let target = integration_dir(project, integration);
        let who = format!(
            "`{}`'s scaffold hooks ({})",
            integration.product,
            ran.join(", ")
        );
        check_files(project.root(), &target, &files, limits, force).map_err(|source| {
            VendorError::Files {
                who: who.clone(),
                target: target.clone(),
                source,
            }
        })?;
        sides.push((integration.product.clone(), ran, target, files, who));
    }
    Ok(ScaffoldPlan {
        limits,
        force,
        sides,
    })
}

impl ScaffoldPlan {
    /// Writes the checked files (each side all or nothing).
    pub fn write(self, project: &Project) -> Result<Vec<Scaffolded>, VendorError> {
        let mut out = Vec::new();
        for (product, hooks, target, files, who) in self.sides {
            let report = write_files(project.root(), &target, &files, self.limits, self.force)
                .map_err(|source| VendorError::Files {
                    who,
                    target,
                    source,
                })?;
            out.push(Scaffolded {
                product,
                hooks,
                files: report,
            });
        }
        Ok(out)
    }
}

/// One pulled product definition that was not written, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The name the hook gave (escaped).
    pub name: String,
    /// Why it was skipped.
    pub reason: String,
}

/// What a catalog pull did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pulled {
    /// The pull hooks that ran.
    pub hooks: Vec<String>,
    /// Products written (`products/<name>/definition.yaml`).
    pub written: Vec<String>,
    /// Definitions reported and skipped.
    pub skipped: Vec<Skipped>,
    /// Hook answers refused as a whole (unsafe or too large), or hooks that failed.
    pub refused: Vec<Skipped>,
}

/// Checks one pulled definition; `Ok` holds the file to write.
fn check_definition(
    project: &Project,
    name: &str,
    text: &str,
    force: bool,
    json_depth: usize,
) -> Result<NewFile, String> {
    validate_name("product", name).map_err(|e| e.to_string())?;
    let max = FileLimits::default().max_file_bytes;
    if text.len() > max {
        return Err(format!(
            "its definition has {} bytes, more than the limit of {max}",
            text.len()
        ));
    }
    super::limits::check_yaml_nesting(text, json_depth)?;
    let def: ProductDefinition = serde_yaml_ng::from_str(text).map_err(|e| match e.location() {
        Some(l) => format!(
            "its definition is not a valid product definition (line {}, column {}): {e}",
            l.line(),
            l.column()
        ),
        None => format!("its definition is not a valid product definition: {e}"),
    })?;
    if !def.name.is_empty() && def.name != name {
        return Err(format!(
            "its definition names the product `{}`, not `{name}`",
            def.name.escape_default()
        ));
    }
    if def.adapter.is_some() {
        return Err("a pulled definition must not name an adapter (`adapter:`)".to_string());
    }
    if project.find_product(name).is_some() && !force {
        return Err(format!(
            "product `{name}` already exists; pass `--force` to replace its definition"
        ));
    }
    Ok(NewFile {
        path: format!("{name}/definition.yaml"),
        contents: text.as_bytes().to_vec(),
    })
}

/// Runs `product`'s catalog pull hooks and writes the definitions they
/// return under `products/`. Each hook's answer is bounded and checked as a
/// whole (names that are paths are refused); a definition that does not
/// validate is skipped, the others are written.
pub async fn pull(
    engine: &Session,
    project: &Project,
    product: &str,
    force: bool,
) -> Result<Pulled, VendorError> {
    let mut out = Pulled::default();
    let Some(adapter) = engine.adapter(product)? else {
        return Ok(out);
    };
    let limits = FileLimits::default();
    let policy = CallPolicy::deny_all();
    let json_depth = engine.runtime().config().limits.json_depth;
    let ctx = HookContext::default();
    let mut hooks: Vec<&HookInfo> = adapter.info().hooks_of(HookKind::Pull).collect();
    hooks.sort_by_key(|h| order_rank(h));
    let target = project.products_dir();
    for h in hooks {
        out.hooks.push(h.id.clone());
        tracing::info!(product, hook = %h.id, "pull: {}", h.title);
        let answer = match adapter.pull(&h.id, &ctx, &policy).await {
            Ok(a) => a,
            Err(e) => {
                out.refused.push(Skipped {
                    name: h.id.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if answer.len() > limits.max_files {
            out.refused.push(Skipped {
                name: h.id.clone(),
                reason: format!(
                    "it returned {} definitions, more than the limit of {}",
                    answer.len(),
                    limits.max_files
                ),
            });
            continue;
        }
        let mut files = Vec::new();
        for d in &answer {
            match check_definition(project, &d.name, &d.definition, force, json_depth) {
                Ok(f) => files.push(f),
                Err(reason) => out.skipped.push(Skipped {
                    name: d.name.escape_default().to_string(),
                    reason,
                }),
            }
        }
        match write_files(project.root(), &target, &files, limits, force) {
            Ok(report) => out.written.extend(
                report
                    .created
                    .iter()
                    .chain(&report.overwritten)
                    .chain(&report.unchanged)
                    .cloned(),
            ),
            Err(e) => out.refused.push(Skipped {
                name: h.id.clone(),
                reason: e.to_string(),
            }),
        }
    }
    Ok(out)
}

/// The result of one integration's publish hooks.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// The integration (`product -> target topic role`).
    pub integration: String,
    /// Each hook and its message, or its error.
    pub hooks: Vec<PublishedHook>,
}

/// One publish hook's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedHook {
    /// The hook id.
    pub hook: String,
    /// Its message, when it succeeded.
    pub message: Option<String>,
    /// Its error, when it failed.
    pub error: Option<String>,
}

/// Runs the publish hooks of each explicit integration of `integrations`;
/// integrations without a hook are returned apart.
pub async fn publish(
    engine: &Session,
    integrations: &[Integration],
) -> Result<(Vec<Published>, Vec<String>), VendorError> {
    let policy = CallPolicy::deny_all();
    let (mut done, mut without) = (Vec::new(), Vec::new());
    for integration in integrations {
        let adapter = engine.adapter(&integration.product)?;
        let hooks = adapter
            .map(|a| hooks_for_integration(&a.info().hooks, HookKind::Publish, integration))
            .unwrap_or_default();
        let (Some(adapter), false) = (adapter, hooks.is_empty()) else {
            without.push(integration.to_string());
            continue;
        };
        let ctx = HookContext {
            integration: Some(super::integration_ref(integration)),
            ..HookContext::default()
        };
        let mut results = Vec::new();
        for h in hooks {
            tracing::info!(hook = %h.id, "publish {integration}: {}", h.title);
            let r = adapter.publish(&h.id, &ctx, &policy).await;
            results.push(PublishedHook {
                hook: h.id.clone(),
                message: r.as_ref().ok().cloned(),
                error: r.err().map(|e| e.to_string()),
            });
        }
        done.push(Published {
            integration: integration.to_string(),
            hooks: results,
        });
    }
    Ok((done, without))
}
