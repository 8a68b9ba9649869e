//! The project's recipients file, `secrets.recipients`: the age public keys
//! the store is encrypted to, one per line, `#` comments allowed. It is the
//! same format as `age -R FILE`, so `age -e -a -R secrets.recipients` works.
//! It holds only public keys and is meant to be committed.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::x25519;

use super::SecretsError;

/// File name of the recipients list, at the project root.
pub const RECIPIENTS_FILE: &str = "secrets.recipients";

/// The recipients list of one project, with its comment lines kept.
#[derive(Debug, Clone)]
pub struct Recipients {
    path: PathBuf,
    lines: Vec<Line>,
}

#[derive(Debug, Clone)]
enum Line {
    Other(String),
    Key(x25519::Recipient),
}

/// Parses one public key `age1…`.
pub fn parse_recipient(key: &str) -> Result<x25519::Recipient, SecretsError> {
    let key = key.trim();
    x25519::Recipient::from_str(key).map_err(|reason| SecretsError::InvalidRecipientKey {
        key: key.to_owned(),
        reason: reason.to_owned(),
    })
}

impl Recipients {
    /// Reads `secrets.recipients` of `project_dir`; a missing file is an empty list.
    pub fn load(project_dir: &Path) -> Result<Self, SecretsError> {
        let path = project_dir.join(RECIPIENTS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(SecretsError::io("read", path, e)),
        };
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                lines.push(Line::Other(raw.to_owned()));
                continue;
            }
            let key = x25519::Recipient::from_str(line).map_err(|reason| {
                let reason = if line.starts_with("age1") {
                    format!("`{line}` is not a valid age X25519 public key ({reason})")
                } else {
                    format!(
                        "unsupported recipient `{}`: only age X25519 public keys `age1…` are \
                         supported",
                        line.chars().take(24).collect::<String>()
                    )
                };
                SecretsError::InvalidRecipient {
                    path: path.clone(),
                    line: i + 1,
                    reason,
                }
            })?;
            lines.push(Line::Key(key));
        }
        Ok(Self { path, lines })
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The public keys, in file order.
    pub fn keys(&self) -> Vec<x25519::Recipient> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Key(k) => Some(k.clone()),
                Line::Other(_) => None,
            })
            .collect()
    }

    /// Whether `key` is listed.
    pub fn contains(&self, key: &x25519::Recipient) -> bool {
        self.lines
            .iter()
            .any(|l| matches!(l, Line::Key(k) if k == key))
    }

    /// Whether no key is listed.
    pub fn is_empty(&self) -> bool {
        !self.lines.iter().any(|l| matches!(l, Line::Key(_)))
    }

    /// Appends `key`, with an optional `# label` line above it; returns
    /// `false` when it was already listed.
    pub fn add(&mut self, key: x25519::Recipient, label: Option<&str>) -> bool {
        if self.contains(&key) {
            return false;
        }
        if let Some(label) = label {
            let label: String = label.chars().filter(|c| !c.is_control()).collect();
            self.lines.push(Line::Other(format!("# {label}")));
        }
        self.lines.push(Line::Key(key));
        true
    }

    /// Removes `key`; returns `false` when it was not listed.
    pub fn remove(&mut self, key: &x25519::Recipient) -> bool {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::Key(k) if k == key));
        before != self.lines.len()
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self
            .lines
            .iter()
            .any(|l| matches!(l, Line::Other(s) if s.starts_with("# meshroom")))
        {
            out.push_str(
                "# meshroom secrets recipients: the age public keys secrets.age is encrypted to.\n\
                 # Edit with `meshroom secrets recipients add|remove` (re-encrypts secrets.age).\n",
            );
        }
        for line in &self.lines {
            match line {
                Line::Other(s) => out.push_str(s),
                Line::Key(k) => out.push_str(&k.to_string()),
            }
            out.push('\n');
        }
        out
    }

    /// Writes the file atomically.
    pub fn save(&self) -> Result<(), SecretsError> {
        crate::fsutil::write_atomic(&self.path, self.render().as_bytes())
            .map_err(|e| SecretsError::io("write", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_comments_and_refuses_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let a = x25519::Identity::generate().to_public();
        let b = x25519::Identity::generate().to_public();
        let mut r = Recipients::load(dir.path()).unwrap();
        assert!(r.is_empty());
        assert!(r.add(a.clone(), Some("alice")));
        assert!(!r.add(a.clone(), None));
        assert!(r.add(b.clone(), None));
        r.save().unwrap();
        let text = std::fs::read_to_string(dir.path().join(RECIPIENTS_FILE)).unwrap();
        assert!(text.contains("# alice\n"));
        let mut r = Recipients::load(dir.path()).unwrap();
        assert_eq!(r.keys(), vec![a.clone(), b.clone()]);
        assert!(r.remove(&a));
        assert!(!r.remove(&a));
        assert_eq!(r.keys(), vec![b]);

        std::fs::write(
            dir.path().join(RECIPIENTS_FILE),
            "# x\n\nssh-ed25519 AAAA\n",
        )
        .unwrap();
        let err = Recipients::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("secrets.recipients:3"), "{err}");
        assert!(err.contains("unsupported recipient"), "{err}");
        std::fs::write(dir.path().join(RECIPIENTS_FILE), "age1notakey\n").unwrap();
        let err = Recipients::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains(":1: `age1notakey` is not a valid"), "{err}");
    }
}
