//! `meshroom pull REF`: install a published product into `products/<name>/` and lock
//! the digest its reference resolved to in `meshroom.lock`.

use std::path::Path;

use anyhow::{Context as _, bail};
use meshroom_registry::{ArtifactRef, LockChange, Lockfile, PulledArtifact, check_relative_path};
use serde_yaml_ng::Value;

use super::Context;
use super::common::print_line;
use super::oci::{RegistryFlags, registry};
use crate::fsutil::write_atomic;

/// Pull a product from an OCI registry into `products/<name>/` and record its digest in
/// `meshroom.lock`; `pull PRODUCT` (a local product's name) runs its catalog pull hooks
#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// `HOST[:PORT]/REPO:TAG`, `…@sha256:DIGEST`, `oci-layout:DIR:TAG`, `REPO:TAG` (the
    /// local default registry), or the name of a local product to run its pull hooks
    pub reference: String,
    /// Fail instead of changing `meshroom.lock`
    #[arg(long)]
    pub locked: bool,
    /// Replace a product folder of the same name that was not pulled from a registry
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

/// Runs `meshroom pull`.
pub fn exec(args: PullArgs, ctx: &Context) -> anyhow::Result<()> {
    let looks_like_reference = args.reference.contains([':', '/', '@']);
    if !looks_like_reference
        && ctx
            .project_dir
            .join("products")
            .join(&args.reference)
            .is_dir()
    {
        return pull_catalog(&args, ctx);
    }
    let reference = ArtifactRef::parse(&args.reference)?;
    let lock_path = Lockfile::path_in(&ctx.project_dir);
    let mut lock = Lockfile::load(&lock_path)?;
    let policy = crate::project::TrustPolicy::load(&ctx.project_dir)?;
    let requirement = crate::engine::requirement_for(policy.as_ref(), &reference)?;
    let registry = registry(ctx, &args.registry)?;
    let pulled = ctx
        .runtime()?
        .block_on(registry.pull_checked(&reference, requirement.as_ref()))
        .with_context(|| format!("failed to pull `{reference}`"))?;
    drop(registry);

    let entry = pulled.lock_entry();
    let product_dir = ctx.project_dir.join("products").join(&pulled.product);
    if product_dir.exists()
        && lock.get(&pulled.product).is_none()
        && !left_by_a_pull(&product_dir, &reference)
        && !args.force
    {
        bail!(
            "`{}` already exists and was not pulled from a registry; remove it or pass `--force` to replace it",
            product_dir.display()
        );
    }
    let change = lock.record(entry, args.locked)?;
    install(&product_dir, &pulled, &reference)?;
    if change != LockChange::Unchanged {
        lock.save(&lock_path)?;
    }
    if ctx.json {
        print_line(format_args!(
            "{}",
            serde_json::json!({
                "product": pulled.product,
                "reference": pulled.reference,
                "manifest_digest": pulled.manifest_digest.as_str(),
                "component_digest": pulled.component_digest.as_str(),
                "wit_version": pulled.wit_version,
                "downloaded": pulled.downloaded,
                "cached": pulled.cached,
                "retries": pulled.retries,
                "lock": format!("{change:?}").to_lowercase(),
                "signed_by": pulled.signature.as_ref().map(|s| serde_json::json!({
                    "key": s.key,
                    "key_fingerprint": s.key_fingerprint.as_str(),
                })),
            })
        ))?;
    } else {
        let signed = match &pulled.signature {
            Some(s) => format!(", signed by {} ({})", s.key, s.key_fingerprint),
            None => String::new(),
        };
        print_line(format_args!(
            "pulled {} {} ({}){signed}",
            pulled.product, pulled.reference, pulled.manifest_digest
        ))?;
    }
    Ok(())
}

