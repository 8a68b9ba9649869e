//! `trust.yaml`: whose signatures the published adapters of this project need.
//!
//! ```yaml
//! keys:                        # name: public key (PEM SPKI), relative to the project
//!   acme: keys/acme.pub
//!   acme-2026: keys/acme-2026.pub
//! rules:
//! - match: 127.0.0.1:5000/acme/    # a registry/repository prefix
//!   require: signed
//!   keys: [acme, acme-2026]        # any one of them will do
//! - match: "*"                     # every other remote registry
//!   require: signed
//! - match: local                   # the embedded registry and oci-layout folders
//!   require: any
//! ```
//!
//! A reference is matched on its repository without tag or digest:
//! `REGISTRY/REPO` for a remote registry, `REPO` for the embedded default
//! registry, `oci-layout:DIR` for an image-layout folder. A `match:` is a prefix
//! that ends at a `/` boundary (`…/acme` matches `…/acme/ips`, not `…/acmeevil`);
//! `*` matches every remote reference and `local` every image-layout one. The
//! longest matching prefix wins; a reference no rule matches is refused.
//! `require: signed` needs a signature by one of the rule's keys over the exact
//! manifest digest; `require: any` takes the artifact unsigned.
//!
//! A project without `trust.yaml` (one the original Meshroom wrote, or made
//! before signatures) has no policy: everything is taken, as before. `meshroom
//! init` writes [`DEFAULT_TRUST_FILE`]: `signed` for every remote registry.
//!
//! This module only reads the file; checking signatures is the registry's job.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use crate::error::{ProjectError, Result};

/// The trust policy's file name in a project folder.
pub const TRUST_FILE: &str = "trust.yaml";

/// What `meshroom init` writes: signatures required from every remote registry.
pub const DEFAULT_TRUST_FILE: &str = "\
# trust.yaml: whose signatures the adapters this project pulls and runs need.
# `meshroom pull` and `meshroom up` refuse an adapter this policy refuses.
# Add a vendor's public key (PEM, `meshroom keys generate` makes them) under
# `keys:` and a rule naming it, e.g.
#   keys:
#     acme: keys/acme.pub
#   rules:
#   - match: ghcr.io/acme/
#     require: signed
#     keys: [acme]
keys: {}
rules:
# Every remote registry: only signed adapters, by a key a more specific rule names.
- match: \"*\"
  require: signed
# The embedded default registry and oci-layout folders on this machine.
- match: local
  require: any
";

/// What a rule requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    /// A signature by one of the rule's keys.
    Signed,
    /// Nothing: unsigned artifacts are taken.
    Any,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    #[serde(default)]
    keys: IndexMap<String, String>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    pattern: String,
    require: Require,
    #[serde(default)]
    keys: Vec<String>,
}

/// One rule of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRule {
    /// The `match:` value.
    pub pattern: String,
    /// What it requires.
    pub require: Require,
    /// Names of the keys it allows (keys of [`TrustPolicy::key_path`]).
    pub keys: Vec<String>,
    /// Its line in `trust.yaml` (of its `match:`), when found.
    pub line: Option<usize>,
}

/// A project's trust policy (`trust.yaml`).
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    path: PathBuf,
    keys: IndexMap<String, PathBuf>,
    rules: Vec<TrustRule>,
}

impl TrustPolicy {
    /// The policy of the project at `root`; `None` when it has no `trust.yaml`.
    pub fn load(root: &Path) -> Result<Option<Self>> {
        let path = root.join(TRUST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ProjectError::Read { path, source }),
        };
        Self::parse(root, &path, &text).map(Some)
    }

    fn parse(root: &Path, path: &Path, text: &str) -> Result<Self> {
        let file: TrustFile = serde_yaml_ng::from_str(text).map_err(|e| ProjectError::Yaml {
            path: path.to_path_buf(),
            line: e.location().map(|l| l.line()),
            column: e.location().map(|l| l.column()),
            message: e.to_string(),
        })?;
        let invalid = |message: String| {
            ProjectError::Invalid(format!("invalid `{}`: {message}", path.display()))
        };
        let keys: IndexMap<String, PathBuf> = file
            .keys
            .into_iter()
            .map(|(name, file)| {
                let p = PathBuf::from(&file);
                (name, if p.is_absolute() { p } else { root.join(p) })
            })
            .collect();
        let match_lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| {
                let l = l.trim_start().trim_start_matches('-').trim_start();
                l.starts_with("match:")
            })
            .map(|(i, _)| i + 1)
            .collect();
        // Line numbers only when each rule's `match:` was found (block style).
        let lines_known = match_lines.len() == file.rules.len();
        let mut rules: Vec<TrustRule> = Vec::new();
        for (i, raw) in file.rules.into_iter().enumerate() {
            let pattern = raw.pattern.trim().to_string();
            if pattern.is_empty() {
                return Err(invalid(format!("rule {} has an empty `match:`", i + 1)));
            }
            if rules.iter().any(|r| r.pattern == pattern) {
                return Err(invalid(format!("two rules match `{pattern}`; keep one")));
            }
            for key in &raw.keys {
                if !keys.contains_key(key) {
                    return Err(invalid(format!(
                        "the rule `match: {pattern}` names key `{key}`, which `keys:` does not list; add `{key}: path/to/{key}.pub` under `keys:`"
                    )));
                }
            }
            rules.push(TrustRule {
                pattern,
                require: raw.require,
                keys: raw.keys,
                line: lines_known.then(|| match_lines.get(i).copied()).flatten(),
            });
        }
        Ok(TrustPolicy {
            path: path.to_path_buf(),
            keys,
            rules,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its rules, in file order.
    pub fn rules(&self) -> &[TrustRule] {
        &self.rules
    }

    /// The public key file of key `name`.
    pub fn key_path(&self, name: &str) -> Option<&Path> {
        self.keys.get(name).map(PathBuf::as_path)
    }

    /// Every key the policy names, with its file.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &Path)> {
        self.keys.iter().map(|(n, p)| (n.as_str(), p.as_path()))
    }

    /// The rule for a repository `scope` (see the module docs), `remote` when it is in
    /// a distribution registry; `None` when no rule matches.
    pub fn rule_for(&self, scope: &str, remote: bool) -> Option<&TrustRule> {
        self.rules
            .iter()
            .filter_map(|r| specificity(&r.pattern, scope, remote).map(|s| (s, r)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, r)| r)
    }

    /// How errors name a rule: `trust.yaml line 7: match: X, require: signed, keys: a, b`.
    pub fn describe(&self, rule: &TrustRule) -> String {
        let place = match rule.line {
            Some(line) => format!("{} line {line}", self.path.display()),
            None => self.path.display().to_string(),
        };
        let require = match rule.require {
            Require::Signed => "signed",
            Require::Any => "any",
        };
        let keys = if rule.keys.is_empty() {
            "none".to_string()
        } else {
            rule.keys.join(", ")
        };
        format!(
            "{place}: `match: {}`, `require: {require}`, keys: {keys}",
            rule.pattern
        )
    }
}

