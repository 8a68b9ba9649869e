//! The model's [`HookIndex`] filled from each adapter's `describe()`: the
//! one place where adapters' declarations enter plug resolution and
//! integration listings.
//!
//! Listing reads the describe cache by component digest and never
//! compiles; only an adapter never described before is loaded (and
//! compiled once, then cached).

use meshroom_registry::Lockfile;

use crate::project::{
    DeclaredHook, HookIndex, HookKind as ModelKind, HookOrder as ModelOrder, Mode as ModelMode,
    Product, Project, Role as ModelRole, TrustPolicy,
};
use crate::runtime::{AdapterInfo, HookInfo, HookKind, HookOrder, Mode, Role, Runtime};

use super::error::EngineError;
use super::source::AdapterSource;

/// The hooks `info` declares, as the model sees them, for `product` (the
/// product folder's name, whatever name the adapter gives itself).
pub fn declared_hooks(product: &str, info: &AdapterInfo) -> Vec<DeclaredHook> {
    info.hooks
        .iter()
        .map(|h| declared_hook(product, h))
        .collect()
}

fn declared_hook(product: &str, h: &HookInfo) -> DeclaredHook {
    DeclaredHook {
        id: h.id.clone(),
        title: h.title.clone(),
        kind: model_kind(h.kind),
        product: product.to_string(),
        target_product: h.target_product.clone(),
        role: h.role.map(model_role),
        topic: h.topic.clone(),
        mode: h.mode.map(model_mode),
        format: h.format.clone(),
        owns_both: h.owns_both,
        keep_when_overloaded: h.keep_when_overloaded,
        order: match h.order {
            None => ModelOrder::Unordered,
            Some(HookOrder::First) => ModelOrder::First,
            Some(HookOrder::Last) => ModelOrder::Last,
            Some(HookOrder::Position(i)) => ModelOrder::At(i64::from(i)),
        },
    }
}

/// The runtime's word for a model hook kind.
pub fn runtime_kind(kind: ModelKind) -> HookKind {
    match kind {
        ModelKind::Setup => HookKind::Setup,
        ModelKind::Teardown => HookKind::Teardown,
        ModelKind::Check => HookKind::Check,
        ModelKind::Scaffold => HookKind::Scaffold,
        ModelKind::Pull => HookKind::Pull,
        ModelKind::Publish => HookKind::Publish,
        ModelKind::Produce => HookKind::Produce,
        ModelKind::Watch => HookKind::Watch,
        ModelKind::Trigger => HookKind::Trigger,
        ModelKind::Execute => HookKind::Execute,
    }
}

fn model_kind(kind: HookKind) -> ModelKind {
    match kind {
        HookKind::Setup => ModelKind::Setup,
        HookKind::Teardown => ModelKind::Teardown,
        HookKind::Check => ModelKind::Check,
        HookKind::Scaffold => ModelKind::Scaffold,
        HookKind::Pull => ModelKind::Pull,
        HookKind::Publish => ModelKind::Publish,
        HookKind::Produce => ModelKind::Produce,
        HookKind::Watch => ModelKind::Watch,
        HookKind::Trigger => ModelKind::Trigger,
        HookKind::Execute => ModelKind::Execute,
    }
}

/// The runtime's word for a model role.
pub fn runtime_role(role: ModelRole) -> Role {
    match role {
        ModelRole::Producer => Role::Producer,
        ModelRole::Consumer => Role::Consumer,
        ModelRole::Trigger => Role::Trigger,
        ModelRole::Executor => Role::Executor,
    }
}

fn model_role(role: Role) -> ModelRole {
    match role {
        Role::Producer => ModelRole::Producer,
        Role::Consumer => ModelRole::Consumer,
        Role::Trigger => ModelRole::Trigger,
        Role::Executor => ModelRole::Executor,
    }
}

/// The runtime's word for a model mode.
pub fn runtime_mode(mode: ModelMode) -> Mode {
    match mode {
        ModelMode::Push => Mode::Push,
        ModelMode::Pull => Mode::Pull,
    }
}

fn model_mode(mode: Mode) -> ModelMode {
    match mode {
        Mode::Push => ModelMode::Push,
        Mode::Pull => ModelMode::Pull,
    }
}

/// What one product's adapter declares, from the describe cache when the
/// digest was described before, else by loading (compiling once) it.
pub async fn describe_product(
    runtime: &Runtime,
    product: &Product,
    lock: &Lockfile,
    trust: Option<&TrustPolicy>,
) -> Result<Option<AdapterInfo>, EngineError> {
    let Some(source) = AdapterSource::of(product, lock, trust)? else {
        return Ok(None);
    };
    let digest = source.digest(product)?;
    if let Some(info) = runtime.describe_cached(&digest) {
        return Ok(Some(info));
    }
    let (bytes, name) = source.bytes(product).await?;
    let adapter = runtime
        .load(&bytes, &name)
        .await
        .map_err(|source| EngineError::AdapterLoad {
            product: product.name.clone(),
            source: Box::new(source),
        })?;
    Ok(Some(adapter.info().clone()))
}

/// The hook index of every product of `project` that has an adapter. A
/// product whose adapter cannot be described is skipped with a warning
/// (its integrations then show no setup hook), so one broken adapter never
/// hides the rest of the mesh from a listing.
pub async fn hook_index(runtime: &Runtime, project: &Project) -> HookIndex {
    let lock = match Lockfile::load(&Lockfile::path_in(project.root())) {
        Ok(lock) => lock,
        Err(e) => {
            tracing::warn!("{e}; products pulled from a registry show no hooks");
            Lockfile::default()
        }
    };
    // A broken policy must not let pulled adapters run unchecked: they are
    // skipped (the rest of the mesh is still listed).
    let (trust, trust_broken) = match TrustPolicy::load(project.root()) {
        Ok(trust) => (trust, false),
        Err(e) => {
            tracing::warn!("{e}; products pulled from a registry show no hooks");
            (None, true)
        }
    };
    let mut index = HookIndex::new();
    for product in project.products() {
        if trust_broken && lock.get(&product.name).is_some() {
            continue;
        }
        match describe_product(runtime, product, &lock, trust.as_ref()).await {
            Ok(Some(info)) => index.extend(declared_hooks(&product.name, &info)),
            Ok(None) => {}
            Err(e) => tracing::warn!("{}", error_chain(&e)),
        }
    }
    index
}

/// `error: cause: cause` on one line (for warnings).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
