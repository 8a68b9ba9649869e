//! `meshroom publish PRODUCT --to REF`: push a product (adapter component, definition,
//! integration manifests) as one OCI artifact.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use meshroom_registry::{ArtifactRef, Created, Metadata, PackageFile, ProductPackage};
use serde_yaml_ng::Value;

use super::Context;
use super::common::print_line;
use super::oci::{RegistryFlags, registry};

/// Publish a product as an OCI artifact (`--to REF`); without `--to`, the original's
/// form `publish PRODUCT [TARGET] [TOPIC] [ROLE]` submits integrations to the vendor's
/// catalog through the product's publish hooks
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The product to publish (its folder under `products/`)
    pub product: String,
    /// Publish hooks only: the target product of the integrations to submit
    pub target: Option<String>,
    /// Publish hooks only: the topic of the integrations to submit
    pub topic: Option<String>,
    /// Publish hooks only: the role of the integrations to submit
    #[arg(value_parser = super::common::role_parser())]
    pub role: Option<crate::project::Role>,
    /// Publish hooks only: the mode of the integrations to submit
    #[arg(short, long, value_parser = super::common::mode_parser())]
    pub mode: Option<crate::project::Mode>,
    /// Publish hooks only: the format of the integrations to submit
    #[arg(short, long)]
    pub format: Option<String>,
    /// Where to publish: `HOST[:PORT]/REPO:TAG`, `oci-layout:DIR:TAG`, or `REPO:TAG` for
    /// the local default registry (`$MESHROOM_REGISTRY_DIR`)
    #[arg(long, value_name = "REF")]
    pub to: Option<String>,
    /// The adapter component to publish (default: the definition's `adapter:` path,
    /// relative to the product folder)
    #[arg(long, value_name = "PATH")]
    pub component: Option<PathBuf>,
    /// Record the current time as the creation date (default: `SOURCE_DATE_EPOCH` or
    /// 1970-01-01, so the same inputs give the same digest)
    #[arg(long)]
    pub now: bool,
    /// Sign what was published with this key (a name from `meshroom keys list` or a PEM
    /// private key file), as `meshroom sign` does; repeatable
    #[arg(long, value_name = "KEY")]
    pub sign: Vec<String>,
    #[command(flatten)]
    pub passphrase: super::keys::PassphraseArgs,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

