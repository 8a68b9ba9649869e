//! Who can set each integration up: the hooks each product's adapter declares
//! in `describe()`, turned into the model's [`HookIndex`].
//!
//! A product's `adapter:` is a `.wasm` file in its folder, or an OCI
//! reference pulled by `meshroom pull` (its component is found through
//! `meshroom.lock` in the blob cache). `describe()` answers are cached per
//! digest, so listings never recompile; an adapter that cannot be read or
//! loaded is a warning (its hooks are ignored), never a failure of a listing.

use anyhow::Context as _;

use super::Context;
use crate::project::{DeclaredHook, HookIndex, HookKind, HookOrder, Mode, Product, Project, Role};
use crate::runtime::{self, AdapterInfo, HookInfo, Runtime, RuntimeConfig};

/// The declared hooks of every product that has an adapter.
pub fn hook_index(ctx: &Context, project: &Project) -> anyhow::Result<HookIndex> {
    let mut index = HookIndex::new();
    let components: Vec<(&Product, Vec<u8>)> = project
        .products()
        .iter()
        .filter_map(|p| match component_of(project, p) {
            Ok(Some(bytes)) => Some((p, bytes)),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(
                    "product `{}`: its adapter's hooks are ignored: {e:#}",
                    p.name
                );
                None
            }
        })
        .collect();
    if components.is_empty() {
        return Ok(index);
    }
    let rt =
        Runtime::new(RuntimeConfig::default()).context("failed to start the adapter runtime")?;
    let mut tokio_rt = None;
    for (product, bytes) in components {
        let info = match rt.describe_cached(&runtime::digest_of(&bytes)) {
            Some(info) => info,
            None => {
                if tokio_rt.is_none() {
                    tokio_rt = Some(ctx.runtime()?);
                }
                let Some(tokio_rt) = tokio_rt.as_ref() else {
                    continue;
                };
                match tokio_rt.block_on(rt.load(&bytes, &product.name)) {
                    Ok(adapter) => adapter.info().clone(),
                    Err(e) => {
                        tracing::warn!(
                            "product `{}`: its adapter cannot be loaded, its hooks are ignored: {e}",
                            product.name
                        );
                        continue;
                    }
                }
            }
        };
        index.extend(declared_hooks(&product.name, &info));
    }
    Ok(index)
}

/// The component bytes of a product's adapter, if it has one.
fn component_of(project: &Project, product: &Product) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(adapter) = product.definition.adapter.as_deref() else {
        return Ok(None);
    };
    if let Some(path) = product.adapter_path() {
        crate::project::names::ensure_inside(&product.dir, &path)?;
        return std::fs::read(&path).map(Some).with_context(|| {
            format!(
                "cannot read adapter `{}` (build it, or fix `adapter:` in its definition)",
                path.display()
            )
        });
    }
    let lock_path = meshroom_registry::Lockfile::path_in(project.root());
    let lock = meshroom_registry::Lockfile::load(&lock_path)
        .with_context(|| format!("cannot read `{}`", lock_path.display()))?;
    let entry = lock.get(&product.name).with_context(|| {
        format!("adapter `{adapter}` is not in meshroom.lock: run `meshroom pull {adapter}`")
    })?;
    let cache = meshroom_registry::BlobCache::from_env().context("cannot open the blob cache")?;
    cache
        .get(&entry.component_digest)
        .context("cannot read the blob cache")?
        .map(Some)
        .with_context(|| {
            format!("adapter `{adapter}` is not in the blob cache: run `meshroom pull {adapter}`")
        })
}

/// An adapter's hooks as the model's declarations, scoped to `product`.
pub fn declared_hooks(product: &str, info: &AdapterInfo) -> Vec<DeclaredHook> {
    if info.product != product {
        tracing::debug!(
            "adapter of `{product}` describes itself as `{}`",
            info.product
        );
    }
    info.hooks.iter().map(|h| declared(product, h)).collect()
}

fn declared(product: &str, h: &HookInfo) -> DeclaredHook {
    use runtime::{HookKind as K, HookOrder as O, Mode as M, Role as R};
    DeclaredHook {
        id: h.id.clone(),
        title: h.title.clone(),
        kind: match h.kind {
            K::Setup => HookKind::Setup,
            K::Teardown => HookKind::Teardown,
            K::Check => HookKind::Check,
            K::Produce => HookKind::Produce,
            K::Watch => HookKind::Watch,
            K::Trigger => HookKind::Trigger,
            K::Execute => HookKind::Execute,
            K::Scaffold => HookKind::Scaffold,
            K::Pull => HookKind::Pull,
            K::Publish => HookKind::Publish,
        },
        product: product.to_string(),
        target_product: h.target_product.clone(),
        role: h.role.map(|r| match r {
            R::Producer => Role::Producer,
            R::Consumer => Role::Consumer,
            R::Trigger => Role::Trigger,
            R::Executor => Role::Executor,
        }),
        topic: h.topic.clone(),
        mode: h.mode.map(|m| match m {
            M::Push => Mode::Push,
            M::Pull => Mode::Pull,
        }),
        format: h.format.clone(),
        owns_both: h.owns_both,
        keep_when_overloaded: h.keep_when_overloaded,
        order: match h.order {
            None => HookOrder::Unordered,
            Some(O::First) => HookOrder::First,
            Some(O::Last) => HookOrder::Last,
            Some(O::Position(i)) => HookOrder::At(i64::from(i)),
        },
    }
}
