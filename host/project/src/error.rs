//! Errors of the project model: each says which file or name is at fault and
//! what to do next.

use std::path::PathBuf;

/// Everything that can go wrong loading, validating or saving a project.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("`{}` is not a meshroom project (no `products/` folder); run `meshroom init` there first", .0.display())]
    NotAProject(PathBuf),

    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid YAML in `{}`{}: {message}", path.display(), location_suffix(*line, *column))]
    Yaml {
        path: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },

    #[error("invalid {what} name `{name}`: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },

    #[error("unknown {what} `{name}`{}", suggestion_suffix(suggestions))]
    Unknown {
        what: &'static str,
        name: String,
        suggestions: Vec<String>,
    },

    /// A lookup outside what the command loaded (a bug of the command's
    /// [`crate::Scope`], never the user's).
    #[error(
        "{what} `{name}` is outside what this command loaded of the project (a meshroom bug: please report it)"
    )]
    NotLoaded { what: &'static str, name: String },

    #[error("instance name `{name}` is used by several products ({}); pass the product too", products.join(", "))]
    AmbiguousInstance { name: String, products: Vec<String> },

    #[error("`{}` is outside the project folder `{}`", path.display(), root.display())]
    OutsideProject { path: PathBuf, root: PathBuf },

    #[error("{0}")]
    Invalid(String),
}

fn location_suffix(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

fn suggestion_suffix(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        many => format!(
            "; did you mean one of {}?",
            many.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub type Result<T, E = ProjectError> = std::result::Result<T, E>;
