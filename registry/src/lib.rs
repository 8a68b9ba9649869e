//! OCI distribution of meshroom products: publish a product (adapter component,
//! definition, integration manifests) as one OCI artifact in the CNCF Wasm layout,
//! pull it back by tag or digest with every blob's sha256 verified, keep blobs in a
//! content-addressed cache, and record what was pulled in `meshroom.lock`.
//!
//! Destinations are distribution registries (through `oci-client`) or OCI
//! image-layout folders (the embedded default when no server is named).
//!
//! Artifacts are signed and verified with cosign's scheme (ECDSA P-256, a
//! `sha256-<hex>.sig` tag of simple-signing payloads, in the registry or the
//! image layout): [`Registry::sign`], [`Registry::verify`], [`Registry::verify_locked`];
//! which keys are required where is the caller's policy.
//!
//! This crate knows nothing of the mesh model: products are opaque bytes here
//! (a component, a definition, files); the host interprets them.

mod artifact;
mod auth;
mod cache;
pub mod cosign;
mod digest;
mod error;
mod fsutil;
mod keys;
mod layout;
mod lockfile;
mod progress;
mod reference;
mod registry;
mod remote;
mod signing;
mod versions;

pub use artifact::{
    BuiltArtifact, Created, DEFINITION_MEDIA_TYPE, FILE_MEDIA_TYPE, Metadata, PackageFile,
    ProductPackage, TEST_MEDIA_TYPE, build, check_component, check_relative_path, wit_version,
};
pub use auth::{AUTH_FILE_ENV, AuthConfig, Credentials, PASSWORD_ENV, USER_ENV, saved_registries};
pub use cache::{BlobCache, CACHE_ENV};
pub use digest::Digest;
pub use error::{RegistryError, Result};
pub use keys::{KEYS_DIR_ENV, KeyStore, PrivateKey, PublicKey, StoredKey};
pub use layout::REF_NAME_ANNOTATION;
pub use lockfile::{LOCKFILE_NAME, LockChange, LockedProduct, LockedSignature, Lockfile};
pub use progress::{NoProgress, Progress, ProgressEvent};
pub use reference::{ArtifactRef, LAYOUT_PREFIX, LayoutDir};
pub use registry::{LAYOUT_DIR_ENV, Published, PulledArtifact, Registry};
pub use remote::is_loopback;
pub use signing::{FoundSignature, Requirement, Signed, TrustedKey, trust_scope};
pub use versions::newer_tags;
pub use zeroize::Zeroizing;
