//! Product templates: one per category, embedded in the binary from
//! `host/project/templates/<category>/`, or any folder given by path, as the original.
//! `{{NAME}}` in a template's text files becomes the new product's name.

use std::path::{Component, Path, PathBuf};

use include_dir::{Dir, include_dir};
use serde::Serialize;

use super::error::{ProjectError, Result};
use super::names::closest;
use super::product::ProductDefinition;

static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// An embedded template, as listed by `meshroom list templates`.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    /// Number of capabilities per role: produces, consumes, triggers, executes.
    pub capabilities: [usize; 4],
}

/// Every embedded template with a `definition.yaml`, sorted by name.
pub fn list() -> Vec<Template> {
    let mut out: Vec<Template> = TEMPLATES
        .dirs()
        .filter_map(|dir| {
            let name = dir.path().file_name()?.to_string_lossy().into_owned();
            let file = dir.get_file(dir.path().join("definition.yaml"))?;
            let text = file.contents_utf8()?.replace("{{NAME}}", &name);
            let def: ProductDefinition = match serde_yaml_ng::from_str(&text) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!("embedded template `{name}` is invalid: {e}");
                    return None;
                }
            };
            Some(Template {
                name,
                description: def
                    .description
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                tags: def.tags.clone(),
                capabilities: [
                    def.produces.values().map(Vec::len).sum(),
                    def.consumes.values().map(Vec::len).sum(),
                    def.triggers.values().map(Vec::len).sum(),
                    def.executes.values().map(Vec::len).sum(),
                ],
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The files of template `template` (an embedded category name, or a path to
/// a folder) for a product named `product`: relative paths and contents,
/// `{{NAME}}` replaced in text files.
pub fn files(template: &str, product: &str) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let fs_path = Path::new(template);
    let mut out = Vec::new();
    if let Some(dir) = TEMPLATES
        .get_dir(template)
        .filter(|_| !template.contains('/') && !template.starts_with('.'))
    {
        collect_embedded(dir, dir.path(), &mut out);
    } else if fs_path.is_dir() {
        collect_folder(fs_path, fs_path, &mut out)?;
    } else {
        let names: Vec<String> = list().into_iter().map(|t| t.name).collect();
        let suggestions = closest(template, names.iter().map(String::as_str));
        return Err(ProjectError::Invalid(format!(
            "unknown template `{template}`{}; run `meshroom list templates` for the {} embedded ones, or give a path to a folder",
            match suggestions.first() {
                Some(s) => format!(" (did you mean `{s}`?)"),
                None => String::new(),
            },
            names.len()
        )));
    }
    for (_, bytes) in &mut out {
        if let Ok(text) = std::str::from_utf8(bytes)
            && text.contains("{{NAME}}")
        {
            *bytes = text.replace("{{NAME}}", product).into_bytes();
        }
    }
    Ok(out)
}

fn collect_embedded(dir: &Dir<'_>, base: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for f in dir.files() {
        if let Ok(rel) = f.path().strip_prefix(base) {
            out.push((rel.to_path_buf(), f.contents().to_vec()));
        }
    }
    for d in dir.dirs() {
        collect_embedded(d, base, out);
    }
}

fn collect_folder(dir: &Path, base: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) -> Result<()> {
    let read = |p: &Path, source| ProjectError::Read {
        path: p.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| read(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| read(&path, e))?;
        if meta.file_type().is_symlink() {
            tracing::warn!("template: skipping link `{}`", path.display());
        } else if meta.is_dir() {
            collect_folder(&path, base, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            let bytes = std::fs::read(&path).map_err(|e| read(&path, e))?;
            out.push((rel.to_path_buf(), bytes));
        }
    }
    Ok(())
}

/// Whether a template-relative path is plain (no root, no `..`).
pub fn is_plain_relative(path: &Path) -> bool {
    path.components().all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_parses() {
        for dir in TEMPLATES.dirs() {
            let name = dir.path().display().to_string();
            let file = dir
                .get_file(dir.path().join("definition.yaml"))
                .unwrap_or_else(|| panic!("template {name} has no definition.yaml"));
            let text = file.contents_utf8().unwrap().replace("{{NAME}}", "x");
            let def: ProductDefinition =
                serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("template {name}: {e}"));
            assert!(
                def.capabilities().count() > 0,
                "template {name} declares no capability"
            );
        }
        assert_eq!(list().len(), TEMPLATES.dirs().count());
    }

    #[test]
    fn unknown_template_suggests_and_counts() {
        let err = files("nope-not-a-template", "x").unwrap_err().to_string();
        assert!(err.contains("meshroom list templates"), "{err}");
    }

    #[test]
    fn folder_templates_replace_the_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("definition.yaml"), "name: {{NAME}}\n").unwrap();
        std::fs::create_dir(dir.path().join("docs")).unwrap();
        std::fs::write(dir.path().join("docs/a.md"), "# {{NAME}}").unwrap();
        let files = files(dir.path().to_str().unwrap(), "acme").unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            files[0],
            (PathBuf::from("definition.yaml"), b"name: acme\n".to_vec())
        );
        assert_eq!(files[1], (PathBuf::from("docs/a.md"), b"# acme".to_vec()));
    }
}
