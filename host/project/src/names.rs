//! Names that become folder and file names: validation (so no name can
//! escape the project), closest-name suggestions, and the containment check
//! applied before every write or delete.

use std::path::{Path, PathBuf};

use super::error::{ProjectError, Result};

/// Checks a product or instance name: letters, digits, `_` and `.` as the
/// original Meshroom allows, but never `.`/`..` nor a leading dot (hidden).
pub fn validate_name(what: &'static str, name: &str) -> Result<()> {
    validate(what, name, |c| c.is_alphanumeric() || c == '_' || c == '.')
        .map_err(|reason| invalid(what, name, reason))
}

/// Checks a topic or format: like [`validate_name`], also allowing `-`
/// (formats such as `stix-2.1`).
pub fn validate_word(what: &'static str, name: &str) -> Result<()> {
    validate(what, name, |c| {
        c.is_alphanumeric() || c == '_' || c == '.' || c == '-'
    })
    .map_err(|reason| invalid(what, name, reason))
}

fn invalid(what: &'static str, name: &str, reason: &'static str) -> ProjectError {
    ProjectError::InvalidName {
        what,
        name: name.to_string(),
        reason,
    }
}

fn validate(
    _what: &'static str,
    name: &str,
    allowed: impl Fn(char) -> bool,
) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.starts_with('.') {
        return Err("it must not start with a dot");
    }
    if !name.chars().all(allowed) {
        return Err("only letters, digits, `_` and `.` are allowed");
    }
    Ok(())
}

/// Up to three known names closest to `name` (typos, case, prefixes).
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let lower = name.to_lowercase();
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .filter_map(|k| {
            let kl = k.to_lowercase();
            let mut score = strsim::jaro_winkler(&lower, &kl);
            if !lower.is_empty() && (kl.contains(&lower) || lower.contains(&kl)) {
                score = score.max(0.9);
            }
            (score >= 0.8).then_some((score, k))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, k)| k.to_string())
        .collect()
}

/// Refuses `path` unless it stays below `root` once links are resolved
/// (checked on the deepest part of `path` that exists).
pub fn ensure_inside(root: &Path, path: &Path) -> Result<()> {
    let outside = || ProjectError::OutsideProject {
        path: path.to_path_buf(),
        root: root.to_path_buf(),
    };
    let root = root.canonicalize().map_err(|source| ProjectError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    let mut existing: PathBuf = path.to_path_buf();
    loop {
        if existing.exists() || existing.symlink_metadata().is_ok() {
            break;
        }
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p.to_path_buf(),
            _ => return Err(outside()),
        }
    }
    let resolved = existing.canonicalize().map_err(|_| outside())?;
    if resolved.starts_with(&root) {
        Ok(())
    } else {
        Err(outside())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_original_rules_without_escapes() {
        for ok in ["sekoia", "my_product", "v1.2", "Équipe"] {
            assert!(validate_name("product", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", ".", "..", ".hidden", "a/b", "a b", "a-b", "../x", "a\\b",
        ] {
            assert!(validate_name("product", bad).is_err(), "{bad}");
        }
        assert!(validate_word("format", "stix-2.1").is_ok());
        assert!(validate_word("topic", "a/b").is_err());
    }

    #[test]
    fn suggests_close_names() {
        let known = ["sekoia", "crowdsec", "caddy"];
        assert_eq!(closest("sekoai", known), vec!["sekoia"]);
        assert_eq!(closest("crowd", known), vec!["crowdsec"]);
        assert!(closest("zzzz", known).is_empty());
    }

    #[test]
    fn refuses_links_out_of_the_project() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("products")).unwrap();
        assert!(
            ensure_inside(root.path(), &root.path().join("products/x/definition.yaml")).is_err()
        );
        assert!(ensure_inside(root.path(), &root.path().join("instances/x/config.yaml")).is_ok());
    }
}
