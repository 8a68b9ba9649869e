//! [`SecretScope`]: whose secret it is — one instance, or one plug.

use std::fmt;
use std::str::FromStr;

use super::SecretsError;

/// The owner of a group of secrets: an instance (tenant) of a product, or a
/// plug between two instances. An adapter only ever sees the secrets of the
/// scope it is called for.
///
/// Written as `instance:PRODUCT/NAME` or `plug:SRC/DST/TOPIC/MODE` (in the
/// store and on the command line; on the command line `PRODUCT/NAME` alone
/// also means an instance and a plug's `/MODE` defaults to `push`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretScope {
    /// Secrets of the instance `name` of `product` (`instances/<product>/<name>/`).
    Instance { product: String, name: String },
    /// Secrets of the plug `src` → `dst` on `topic` in `mode` (`push`/`pull`).
    Plug {
        src: String,
        dst: String,
        topic: String,
        mode: String,
    },
}

impl SecretScope {
    /// The scope of the instance `name` of `product`.
    pub fn instance(product: impl Into<String>, name: impl Into<String>) -> Self {
        Self::Instance {
            product: product.into(),
            name: name.into(),
        }
    }

    /// The scope of the plug from instance `src` to instance `dst` on `topic`,
    /// in `mode` (`push` or `pull`).
    pub fn plug(
        src: impl Into<String>,
        dst: impl Into<String>,
        topic: impl Into<String>,
        mode: impl Into<String>,
    ) -> Self {
        Self::Plug {
            src: src.into(),
            dst: dst.into(),
            topic: topic.into(),
            mode: mode.into(),
        }
    }

    /// `instance` or `plug`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Instance { .. } => "instance",
            Self::Plug { .. } => "plug",
        }
    }

    /// Whether this scope is a plug that starts or ends at instance `name`
    /// (used to drop a removed instance's plugs' secrets too).
    pub fn touches_instance(&self, instance: &str) -> bool {
        match self {
            Self::Instance { name, .. } => name == instance,
            Self::Plug { src, dst, .. } => src == instance || dst == instance,
        }
    }

    /// Checks that every part can be written and read back unambiguously.
    pub fn validate(&self) -> Result<(), SecretsError> {
        let parts: Vec<&str> = match self {
            Self::Instance { product, name } => vec![product, name],
            Self::Plug {
                src,
                dst,
                topic,
                mode,
            } => {
                if mode != "push" && mode != "pull" {
                    return Err(SecretsError::InvalidScope {
                        scope: self.to_string(),
                        reason: format!("the plug mode must be `push` or `pull`, not `{mode}`"),
                    });
                }
                vec![src, dst, topic]
            }
        };
        for part in parts {
            if part.is_empty() {
                return Err(SecretsError::InvalidScope {
                    scope: self.to_string(),
                    reason: "a part is empty".into(),
                });
            }
            if part
                .chars()
                .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
            {
                return Err(SecretsError::InvalidScope {
                    scope: self.to_string(),
                    reason: format!("`{}` contains `/`, `:` or a space", part.escape_debug()),
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for SecretScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Instance { product, name } => write!(f, "instance:{product}/{name}"),
            Self::Plug {
                src,
                dst,
                topic,
                mode,
            } => write!(f, "plug:{src}/{dst}/{topic}/{mode}"),
        }
    }
}

impl FromStr for SecretScope {
    type Err = SecretsError;

    /// Parses `instance:PRODUCT/NAME`, `PRODUCT/NAME`, or
    /// `plug:SRC/DST/TOPIC[/MODE]` (mode defaults to `push`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| SecretsError::InvalidScope {
            scope: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (kind, rest) = match s.split_once(':') {
            Some((kind, rest)) => (kind, rest),
            None => ("instance", s),
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let scope = match (kind, parts.as_slice()) {
            ("instance", [product, name]) => Self::instance(*product, *name),
            ("instance", _) => {
                return Err(invalid(
                    "expected `instance:PRODUCT/NAME` (or `PRODUCT/NAME`)",
                ));
            }
            ("plug", [src, dst, topic]) => Self::plug(*src, *dst, *topic, "push"),
            ("plug", [src, dst, topic, mode]) => Self::plug(*src, *dst, *topic, *mode),
            ("plug", _) => return Err(invalid("expected `plug:SRC/DST/TOPIC[/push|pull]`")),
            _ => {
                return Err(invalid(
                    "expected `instance:PRODUCT/NAME` or `plug:SRC/DST/TOPIC[/push|pull]`",
                ));
            }
        };
        scope.validate()?;
        Ok(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let i: SecretScope = "instance:sekoia/siem1".parse().unwrap();
        assert_eq!(i, SecretScope::instance("sekoia", "siem1"));
        assert_eq!(i.to_string(), "instance:sekoia/siem1");
        let short: SecretScope = "sekoia/siem1".parse().unwrap();
        assert_eq!(short, i);
        let p: SecretScope = "plug:edr1/siem1/events".parse().unwrap();
        assert_eq!(p, SecretScope::plug("edr1", "siem1", "events", "push"));
        assert_eq!(p.to_string(), "plug:edr1/siem1/events/push");
        let pull: SecretScope = "plug:a/b/alerts/pull".parse().unwrap();
        assert_eq!(pull.to_string().parse::<SecretScope>().unwrap(), pull);
    }

    #[test]
    fn refuses_ambiguous_scopes() {
        for bad in [
            "",
            "sekoia",
            "instance:a/b/c",
            "plug:a/b",
            "plug:a/b/c/sideways",
            "host:a/b",
            "instance:/b",
            "instance:a b/c",
        ] {
            let err = bad.parse::<SecretScope>().unwrap_err();
            assert!(err.to_string().contains("scope"), "{bad}: {err}");
        }
        assert!(SecretScope::instance("a/x", "b").validate().is_err());
    }

    #[test]
    fn touches_instance() {
        assert!(SecretScope::plug("a", "b", "t", "push").touches_instance("b"));
        assert!(!SecretScope::plug("a", "b", "t", "push").touches_instance("c"));
        assert!(SecretScope::instance("p", "a").touches_instance("a"));
    }
}
