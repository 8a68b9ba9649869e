//! Artifact references: where an artifact lives and which version of it.
//!
//! Three spellings are accepted:
//! - `127.0.0.1:5000/acme/crowdsec:1.2.0` or `…@sha256:<hex>`: a distribution registry
//!   (the first path segment names a server: it has a `.` or a `:`, or is `localhost`);
//! - `oci-layout:./some/dir:tag` or `oci-layout:./some/dir@sha256:<hex>`: an OCI
//!   image-layout folder (the tag is the index's `org.opencontainers.image.ref.name`);
//! - `acme/crowdsec:1.2.0` (no server named): the embedded default image-layout registry.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::{RegistryError, Result};

/// The scheme prefix of an explicit image-layout folder reference.
pub const LAYOUT_PREFIX: &str = "oci-layout:";

/// Which image-layout folder a layout reference points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutDir {
    /// The embedded default registry (resolved by [`crate::Registry`]).
    Default,
    /// An explicit folder.
    Path(PathBuf),
}

/// A parsed artifact reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactRef {
    /// An artifact in an OCI distribution registry.
    Remote(oci_client::Reference),
    /// An artifact in an OCI image-layout folder.
    Layout {
        /// The folder.
        dir: LayoutDir,
        /// The repository (only for the default layout, where names are `repo:tag`).
        repository: Option<String>,
        /// The tag, if any.
        tag: Option<String>,
        /// The digest, if pinned.
        digest: Option<Digest>,
    },
}

impl ArtifactRef {
    /// Parses a reference (see the module docs for the accepted forms).
    pub fn parse(s: &str) -> Result<Self> {
        let invalid = |reason: &str| RegistryError::InvalidReference {
            reference: s.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("a reference is one word without spaces"));
        }
        if let Some(rest) = s.strip_prefix(LAYOUT_PREFIX) {
            let (rest, digest) = split_digest(rest).map_err(|r| invalid(&r))?;
            let (dir, tag) = match rest.rfind(':') {
                Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
                _ => (rest, None),
            };
            if dir.is_empty() {
                return Err(invalid(
                    "`oci-layout:` needs a folder, e.g. `oci-layout:./dir:tag`",
                ));
            }
            if let Some(tag) = tag {
                check_tag(tag).map_err(|r| invalid(&r))?;
            }
            let tag = match (tag, &digest) {
                (None, None) => Some("latest".to_string()),
                (t, _) => t.map(str::to_string),
            };
            return Ok(ArtifactRef::Layout {
                dir: LayoutDir::Path(PathBuf::from(dir)),
                repository: None,
                tag,
                digest,
            });
        }
        let names_server = s.split_once('/').is_some_and(|(first, _)| {
            first.contains('.') || first.contains(':') || first == "localhost"
        });
        if names_server {
            let reference =
                oci_client::Reference::from_str(s).map_err(|e| invalid(&e.to_string()))?;
            if let Some(d) = reference.digest() {
                Digest::parse(d).map_err(|_| invalid("only sha256 digests are supported"))?;
            }
            return Ok(ArtifactRef::Remote(reference));
        }
        let (rest, digest) = split_digest(s).map_err(|r| invalid(&r))?;
        let (repository, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        check_repository(repository).map_err(|r| invalid(&r))?;
        if let Some(tag) = tag {
            check_tag(tag).map_err(|r| invalid(&r))?;
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t.map(str::to_string),
        };
        Ok(ArtifactRef::Layout {
            dir: LayoutDir::Default,
            repository: Some(repository.to_string()),
            tag,
            digest,
        })
    }

    /// The registry host of a remote reference (`None` for image layouts).
    pub fn registry(&self) -> Option<&str> {
        match self {
            ArtifactRef::Remote(r) => Some(r.resolve_registry()),
            ArtifactRef::Layout { .. } => None,
        }
    }

    /// The pinned digest, if any.
    pub fn digest(&self) -> Option<Digest> {
        match self {
            ArtifactRef::Remote(r) => r.digest().and_then(|d| Digest::parse(d).ok()),
            ArtifactRef::Layout { digest, .. } => digest.clone(),
        }
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        match self {
            ArtifactRef::Remote(r) => r.tag(),
            ArtifactRef::Layout { tag, .. } => tag.as_deref(),
        }
    }

    /// The last segment of the repository (`crowdsec` in `…/acme/crowdsec:1.2.0`), if known.
    pub fn name_hint(&self) -> Option<&str> {
        let repo = match self {
            ArtifactRef::Remote(r) => r.repository(),
            ArtifactRef::Layout { repository, .. } => repository.as_deref()?,
        };
        repo.rsplit('/').next()
    }

    /// The same artifact pinned to `digest` (the tag is kept for display).
    pub fn pinned(&self, digest: &Digest) -> Self {
        match self {
            ArtifactRef::Remote(r) => {
                ArtifactRef::Remote(oci_client::Reference::with_tag_and_digest(
                    r.registry().to_string(),
                    r.repository().to_string(),
                    r.tag().unwrap_or("latest").to_string(),
                    digest.to_string(),
                ))
            }
            ArtifactRef::Layout {
                dir,
                repository,
                tag,
                ..
            } => ArtifactRef::Layout {
                dir: dir.clone(),
                repository: repository.clone(),
                tag: tag.clone(),
                digest: Some(digest.clone()),
            },
        }
    }