/// How specifically `pattern` matches `scope`; `None` when it does not.
fn specificity(pattern: &str, scope: &str, remote: bool) -> Option<usize> {
    match pattern {
        "*" => remote.then_some(0),
        "local" => (!remote).then_some(0),
        p => {
            let rest = scope.strip_prefix(p)?;
            (rest.is_empty() || p.ends_with('/') || rest.starts_with('/')).then_some(p.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Result<TrustPolicy> {
        TrustPolicy::parse(Path::new("/p"), Path::new("/p/trust.yaml"), text)
    }

    #[test]
    fn the_longest_prefix_wins_at_a_segment_boundary() {
        let p = policy(
            "keys:\n  acme: keys/acme.pub\nrules:\n- match: \"*\"\n  require: signed\n- match: 127.0.0.1:5000/acme\n  require: signed\n  keys: [acme]\n- match: 127.0.0.1:5000/acme/free\n  require: any\n- match: local\n  require: any\n",
        )
        .unwrap();
        let rule = |s: &str, remote| p.rule_for(s, remote).map(|r| r.pattern.clone());
        assert_eq!(
            rule("127.0.0.1:5000/acme/ips", true).unwrap(),
            "127.0.0.1:5000/acme"
        );
        assert_eq!(
            rule("127.0.0.1:5000/acme/free", true).unwrap(),
            "127.0.0.1:5000/acme/free"
        );
        assert_eq!(rule("127.0.0.1:5000/acmeevil/ips", true).unwrap(), "*");
        assert_eq!(rule("example/caddy", false).unwrap(), "local");
        assert_eq!(p.key_path("acme").unwrap(), Path::new("/p/keys/acme.pub"));
        let acme = p.rule_for("127.0.0.1:5000/acme/ips", true).unwrap();
        assert_eq!(acme.line, Some(6));
        assert_eq!(
            p.describe(acme),
            "/p/trust.yaml line 6: `match: 127.0.0.1:5000/acme`, `require: signed`, keys: acme"
        );
    }

    #[test]
    fn no_rule_matches_what_the_file_does_not_cover() {
        let p = policy("rules:\n- match: ghcr.io/acme/\n  require: any\n").unwrap();
        assert!(p.rule_for("127.0.0.1:5000/acme/ips", true).is_none());
        assert!(p.rule_for("example/x", false).is_none());
    }

    #[test]
    fn bad_files_name_the_problem() {
        let unknown = policy("rules:\n- match: x/\n  require: signed\n  keys: [nobody]\n")
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("nobody") && unknown.contains("keys:"),
            "{unknown}"
        );
        let typo = policy("rules:\n- match: x/\n  require: maybe\n")
            .unwrap_err()
            .to_string();
        assert!(
            typo.contains("trust.yaml") && typo.contains("line"),
            "{typo}"
        );
        let dup = policy("rules:\n- match: x/\n  require: any\n- match: x/\n  require: any\n")
            .unwrap_err()
            .to_string();
        assert!(dup.contains("two rules"), "{dup}");
    }

    #[test]
    fn the_default_file_requires_signatures_from_remote_registries() {
        let p = policy(DEFAULT_TRUST_FILE).unwrap();
        assert_eq!(
            p.rule_for("ghcr.io/acme/ips", true).unwrap().require,
            Require::Signed
        );
        assert_eq!(
            p.rule_for("example/ips", false).unwrap().require,
            Require::Any
        );
    }
}
