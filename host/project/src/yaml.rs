//! Reading and writing the project's YAML files: errors carry the file, line
//! and column; writes are atomic.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ProjectError, Result};

/// Reads and parses `path`; an empty file is the type's default and a
/// missing one `None` (one system call, no `stat` first).
pub fn read_optional<T: DeserializeOwned + Default>(path: &Path) -> Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ProjectError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Parses `text` (the contents of `path`); an empty document is the default.
pub fn parse<T: DeserializeOwned + Default>(path: &Path, text: &str) -> Result<T> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Ok(T::default());
    }
    too_deep(path, text)?;
    // The common case, a valid file, without the cost of tracking the path;
    // a failure is parsed again with it, to name the field in the error.
    if let Ok(value) = serde_yaml_ng::from_str(text) {
        return Ok(value);
    }
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        let location = inner.location();
        let mut message = inner.to_string();
        // serde_yaml_ng appends " at line L column C": we print it ourselves.
        if let Some(pos) = message.find(" at line ") {
            message.truncate(pos);
        }
        if field != "." && !field.is_empty() {
            message = format!("{field}: {message}");
        }
        ProjectError::Yaml {
            path: path.to_path_buf(),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        }
    })
}

fn too_deep(path: &Path, text: &str) -> Result<()> {
    match meshroom_fsutil::yaml_too_deep(text.as_bytes()) {
        None => Ok(()),
        Some((line, column)) => Err(ProjectError::Yaml {
            path: path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            message: format!(
                "nested more than {} levels deep (`[`, `{{`); not parsed",
                meshroom_fsutil::MAX_YAML_FLOW_DEPTH
            ),
        }),
    }
}

/// Serialises `value` and writes it atomically to `path`.
pub fn write<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = to_text(path, value)?;
    meshroom_fsutil::write_atomic(path, text.as_bytes()).map_err(|source| ProjectError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The YAML text of `value`, to be written at `path` (named in errors).
pub fn to_text<T: Serialize>(path: &Path, value: &T) -> Result<String> {
    serde_yaml_ng::to_string(value).map_err(|e| ProjectError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })
}

/// Deserialises a field that may be written as `null` (`key:` with nothing
/// after it) as the type's default.
pub fn null_as_default<'de, D, T>(de: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        #[allow(dead_code)]
        name: String,
        #[serde(default)]
        #[allow(dead_code)]
        count: u32,
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err = parse::<Doc>(Path::new("x.yaml"), "name: a\ncount: [1, 2\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("invalid YAML in `x.yaml` at line"), "{msg}");
    }

    #[test]
    fn type_errors_name_the_field() {
        let err = parse::<Doc>(Path::new("x.yaml"), "name: a\ncount: many\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("count:"), "{msg}");
    }

    #[test]
    fn empty_documents_are_defaults() {
        assert!(parse::<Doc>(Path::new("x.yaml"), "# nothing\n").is_ok());
    }
}

#[cfg(test)]
mod deep_tests {
    use super::*;

    #[test]
    fn deeply_nested_yaml_is_refused_before_parsing_with_its_place() {
        let text = format!("name: deep\nx: {}", "[".repeat(200_000));
        let err = parse::<serde_yaml_ng::Value>(Path::new("definition.yaml"), &text).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("64 levels"), "{shown}");
        assert!(
            matches!(
                err,
                ProjectError::Yaml {
                    line: Some(2),
                    column: Some(68),
                    ..
                }
            ),
            "{err:?}"
        );
        let fine: serde_yaml_ng::Value =
            parse(Path::new("d.yaml"), "a: [[1], {b: '[[['}]\n").unwrap();
        assert!(fine.get("a").is_some());
    }
}
