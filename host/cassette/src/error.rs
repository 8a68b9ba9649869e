//! What can go wrong reading, writing or playing cassettes.

use std::path::PathBuf;

/// A cassette error; each names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CassetteError {
    /// The file could not be read.
    #[error("failed to read the cassette `{}`: {source}", path.display())]
    Read {
        /// The cassette.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not valid YAML, or not of the cassette's shape.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Malformed {
        /// The cassette.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A version of the format this meshroom does not read.
    #[error(
        "{}: cassette format version {found} is not supported (this meshroom reads version {supported}); record it again, or use the meshroom that wrote it",
        path.display()
    )]
    Version {
        /// The cassette.
        path: PathBuf,
        /// The version in the file.
        found: String,
        /// The version this crate reads.
        supported: u32,
    },
    /// A recording would overwrite cassettes.
    #[error(
        "`{}` already holds {count} cassette(s): pass --force to record over them, or record into another folder",
        dir.display()
    )]
    Exists {
        /// The recording folder.
        dir: PathBuf,
        /// How many cassettes are there.
        count: usize,
    },
    /// A body kept beside the cassette is missing or altered.
    #[error("{}: body file `{file}` {why}", path.display())]
    Body {
        /// The cassette.
        path: PathBuf,
        /// The body file (`sha256:<hex>`).
        file: String,
        /// What is wrong.
        why: String,
    },
    /// A match rule is invalid.
    #[error("invalid match rule `{rule}`: {why}")]
    Rule {
        /// The rule as written.
        rule: String,
        /// Why.
        why: String,
    },
    /// A cassette could not be written.
    #[error("failed to write `{}`: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
