//! The error a hook returns; its kind reaches the host unchanged.

use std::fmt;

/// Why a hook failed. Each kind maps to the WIT `adapter-error` variant of
/// the same name, and the host shows it to the operator with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A setting or parameter is missing or malformed.
    InvalidConfig(String),
    /// The product refused the credentials.
    Unauthorized(String),
    /// The product could not be reached (refused, timed out, or not allowed
    /// by the sandbox policy).
    Unreachable(String),
    /// The adapter has no such hook, or the product cannot do this.
    NotSupported(String),
    /// Anything else.
    Failed(String),
}

/// A hook's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            Error::InvalidConfig(m)
            | Error::Unauthorized(m)
            | Error::Unreachable(m)
            | Error::NotSupported(m)
            | Error::Failed(m) => m,
        }
    }

    /// Shorthand for [`Error::Failed`].
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    /// Shorthand for [`Error::InvalidConfig`].
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Error::InvalidConfig(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Error::InvalidConfig(_) => "invalid config",
            Error::Unauthorized(_) => "unauthorized",
            Error::Unreachable(_) => "unreachable",
            Error::NotSupported(_) => "not supported",
            Error::Failed(_) => "failed",
        };
        write!(f, "{kind}: {}", self.message())
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Failed(format!("invalid JSON: {e}"))
    }
}

impl From<Error> for crate::bindings::meshroom::adapter::types::AdapterError {
    fn from(e: Error) -> Self {
        use crate::bindings::meshroom::adapter::types::AdapterError as W;
        match e {
            Error::InvalidConfig(m) => W::InvalidConfig(m),
            Error::Unauthorized(m) => W::Unauthorized(m),
            Error::Unreachable(m) => W::Unreachable(m),
            Error::NotSupported(m) => W::NotSupported(m),
            Error::Failed(m) => W::Failed(m),
        }
    }
}
