//! Errors of the runtime: loading a component, and a failed hook call.

use std::path::PathBuf;

use serde::Serialize;

/// Why loading an adapter component failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("failed to read adapter `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a valid WebAssembly component.
    #[error(
        "`{name}` is not a valid WebAssembly component (build it with `cargo build --target wasm32-wasip2 --release`): {message}"
    )]
    Compile {
        /// The component's name (file name or digest).
        name: String,
        /// Why.
        message: String,
    },
    /// The component imports something the sandbox does not offer.
    #[error(
        "adapter `{name}` imports {imports}, which the meshroom sandbox does not offer (allowed: meshroom:adapter/host, wasi:http/outgoing-handler, wasi:clocks, wasi:random, wasi:sockets, wasi:io, and the inert wasi:cli/wasi:filesystem imports of the Rust standard library)"
    )]
    ForbiddenImports {
        /// The component's name.
        name: String,
        /// The refused imports, comma separated.
        imports: String,
    },
    /// The component does not export the meshroom:adapter world.
    #[error(
        "`{name}` is not a meshroom adapter (it must export `meshroom:adapter/hooks@0.1.0`): {message}"
    )]
    NotAnAdapter {
        /// The component's name.
        name: String,
        /// Why.
        message: String,
    },
    /// `describe()` failed.
    #[error("adapter `{name}`: describe() failed: {source}")]
    Describe {
        /// The component's name.
        name: String,
        /// The failure.
        #[source]
        source: Box<HookError>,
    },
    /// The runtime itself could not be set up.
    #[error("failed to start the adapter runtime: {0}")]
    Engine(String),
}

/// What went wrong in a hook call: the adapter's own error kinds (from the
/// WIT `adapter-error` variant) and the host's containment verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookErrorKind {
    /// Adapter: a setting or parameter is missing or malformed.
    InvalidConfig,
    /// Adapter: the product refused the credentials.
    Unauthorized,
    /// Adapter: the product could not be reached (or the sandbox refused the host).
    Unreachable,
    /// Adapter: no such hook / not possible.
    NotSupported,
    /// Adapter: anything else.
    Failed,
    /// Host: the adapter trapped or panicked.
    Crashed,
    /// Host: the adapter used more CPU than allowed.
    CpuLimit,
    /// Host: the call took longer than the wall-clock timeout.
    Timeout,
    /// Host: the adapter tried to use more memory than allowed.
    MemoryLimit,
    /// Host: the runtime could not run the call (e.g. too many instances at once).
    Host,
    /// Host: the adapter returned or held more than a bound of
    /// [`super::Limits`] allows (a result, outputs, resources…).
    OverLimit,
}

impl HookErrorKind {
    /// A short lowercase name, as in the WIT (`invalid-config`…).
    pub fn as_str(self) -> &'static str {
        match self {
            HookErrorKind::InvalidConfig => "invalid-config",
            HookErrorKind::Unauthorized => "unauthorized",
            HookErrorKind::Unreachable => "unreachable",
            HookErrorKind::NotSupported => "not-supported",
            HookErrorKind::Failed => "failed",
            HookErrorKind::Crashed => "crashed",
            HookErrorKind::CpuLimit => "cpu-limit",
            HookErrorKind::Timeout => "timeout",
            HookErrorKind::MemoryLimit => "memory-limit",
            HookErrorKind::Host => "host",
            HookErrorKind::OverLimit => "over-limit",
        }
    }

    /// True for errors the adapter reported itself (the WIT variant).
    pub fn is_adapter_error(self) -> bool {
        matches!(
            self,
            HookErrorKind::InvalidConfig
                | HookErrorKind::Unauthorized
                | HookErrorKind::Unreachable
                | HookErrorKind::NotSupported
                | HookErrorKind::Failed
        )
    }
}

/// A failed hook call. The message never contains a secret the host handed
/// to the adapter (they are redacted).
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[error("{product} hook `{hook}` failed ({}): {message}", kind.as_str())]
pub struct HookError {
    /// The adapter's product.
    pub product: String,
    /// The hook id.
    pub hook: String,
    /// What kind of failure.
    pub kind: HookErrorKind,
    /// What happened.
    pub message: String,
}