/// Runs `meshroom publish`.
pub fn exec(args: PublishArgs, ctx: &Context) -> anyhow::Result<()> {
    let Some(to) = &args.to else {
        return publish_hooks(&args, ctx);
    };
    let reference = ArtifactRef::parse(to)?;
    let product_dir = ctx.project_dir.join("products").join(&args.product);
    let package = read_package(&product_dir, &args)?;
    // Keys first: a wrong passphrase fails before anything is pushed.
    let keys = args
        .sign
        .iter()
        .map(|k| Ok((k, super::keys::load_private_key(k, &args.passphrase, ctx)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let registry = registry(ctx, &args.registry)?;
    let rt = ctx.runtime()?;
    let published = rt
        .block_on(registry.publish(&package, &reference))
        .with_context(|| {
            format!(
                "failed to publish product `{}` to `{reference}`",
                args.product
            )
        })?;
    let pinned = reference.pinned(&published.manifest_digest);
    let mut signatures = Vec::new();
    for (name, key) in &keys {
        let signed = rt
            .block_on(super::sign::sign(&registry, &pinned, key))
            .with_context(|| {
                format!("published `{pinned}`, but failed to sign it with key `{name}`")
            })?;
        signatures.push(serde_json::json!({
            "key": name,
            "key_fingerprint": key.public_key().fingerprint().as_str(),
            "signature_tag": signed.signature_tag,
            "added": signed.added,
        }));
        if !ctx.json {
            super::sign::report(ctx, &pinned, name, key, &signed)?;
        }
    }
    drop(registry);
    if ctx.json {
        print_line(format_args!(
            "{}",
            serde_json::json!({
                "product": args.product,
                "reference": published.reference,
                "manifest_digest": published.manifest_digest.as_str(),
                "component_digest": published.component_digest.as_str(),
                "uploaded": published.uploaded,
                "skipped": published.skipped,
                "signatures": signatures,
            })
        ))?;
    } else {
        print_line(format_args!(
            "published {} to {}",
            args.product, published.reference
        ))?;
        tracing::info!(
            uploaded = published.uploaded,
            already_present = published.skipped,
            "blobs"
        );
    }
    Ok(())
}

/// `publish PRODUCT [TARGET] [TOPIC] [ROLE]` without `--to`: runs the publish hooks of the
/// matching explicit integrations, reporting each result.
fn publish_hooks(args: &PublishArgs, ctx: &Context) -> anyhow::Result<()> {
    let project = super::common::load_project(ctx)?;
    project.product(&args.product)?;
    let integrations: Vec<crate::project::Integration> = project
        .explicit_integrations()
        .iter()
        .filter(|i| {
            i.product == args.product
                && args.target.as_ref().is_none_or(|t| *t == i.target_product)
                && args.topic.as_ref().is_none_or(|t| *t == i.topic)
                && args.role.is_none_or(|r| r == i.role)
                && args.mode.is_none_or(|m| m == i.mode)
                && args
                    .format
                    .as_ref()
                    .is_none_or(|f| i.format.as_ref() == Some(f))
        })
        .cloned()
        .collect();
    if integrations.is_empty() {
        bail!(
            "no integration of `{}` matches; create one with `meshroom create integration {} TARGET TOPIC ROLE` (or publish the product itself with `--to REF`)",
            args.product,
            args.product
        );
    }
    let (published, without) = ctx.runtime()?.block_on(async {
        let engine =
            crate::engine::Session::start(&project, crate::runtime::RuntimeConfig::default())
                .await?;
        Ok::<_, anyhow::Error>(crate::engine::vendor::publish(&engine, &integrations).await?)
    })?;
    let failed = published
        .iter()
        .flat_map(|p| &p.hooks)
        .filter(|h| h.error.is_some())
        .count();
    if ctx.json {
        super::common::print_json(
            &serde_json::json!({"published": published, "without_hook": without}),
        )?;
    } else {
        for p in &published {
            for h in &p.hooks {
                match (&h.message, &h.error) {
                    (Some(m), _) => print_line(format_args!(
                        "{}: {}: {}",
                        p.integration,
                        h.hook,
                        super::terminal::for_stdout(m)
                    ))?,
                    (_, Some(e)) => eprintln!(
                        "{}: {}: error: {}",
                        p.integration,
                        h.hook,
                        super::terminal::for_stderr(e)
                    ),
                    _ => {}
                }
            }
        }
        for w in &without {
            eprintln!("{w}: no publish hook, nothing to do");
        }
    }
    if failed > 0 {
        bail!("{failed} publish hook(s) failed");
    }
    Ok(())
}

/// Reads what gets published from a product folder.
fn read_package(product_dir: &Path, args: &PublishArgs) -> anyhow::Result<ProductPackage> {
    let definition_path = product_dir.join("definition.yaml");
    let definition = std::fs::read(&definition_path).with_context(|| {
        format!(
            "failed to read `{}` (is `{}` a product of this project?)",
            definition_path.display(),
            args.product
        )
    })?;
    let yaml: Value = serde_yaml_ng::from_slice(&definition).map_err(|e| match e.location() {
        Some(l) => anyhow::anyhow!(
            "invalid YAML in `{}` at line {}, column {}: {e}",
            definition_path.display(),
            l.line(),
            l.column()
        ),
        None => anyhow::anyhow!("invalid YAML in `{}`: {e}", definition_path.display()),
    })?;
    let text = |key: &str| yaml.get(key).and_then(Value::as_str).map(str::to_string);

    let component_path = match (&args.component, text("adapter")) {
        (Some(path), _) => path.clone(),
        (None, Some(adapter))
            if adapter.ends_with(".wasm") || product_dir.join(&adapter).is_file() =>
        {
            product_dir.join(adapter)
        }
        (None, Some(adapter)) => bail!(
            "product `{}` uses the published adapter `{adapter}`; give the component to publish with `--component PATH`",
            args.product
        ),
        (None, None) => bail!(
            "product `{}` has no adapter: set `adapter: path/to/adapter.wasm` in `{}` or give `--component PATH`",
            args.product,
            definition_path.display()
        ),
    };
    let component = std::fs::read(&component_path).with_context(|| {
        format!(
            "failed to read the adapter component `{}`",
            component_path.display()
        )
    })?;

    let mut files = Vec::new();
    // Integration manifests, and the conformance suite: every file below
    // `tests/` (scenarios, cassettes, their content-addressed bodies).
    let manifest =
        |p: &Path| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"));
    collect_files(
        product_dir,
        &product_dir.join("integrations"),
        &manifest,
        &mut files,
    )?;
    collect_files(
        product_dir,
        &product_dir.join("tests"),
        &|_| true,
        &mut files,
    )?;
    Ok(ProductPackage {
        name: args.product.clone(),
        component,
        definition,
        files,
        metadata: Metadata {
            description: text("description"),
            version: text("version"),
            vendor: text("vendor"),
            source: text("source").or_else(|| text("url")),
            created: if args.now {
                Created::Now
            } else {
                Created::Reproducible
            },
        },
    })
}

/// A file of the product folder, its path made relative and `/`-separated.
fn package_file(product_dir: &Path, path: &Path) -> anyhow::Result<PackageFile> {
    let relative = path
        .strip_prefix(product_dir)
        .with_context(|| format!("`{}` is outside the product folder", path.display()))?;
    let relative = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let bytes =
        std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    Ok(PackageFile {
        path: relative,
        bytes,
    })
}

/// The files below `dir` that `keep` accepts, with paths relative to the
/// product folder. Links are not followed.
fn collect_files(
    product_dir: &Path,
    dir: &Path,
    keep: &dyn Fn(&Path) -> bool,
    out: &mut Vec<PackageFile>,
) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("failed to list `{}`", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("failed to list `{}`", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("failed to inspect `{}`", path.display()))?;
        if kind.is_dir() {
            collect_files(product_dir, &path, keep, out)?;
        } else if kind.is_file() && keep(&path) {
            out.push(package_file(product_dir, &path)?);
        }
    }
    Ok(())
}
