//! The one error type of the crate: each variant says what went wrong and what to do next.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while publishing, pulling or caching an artifact.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The reference could not be parsed.
    #[error(
        "invalid reference `{reference}`: {reason} (expected e.g. `127.0.0.1:5000/acme/crowdsec:1.2.0`, `…@sha256:<64 hex>` or `oci-layout:./dir:tag`)"
    )]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// Why it was refused.
        reason: String,
    },

    /// The registry refused the credentials (or asked for some and none were found).
    #[error(
        "unauthorized: registry {registry} refused access to `{reference}` with {credentials}; check the user name and password (`meshroom registry login {registry}`, or MESHROOM_REGISTRY_USER/MESHROOM_REGISTRY_PASSWORD)"
    )]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// The reference being accessed.
        reference: String,
        /// Where the credentials came from (never the credentials themselves).
        credentials: String,
    },

    /// The tag, digest or repository does not exist.
    #[error(
        "not found: `{reference}` does not exist ({detail}); check the name and tag, or publish it first"
    )]
    NotFound {
        /// The reference being accessed.
        reference: String,
        /// What exactly is missing.
        detail: String,
    },

    /// Content did not hash to the digest it is addressed by: it is refused.
    #[error(
        "digest mismatch for {what}: expected {expected}, got {actual}; the content was altered or corrupted and is refused"
    )]
    DigestMismatch {
        /// Which content (blob in a registry, cache file, manifest).
        what: String,
        /// The digest it is addressed by.
        expected: String,
        /// The digest of the bytes actually read.
        actual: String,
    },

    /// The registry could not be reached at all.
    #[error("registry {registry} is unreachable: {detail}")]
    Unreachable {
        /// The registry host.
        registry: String,
        /// The transport error.
        detail: String,
    },

    /// A request safe to repeat (a GET or HEAD) kept failing, retries included:
    /// answers 5xx or 429, or the connection was lost or timed out.
    #[error(
        "registry {registry} kept failing on {url}: {detail} (gave up after {attempts} attempts); the registry is down or overloaded: try again later"
    )]
    Failing {
        /// The registry host.
        registry: String,
        /// The request that failed.
        url: String,
        /// The last failure.
        detail: String,
        /// Attempts made, the first included.
        attempts: u32,
    },

    /// The registry sent more than meshroom reads for this kind of content.
    #[error("{what} from {url} is over the {limit}-byte limit ({size}); {hint}")]
    TooLarge {
        /// Which content.
        what: String,
        /// Where it came from.
        url: String,
        /// Its size as announced or as read so far.
        size: String,
        /// The limit.
        limit: u64,
        /// What to do.
        hint: String,
    },

    /// The registry answered something the OCI distribution protocol does not allow here.
    #[error("registry error on `{reference}`: {detail}")]
    Protocol {
        /// The reference being accessed.
        reference: String,
        /// The registry's answer.
        detail: String,
    },

    /// The artifact is not a meshroom product artifact, or is malformed.
    #[error("invalid artifact `{reference}`: {reason}")]
    InvalidArtifact {
        /// The reference being read.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The bytes given as an adapter are not a WebAssembly component.
    #[error("invalid adapter component: {0}")]
    InvalidComponent(String),

    /// Credentials could not be read from a configured source.
    #[error("credentials for {registry}: {reason}")]
    Credentials {
        /// The registry host.
        registry: String,
        /// What failed (never containing a password).
        reason: String,
    },

    /// The lockfile is malformed.
    #[error("invalid lockfile `{path}`: {reason}")]
    Lockfile {
        /// The lockfile path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// `--locked` was given but the lockfile would have to change.
    #[error("{0}; the lockfile is locked (drop `--locked` to update it)")]
    LockedChange(String),

    /// A signing or public key cannot be used.
    #[error("key `{key}`: {reason}")]
    Key {
        /// The key's name or file.
        key: String,
        /// What is wrong, and what to do.
        reason: String,
    },

    /// The trust policy refuses the artifact: unsigned, signed by a key it does not
    /// allow, signed over another digest, or a signature that is garbage.
    #[error("refused `{reference}` ({digest}): {reason}; keys tried: {tried}; policy: {policy}")]
    Untrusted {
        /// The reference as given.
        reference: String,
        /// The manifest digest that needed a signature.
        digest: String,
        /// Why no signature was accepted.
        reason: String,
        /// The allowed keys that were tried (names and fingerprints).
        tried: String,
        /// The policy rule that applies (file, line, match).
        policy: String,
    },

    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

impl RegistryError {
    /// Wraps an I/O error with a context naming the path.
    pub(crate) fn io(action: &str, path: &Path, source: std::io::Error) -> Self {
        RegistryError::Io {
            context: format!("failed to {action} `{}`", path.display()),
            source,
        }
    }
}