    /// The `org.opencontainers.image.ref.name` of a layout reference: `repo:tag` in the
    /// default layout, `tag` in an explicit folder (as skopeo's `oci:` transport writes it).
    pub(crate) fn layout_ref_name(&self) -> Option<String> {
        match self {
            ArtifactRef::Layout {
                dir: LayoutDir::Default,
                repository,
                tag,
                ..
            } => Some(format!("{}:{}", repository.as_deref()?, tag.as_deref()?)),
            ArtifactRef::Layout {
                dir: LayoutDir::Path(_),
                tag,
                ..
            } => tag.clone(),
            ArtifactRef::Remote(_) => None,
        }
    }
}

impl FromStr for ArtifactRef {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self> {
        ArtifactRef::parse(s)
    }
}

impl fmt::Display for ArtifactRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArtifactRef::Remote(r) => {
                write!(f, "{}/{}", r.registry(), r.repository())?;
                if let Some(tag) = r.tag() {
                    write!(f, ":{tag}")?;
                }
                if let Some(digest) = r.digest() {
                    write!(f, "@{digest}")?;
                }
                Ok(())
            }
            ArtifactRef::Layout {
                dir,
                repository,
                tag,
                digest,
            } => {
                match dir {
                    LayoutDir::Default => f.write_str(repository.as_deref().unwrap_or_default())?,
                    LayoutDir::Path(p) => write!(f, "{LAYOUT_PREFIX}{}", p.display())?,
                }
                if let Some(tag) = tag {
                    write!(f, ":{tag}")?;
                }
                if let Some(digest) = digest {
                    write!(f, "@{digest}")?;
                }
                Ok(())
            }
        }
    }
}

fn split_digest(s: &str) -> std::result::Result<(&str, Option<Digest>), String> {
    match s.rsplit_once('@') {
        Some((rest, d)) => {
            let digest = Digest::parse(d)
                .map_err(|_| "a digest is `sha256:` and 64 lowercase hex characters".to_string())?;
            Ok((rest, Some(digest)))
        }
        None => Ok((s, None)),
    }
}

fn check_tag(tag: &str) -> std::result::Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid tag `{tag}` (letters, digits, `_`, `.`, `-`; at most 128)"
        ))
    }
}

fn check_repository(repo: &str) -> std::result::Result<(), String> {
    let ok = !repo.is_empty()
        && repo.split('/').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
                })
                && part
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid repository `{repo}` (lowercase letters, digits, `_`, `.`, `-`, separated by `/`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn remote_reference_with_port_and_tag() {
        let r = ArtifactRef::parse("127.0.0.1:5000/acme/crowdsec:1.2.0").unwrap();
        assert_eq!(r.registry(), Some("127.0.0.1:5000"));
        assert_eq!(r.tag(), Some("1.2.0"));
        assert_eq!(r.name_hint(), Some("crowdsec"));
        assert_eq!(r.to_string(), "127.0.0.1:5000/acme/crowdsec:1.2.0");
    }

    #[test]
    fn remote_reference_by_digest() {
        let r = ArtifactRef::parse(&format!("localhost:5000/acme/crowdsec@{D}")).unwrap();
        assert_eq!(r.digest().unwrap().as_str(), D);
        assert_eq!(r.to_string(), format!("localhost:5000/acme/crowdsec@{D}"));
    }

    #[test]
    fn explicit_layout_folder() {
        let r = ArtifactRef::parse("oci-layout:./some/dir:v1").unwrap();
        assert_eq!(
            r,
            ArtifactRef::Layout {
                dir: LayoutDir::Path("./some/dir".into()),
                repository: None,
                tag: Some("v1".into()),
                digest: None
            }
        );
        assert_eq!(r.layout_ref_name().as_deref(), Some("v1"));
        let r = ArtifactRef::parse(&format!("oci-layout:/tmp/x@{D}")).unwrap();
        assert_eq!(r.digest().unwrap().as_str(), D);
        assert_eq!(r.tag(), None);
        let r = ArtifactRef::parse("oci-layout:/tmp/x").unwrap();
        assert_eq!(r.tag(), Some("latest"));
    }

    #[test]
    fn no_server_means_the_default_layout() {
        let r = ArtifactRef::parse("acme/crowdsec:1.2.0").unwrap();
        assert!(matches!(
            r,
            ArtifactRef::Layout {
                dir: LayoutDir::Default,
                ..
            }
        ));
        assert_eq!(r.layout_ref_name().as_deref(), Some("acme/crowdsec:1.2.0"));
        assert_eq!(r.to_string(), "acme/crowdsec:1.2.0");
        let r = ArtifactRef::parse("crowdsec").unwrap();
        assert_eq!(r.to_string(), "crowdsec:latest");
    }

    #[test]
    fn bad_references_are_refused_with_the_reason() {
        for bad in [
            "",
            "a b",
            "Acme/X:1",
            "acme/x:-bad",
            "acme/x@sha256:12",
            "oci-layout::t",
        ] {
            let err = ArtifactRef::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid reference"), "{bad}: {err}");
        }
    }

    #[test]
    fn pinned_keeps_the_tag_and_adds_the_digest() {
        let r = ArtifactRef::parse("127.0.0.1:5000/acme/crowdsec:1.2.0").unwrap();
        let p = r.pinned(&Digest::parse(D).unwrap());
        assert_eq!(
            p.to_string(),
            format!("127.0.0.1:5000/acme/crowdsec:1.2.0@{D}")
        );
    }
}
