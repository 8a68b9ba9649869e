//! The encrypted secrets store: `secrets.age` at the project root, an
//! [age](https://age-encryption.org) file (ASCII-armored) that the standard
//! `age`/`rage` tools can decrypt, holding secrets scoped per instance and
//! per plug, encrypted to the age public keys listed in `secrets.recipients`
//! (committed), or to a passphrase when that file lists none.
//!
//! Identities come from the environment or a per-user file, never from the
//! project (see [`identity`]); nothing here waits on a terminal that is not
//! there. Secret values live in [`SecretValue`], which prints `[redacted]`
//! and is wiped on drop; this module never logs a value and its errors never
//! contain one. Every write is atomic; a file that cannot be decrypted is an
//! error and is left untouched — never treated as an empty store.
//!
//! What it must not do: know the project model (it takes names, not
//! `Instance`s), talk to the network, or print anything on stdout.
//!
//! Typical use:
//!
//! ```no_run
//! # fn main() -> Result<(), meshroom::secrets::SecretsError> {
//! use meshroom::secrets::{SecretScope, SecretStore};
//! let mut store = SecretStore::open(std::path::Path::new("."))?; // reads nothing yet
//! let scope = SecretScope::instance("sekoia", "siem1");
//! store.set(&scope, "api_key", "value".into())?; // decrypts on first use
//! store.save()?; // encrypts to secrets.recipients, atomic replace
//! let key = store.get(&scope, "api_key")?.map(|v| v.expose().to_owned());
//! # Ok(()) }
//! ```

mod document;
mod error;
pub mod identity;
mod input;
mod recipients;
mod scope;
mod store;
mod value;

pub use crate::project::looks_secret;
pub use error::SecretsError;
pub use identity::{IdentityConfig, Keyring, create_identity_file, default_identity_path};
pub use input::{prompt_secret, read_secret_lines, read_secrets_from_stdin};
pub use recipients::{RECIPIENTS_FILE, Recipients, parse_recipient};
pub use scope::SecretScope;
pub use store::{STORE_FILE, SecretStore, group_names};
pub use value::SecretValue;

/// The age crate's X25519 public key type, for callers of
/// [`SecretStore::add_recipient`].
pub use age::x25519::Recipient as AgeRecipient;