/// `meshroom pull PRODUCT`: runs the product's catalog pull hooks and writes the product
/// definitions they return under `products/`.
fn pull_catalog(args: &PullArgs, ctx: &Context) -> anyhow::Result<()> {
    let project = super::common::load_project(ctx)?;
    let product = project.product(&args.reference)?.name.clone();
    let pulled = ctx.runtime()?.block_on(async {
        let engine = crate::engine::Session::start(&project, crate::runtime::RuntimeConfig::default()).await?;
        if engine.adapter(&product)?.is_none() {
            bail!("product `{product}` has no adapter, so no pull hook: set `adapter:` in its definition, or give a registry reference to pull a published product");
        }
        Ok(crate::engine::vendor::pull(&engine, &project, &product, args.force).await?)
    })?;
    if ctx.json {
        super::common::print_json(&pulled)?;
    } else {
        for w in &pulled.written {
            print_line(format_args!("wrote {w}"))?;
        }
        for s in &pulled.skipped {
            let reason = super::terminal::for_stderr(&s.reason);
            eprintln!("skipped `{}`: {reason}", s.name);
        }
        for r in &pulled.refused {
            let reason = super::terminal::for_stderr(&r.reason);
            eprintln!("refused the answer of pull hook `{}`: {reason}", r.name);
        }
        if pulled.hooks.is_empty() {
            eprintln!("product `{product}`'s adapter has no pull hook: nothing to do");
        }
    }
    if !pulled.skipped.is_empty() || !pulled.refused.is_empty() {
        bail!(
            "pulled {} product definition(s) from `{product}`'s catalog; {} skipped, {} hook answer(s) refused (see above)",
            pulled.written.len(),
            pulled.skipped.len(),
            pulled.refused.len()
        );
    }
    Ok(())
}

/// Writes the product folder: the definition (its `adapter:` pointing at the artifact,
/// pinned by digest) and the integration manifests.
fn install(
    product_dir: &Path,
    pulled: &PulledArtifact,
    reference: &ArtifactRef,
) -> anyhow::Result<()> {
    let mut definition: Value = serde_yaml_ng::from_slice(&pulled.definition)
        .with_context(|| format!("the definition in `{}` is not valid YAML", pulled.reference))?;
    let Some(map) = definition.as_mapping_mut() else {
        bail!(
            "the definition in `{}` is not a YAML mapping",
            pulled.reference
        );
    };
    let pinned = reference.pinned(&pulled.manifest_digest).to_string();
    map.insert(Value::String("adapter".to_string()), Value::String(pinned));
    let yaml = serde_yaml_ng::to_string(&definition).context("failed to encode the definition")?;
    // Under the project's writer lock: a temporary file here is a killed pull's.
    crate::fsutil::remove_stale_temps(product_dir);
    let definition_path = product_dir.join("definition.yaml");
    write_atomic(&definition_path, yaml.as_bytes())
        .with_context(|| format!("failed to write `{}`", definition_path.display()))?;
    for file in &pulled.files {
        // The library already refused unsafe paths; check again where the file is written.
        check_relative_path(&file.path).map_err(anyhow::Error::msg)?;
        let path = product_dir.join(&file.path);
        refuse_links(product_dir, &path)?;
        if let Some(folder) = path.parent() {
            crate::fsutil::remove_stale_temps(folder);
        }
        write_atomic(&path, &file.bytes)
            .with_context(|| format!("failed to write `{}`", path.display()))?;
    }
    Ok(())
}

/// Whether `product_dir`, though not in the lockfile, is what a pull of
/// `reference`'s repository left when it was killed before it saved the
/// lockfile: a definition whose adapter is pinned in that repository, or
/// no definition at all (killed before writing it). Anything else may be
/// a vendor's own work: never replaced without `--force`.
fn left_by_a_pull(product_dir: &Path, reference: &ArtifactRef) -> bool {
    let text = match std::fs::read(product_dir.join("definition.yaml")) {
        Ok(t) => t,
        Err(e) => return e.kind() == std::io::ErrorKind::NotFound,
    };
    serde_yaml_ng::from_slice::<Value>(&text)
        .ok()
        .as_ref()
        .and_then(|d| d.get("adapter"))
        .and_then(Value::as_str)
        .and_then(|a| ArtifactRef::parse(a).ok())
        .is_some_and(|a| {
            a.digest().is_some()
                && a.registry() == reference.registry()
                && a.name_hint() == reference.name_hint()
        })
}

/// Refuses to write through a symbolic link inside the product folder.
fn refuse_links(product_dir: &Path, path: &Path) -> anyhow::Result<()> {
    let mut current = product_dir.to_path_buf();
    let relative = path.strip_prefix(product_dir).unwrap_or(path);
    for part in relative.components() {
        current.push(part);
        if std::fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink()) {
            bail!(
                "refusing to write through the symbolic link `{}`",
                current.display()
            );
        }
    }
    Ok(())
}
