//! Errors of the engine: finding and loading adapters, templating their
//! sandbox policy. Each names the product and the file to fix.

use std::path::PathBuf;

/// Why the engine cannot prepare or run a product's adapter.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// `adapter:` names a `.wasm` file that is not there.
    #[error(
        "the adapter of product `{product}` is missing: `{}` does not exist; build it with `meshroom build {product}` or fix `adapter:` in `{}`",
        path.display(), definition.display()
    )]
    AdapterMissing {
        product: String,
        path: PathBuf,
        definition: PathBuf,
    },

    /// `adapter:` is an OCI reference that `meshroom.lock` does not list.
    #[error(
        "the adapter of product `{product}` is `{reference}`, which `meshroom.lock` does not list; run `meshroom pull {reference}`"
    )]
    AdapterNotLocked { product: String, reference: String },

    /// The pulled component is neither cached nor fetchable.
    #[error("cannot fetch the adapter of product `{product}` (`{reference}`)")]
    AdapterFetch {
        product: String,
        reference: String,
        #[source]
        source: Box<meshroom_registry::RegistryError>,
    },

    /// The trust policy refuses the locked adapter.
    #[error("the adapter of product `{product}` is refused by the trust policy")]
    AdapterUntrusted {
        product: String,
        #[source]
        source: Box<meshroom_registry::RegistryError>,
    },

    /// No rule of `trust.yaml` matches a reference.
    #[error(
        "no rule of `{}` matches `{reference}` (repository `{scope}`): add one, e.g. `- match: {scope}` with `require: signed` and the vendor's key, or `require: any`",
        path.display()
    )]
    NoTrustRule {
        reference: String,
        scope: String,
        path: PathBuf,
    },

    /// A key `trust.yaml` names cannot be read.
    #[error("cannot use key `{name}` of `{}`", policy.display())]
    TrustKey {
        name: String,
        policy: PathBuf,
        #[source]
        source: Box<meshroom_registry::RegistryError>,
    },

    /// The component failed to load (compile, imports, describe).
    #[error("cannot load the adapter of product `{product}`")]
    AdapterLoad {
        product: String,
        #[source]
        source: Box<crate::runtime::LoadError>,
    },

    /// An `egress:` entry names a setting the instance does not have.
    #[error(
        "egress of product `{product}` (in `{}`) uses setting `{setting}`, which instance `{instance}` does not set; run `meshroom configure {instance}` or fix `egress:`",
        definition.display()
    )]
    EgressSetting {
        product: String,
        instance: String,
        setting: String,
        definition: PathBuf,
    },

    /// The `egress:` key is malformed.
    #[error("invalid `egress:` in `{}`: {message}", definition.display())]
    EgressFormat {
        definition: PathBuf,
        message: String,
    },

    /// The `limits:` key is malformed.
    #[error("invalid `limits:` in `{}`: {message}", definition.display())]
    LimitsFormat {
        definition: PathBuf,
        message: String,
    },

    /// The adapter failed to load earlier in this command.
    #[error("the adapter of product `{product}` is unavailable: {reason}")]
    Unavailable { product: String, reason: String },

    /// The lockfile could not be read.
    #[error(transparent)]
    Registry(Box<meshroom_registry::RegistryError>),

    /// The project could not be read or saved.
    #[error(transparent)]
    Project(Box<crate::project::ProjectError>),

    /// The secrets store could not be read or saved.
    #[error(transparent)]
    Secrets(Box<crate::secrets::SecretsError>),

    /// The runtime could not start.
    #[error(transparent)]
    Runtime(Box<crate::runtime::LoadError>),
}

impl EngineError {
    /// A product whose adapter failed to load earlier in this command.
    pub fn unavailable(product: &str, reason: &str) -> Self {
        EngineError::Unavailable {
            product: product.to_string(),
            reason: reason.to_string(),
        }
    }
}

impl From<meshroom_registry::RegistryError> for EngineError {
    fn from(e: meshroom_registry::RegistryError) -> Self {
        EngineError::Registry(Box::new(e))
    }
}

impl From<crate::project::ProjectError> for EngineError {
    fn from(e: crate::project::ProjectError) -> Self {
        EngineError::Project(Box::new(e))
    }
}

impl From<crate::secrets::SecretsError> for EngineError {
    fn from(e: crate::secrets::SecretsError) -> Self {
        EngineError::Secrets(Box::new(e))
    }
}
