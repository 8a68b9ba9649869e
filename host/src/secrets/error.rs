//! [`SecretsError`]: everything that can go wrong with the store, each
//! variant saying what to do next. No variant ever carries a secret value.

use std::path::PathBuf;

/// The environment variables that give an identity without a terminal,
/// named in every "no identity" message.
pub(crate) const IDENTITY_HELP: &str = "set MESHROOM_AGE_IDENTITY_FILE (path to an age identity \
file), MESHROOM_AGE_IDENTITY (an AGE-SECRET-KEY-1… key) or MESHROOM_SECRETS_PASSPHRASE, or run \
`meshroom secrets init` to create your key";

/// An error of the secrets store.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("no age identity to decrypt `{path}`: {help}", help = IDENTITY_HELP)]
    NoIdentity { path: PathBuf },

    #[error(
        "`{path}` is protected by a passphrase and none was given: set \
         MESHROOM_SECRETS_PASSPHRASE, or run on a terminal to be prompted"
    )]
    NoPassphrase { path: PathBuf },

    #[error(
        "none of your age identities ({sources}) can decrypt `{path}`: ask someone who can to run \
         `meshroom secrets recipients add {public_keys}`"
    )]
    NotARecipient {
        path: PathBuf,
        sources: String,
        public_keys: String,
    },

    #[error("wrong passphrase for `{path}` (from {source_name})")]
    WrongPassphrase { path: PathBuf, source_name: String },

    #[error(
        "`{path}` is corrupted or truncated ({reason}); it was left untouched: restore it from \
         git (`git checkout -- {file}`) or from a backup"
    )]
    Corrupted {
        path: PathBuf,
        file: String,
        reason: String,
    },

    #[error(
        "`{path}` was written by a newer meshroom (format version {version}, this one reads 1): \
         upgrade meshroom"
    )]
    NewerFormat { path: PathBuf, version: u64 },

    #[error(
        "no recipient to encrypt the secrets to: `{path}` lists no age public key; run `meshroom \
         secrets init` (creates your key and adds it), `meshroom secrets recipients add age1…`, \
         or set MESHROOM_SECRETS_PASSPHRASE to encrypt with a passphrase"
    )]
    NoRecipients { path: PathBuf },

    #[error("{path}:{line}: {reason}")]
    InvalidRecipient {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    #[error("invalid age recipient `{key}`: {reason} (expected an age X25519 public key `age1…`)")]
    InvalidRecipientKey { key: String, reason: String },

    #[error("{source_name}: {reason}")]
    InvalidIdentity { source_name: String, reason: String },

    #[error("invalid secret scope `{scope}`: {reason}")]
    InvalidScope { scope: String, reason: String },

    #[error("invalid secret name `{name}`: {reason}")]
    InvalidName { name: String, reason: String },

    #[error(
        "`{path}` changed on disk since meshroom read it (another meshroom running, or a git \
         checkout?); nothing was written: run the command again"
    )]
    ChangedOnDisk { path: PathBuf },

    #[error("{0}")]
    Input(String),

    #[error("failed to {action} `{path}`")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to encrypt the secrets: {0}")]
    Encrypt(String),
}

impl SecretsError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
