//! [`Session`]: everything a command needs to call a project's adapters —
//! the runtime, each product's loaded adapter (once per digest), the hook
//! index from their `describe()`, the shared secrets store — and the two
//! things every hook call is built from: its context and its policy.

use std::collections::{HashMap, HashSet};

use meshroom_registry::Lockfile;

use crate::project::{HookIndex, Instance, Integration, Plug, Project, ProjectError, TrustPolicy};
use crate::runtime::{Adapter, CallPolicy, HookContext, Runtime, RuntimeConfig};

use super::context::{hook_context, public_settings};
use super::egress::egress_of;
use super::error::EngineError;
use super::index::{declared_hooks, error_chain};
use super::secrets::{SharedSecrets, instance_scope, plug_scope};
use super::sides::{PlugSides, plug_sides};
use super::source::AdapterSource;

/// The loaded adapters of a project, for one command.
pub struct Session {
    runtime: Runtime,
    adapters: HashMap<String, Adapter>,
    /// Products whose adapter failed to load, with why (one line).
    broken: HashMap<String, String>,
    hooks: HookIndex,
    secrets: SharedSecrets,
    /// Records or replays every hook call's HTTP exchanges.
    tape: Option<meshroom_cassette::Deck>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("adapters", &self.adapters.keys().collect::<Vec<_>>())
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts a runtime with `config` and opens `project` with it.
    pub async fn start(project: &Project, config: RuntimeConfig) -> Result<Session, EngineError> {
        let runtime = Runtime::new(config).map_err(|e| EngineError::Runtime(Box::new(e)))?;
        Self::open(project, runtime).await
    }

    /// Loads the adapter of every product of `project` (compiled code from
    /// the cache; a digest loads once). A product whose adapter cannot load
    /// is remembered as broken (a warning now, an error for each hook that
    /// needs it) so the rest of the mesh still runs.
    pub async fn open(project: &Project, runtime: Runtime) -> Result<Session, EngineError> {
        let lock = Lockfile::load(&Lockfile::path_in(project.root()))?;
        let trust = TrustPolicy::load(project.root())?;
        let mut engine = Session {
            runtime,
            adapters: HashMap::new(),
            broken: HashMap::new(),
            hooks: HookIndex::new(),
            secrets: SharedSecrets::open(project.root())?,
            tape: None,
        };
        for product in project.products() {
            match engine.load_product(product, &lock, trust.as_ref()).await {
                Ok(Some(adapter)) => {
                    engine
                        .hooks
                        .extend(declared_hooks(&product.name, adapter.info()));
                    engine.adapters.insert(product.name.clone(), adapter);
                }
                Ok(None) => {}
                Err(e) => {
                    let reason = error_chain(&e);
                    tracing::warn!("{reason}");
                    engine.broken.insert(product.name.clone(), reason);
                }
            }
        }
        Ok(engine)
    }

    async fn load_product(
        &self,
        product: &crate::project::Product,
        lock: &Lockfile,
        trust: Option<&TrustPolicy>,
    ) -> Result<Option<Adapter>, EngineError> {
        let Some(source) = AdapterSource::of(product, lock, trust)? else {
            return Ok(None);
        };
        let (bytes, name) = source.bytes(product).await?;
        let adapter =
            self.runtime
                .load(&bytes, &name)
                .await
                .map_err(|source| EngineError::AdapterLoad {
                    product: product.name.clone(),
                    source: Box::new(source),
                })?;
        Ok(Some(adapter))
    }

    /// Uses `store` for secrets instead of the project's store opened with
    /// identities from the environment (embedders, benchmarks).
    pub fn with_secrets(mut self, store: crate::secrets::SecretStore) -> Self {
        self.secrets = SharedSecrets::new(store);
        self
    }

    /// Records every hook call's HTTP exchanges into `deck`, or answers
    /// them from it ([`meshroom_cassette`]).
    pub fn with_tape(mut self, deck: Option<meshroom_cassette::Deck>) -> Self {
        self.tape = deck;
        self
    }

    /// False during a replay: nothing reached the products, so no plug
    /// state or secret is saved.
    pub fn persists(&self) -> bool {
        !self.tape.as_ref().is_some_and(|d| d.replaying())
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Who declares which hooks (for resolution and planning).
    pub fn hooks(&self) -> &HookIndex {
        &self.hooks
    }

    /// The shared secrets store (save it after recording outputs).
    pub fn secrets(&self) -> &SharedSecrets {
        &self.secrets
    }

    /// The adapter of `product`: `Ok(None)` when it has none, an error when
    /// it failed to load.
    pub fn adapter(&self, product: &str) -> Result<Option<&Adapter>, EngineError> {
        if let Some(reason) = self.broken.get(product) {
            return Err(EngineError::unavailable(product, reason));
        }
        Ok(self.adapters.get(product))
    }

    /// Why `product`'s adapter is unusable, when it failed to load.
    pub fn broken(&self, product: &str) -> Option<String> {
        self.broken
            .get(product)
            .map(|reason| EngineError::unavailable(product, reason).to_string())
    }

    /// Plans `action` over the plugs `selection` picks (no side effects).
    pub fn plan(
        &self,
        project: &Project,
        selection: &super::plan::Selection,
        action: super::plan::Action,
    ) -> super::plan::Plan {
        super::plan::plan(
            project,
            &self.hooks,
            selection,
            action,
            &|p| self.broken(p),
            &|_| false,
        )
    }

    /// The plan of `up` that also sets up again the plugs named in
    /// `drifted` (as [`Plug`]'s display), though up in the project.
    pub fn plan_repair(
        &self,
        project: &Project,
        selection: &super::plan::Selection,
        drifted: &HashSet<String>,
    ) -> super::plan::Plan {
        super::plan::plan(
            project,
            &self.hooks,
            selection,
            super::plan::Action::Up,
            &|p| self.broken(p),
            &|plug| drifted.contains(&plug.to_string()),
        )
    }

    /// The integrations serving each side of `plug`, and who sets it up.
    pub fn plug_sides(&self, project: &Project, plug: &Plug) -> Result<PlugSides, ProjectError> {
        plug_sides(project, &self.hooks, plug)
    }

    /// The context of a hook running on `instance`'s adapter.
    pub fn context(
        &self,
        project: &Project,
        instance: &Instance,
        plug: Option<&Plug>,
        integration: Option<&Integration>,
    ) -> Result<HookContext, ProjectError> {
        hook_context(project, instance, plug, integration)
    }

    /// The sandbox policy of a hook running on `instance`'s adapter: the
    /// hosts its product's `egress:` allows, templated from this instance's
    /// settings; secrets answered from the plug's scope, then the
    /// instance's.
    pub fn policy(
        &self,
        project: &Project,
        instance: &Instance,
        plug: Option<&Plug>,
    ) -> Result<CallPolicy, EngineError> {
        let product = project.product(&instance.product)?;
        let settings = instance.effective_settings(&product.definition);
        let egress = egress_of(product, instance, &settings)?;
        let mut scopes = Vec::with_capacity(2);
        if let Some(plug) = plug {
            scopes.push(plug_scope(plug));
        }
        scopes.push(instance_scope(instance));
        let mut policy = CallPolicy::deny_all().with_secrets(self.secrets.resolver(scopes));
        policy.http = egress.http;
        policy.sockets = egress.sockets;
        policy.limits = super::limits::limits_of(product, self.runtime.config().limits)?;
        if let Some(deck) = &self.tape {
            policy.tape = Some(deck.scoped(&tape_scope(instance, plug)));
        }
        Ok(policy)
    }

    /// The non-secret settings of `instance` as adapters see them.
    pub fn public_settings(
        &self,
        project: &Project,
        instance: &Instance,
    ) -> serde_json::Map<String, serde_json::Value> {
        public_settings(project, instance)
    }
}

/// Where the cassettes of a hook call go: `<product>/<instance>`, then
/// `<src>-<topic>[-pull]-<dst>` for a plug's hook.
fn tape_scope(instance: &Instance, plug: Option<&Plug>) -> Vec<String> {
    let mut scope = vec![instance.product.clone(), instance.name.clone()];
    if let Some(plug) = plug {
        let pull = if plug.mode == crate::project::Mode::Pull {
            "-pull"
        } else {
            ""
        };
        scope.push(format!(
            "{}-{}{pull}-{}",
            plug.src_instance, plug.topic, plug.dst_instance
        ));
    }
    scope
}

/// The hook index for listings (`list integrations`, `plug`, `graph`):
/// describe answers from the cache by digest, loading only adapters never
/// described before (a small runtime, no pooling, is started for that);
/// products without an adapter count with the hooks their Python files
/// declare, read statically, as the original counts them.
pub fn listing_hook_index(project: &Project) -> anyhow::Result<HookIndex> {
    use anyhow::Context as _;
    if project
        .products()
        .iter()
        .all(|p| p.definition.adapter.is_none())
    {
        let mut index = HookIndex::new();
        index.extend(project.unbuilt_python_hooks().cloned());
        return Ok(index);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let runtime = Runtime::new(RuntimeConfig {
        pooling: false,
        ..RuntimeConfig::default()
    })
    .context("failed to start the adapter runtime")?;
    let mut index = rt.block_on(super::index::hook_index(&runtime, project));
    index.extend(project.unbuilt_python_hooks().cloned());
    Ok(index)
}
