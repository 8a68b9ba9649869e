//! Capabilities: what a product can do for a topic (produce, consume, trigger,
//! execute), in a mode and an optional format, and when two of them match.

use std::fmt;
use std::str::FromStr;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// The part a product plays on a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Producer,
    Consumer,
    Trigger,
    Executor,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Producer,
        Role::Consumer,
        Role::Trigger,
        Role::Executor,
    ];

    /// The role on the other end of an edge.
    pub fn complement(self) -> Role {
        match self {
            Role::Producer => Role::Consumer,
            Role::Consumer => Role::Producer,
            Role::Trigger => Role::Executor,
            Role::Executor => Role::Trigger,
        }
    }

    /// Producers and triggers are the source end of a plug.
    pub fn is_source(self) -> bool {
        matches!(self, Role::Producer | Role::Trigger)
    }

    /// The definition.yaml key listing this role's capabilities.
    pub fn definition_key(self) -> &'static str {
        match self {
            Role::Producer => "produces",
            Role::Consumer => "consumes",
            Role::Trigger => "triggers",
            Role::Executor => "executes",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
            Role::Trigger => "trigger",
            Role::Executor => "executor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}` (producer, consumer, trigger or executor)"))
    }
}

/// Who initiates the exchange: the producer pushes, or the consumer pulls.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Push,
    Pull,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Push => "push",
            Mode::Pull => "pull",
        }
    }
    pub fn is_push(&self) -> bool {
        *self == Mode::Push
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "push" => Ok(Mode::Push),
            "pull" => Ok(Mode::Pull),
            _ => Err(format!("unknown mode `{s}` (push or pull)")),
        }
    }
}

/// One entry of a definition's capability map (`produces: {events: [<this>]}`):
/// mode, optional format, and any other keys (url, method, description…) kept
/// as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapabilityDecl {
    #[serde(default, skip_serializing_if = "Mode::is_push")]
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(flatten)]
    pub extra: IndexMap<String, serde_json::Value>,
}

/// A capability of a product: topic (`None` = any, from a topic-less hook),
/// role, mode and format (`None` = any format).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Capability {
    pub topic: Option<String>,
    pub role: Role,
    pub mode: Mode,
    pub format: Option<String>,
}

impl Capability {
    /// Two capabilities match when their roles are complementary, their
    /// topics equal, their modes equal, and their formats equal or one unset.
    pub fn matches(&self, other: &Capability) -> bool {
        self.role.complement() == other.role
            && (self.topic.is_none() || other.topic.is_none() || self.topic == other.topic)
            && self.mode == other.mode
            && formats_compatible(self.format.as_deref(), other.format.as_deref())
    }
}

/// A [`Capability`] borrowed from a definition or a hook, for listings that
/// derive many integrations from few capabilities without copying names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CapabilityRef<'a> {
    pub topic: Option<&'a str>,
    pub role: Role,
    pub mode: Mode,
    pub format: Option<&'a str>,
}

impl CapabilityRef<'_> {
    pub fn to_owned(self) -> Capability {
        Capability {
            topic: self.topic.map(str::to_string),
            role: self.role,
            mode: self.mode,
            format: self.format.map(str::to_string),
        }
    }
}

/// Formats are compatible when equal or when either side accepts any format.
pub fn formats_compatible(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.topic.as_deref().unwrap_or("*"), self.role)?;
        match (self.mode, &self.format) {
            (Mode::Push, None) => Ok(()),
            (Mode::Push, Some(fmt)) => write!(f, " ({fmt})"),
            (Mode::Pull, None) => write!(f, " (pull)"),
            (Mode::Pull, Some(fmt)) => write!(f, " (pull {fmt})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(topic: &str, role: Role, mode: Mode, format: Option<&str>) -> Capability {
        Capability {
            topic: Some(topic.into()),
            role,
            mode,
            format: format.map(Into::into),
        }
    }

    #[test]
    fn complementary_roles_match() {
        let p = cap("events", Role::Producer, Mode::Push, None);
        assert!(p.matches(&cap("events", Role::Consumer, Mode::Push, None)));
        assert!(!p.matches(&cap("events", Role::Producer, Mode::Push, None)));
        assert!(!p.matches(&cap("events", Role::Executor, Mode::Push, None)));
        let t = cap("block", Role::Trigger, Mode::Push, None);
        assert!(t.matches(&cap("block", Role::Executor, Mode::Push, None)));
        assert!(cap("block", Role::Executor, Mode::Push, None).matches(&t));
        assert!(!t.matches(&cap("block", Role::Consumer, Mode::Push, None)));
    }

    #[test]
    fn topics_and_modes_must_be_equal() {
        let p = cap("events", Role::Producer, Mode::Push, None);
        assert!(!p.matches(&cap("alerts", Role::Consumer, Mode::Push, None)));
        assert!(!p.matches(&cap("events", Role::Consumer, Mode::Pull, None)));
        let any_topic = Capability {
            topic: None,
            ..cap("x", Role::Consumer, Mode::Push, None)
        };
        assert!(p.matches(&any_topic));
    }

    #[test]
    fn formats_equal_or_one_unset() {
        let ecs = cap("events", Role::Producer, Mode::Push, Some("ecs"));
        assert!(ecs.matches(&cap("events", Role::Consumer, Mode::Push, Some("ecs"))));
        assert!(ecs.matches(&cap("events", Role::Consumer, Mode::Push, None)));
        assert!(!ecs.matches(&cap("events", Role::Consumer, Mode::Push, Some("cef"))));
        assert!(
            cap("events", Role::Producer, Mode::Push, None).matches(&cap(
                "events",
                Role::Consumer,
                Mode::Push,
                Some("cef")
            ))
        );
    }

    #[test]
    fn displays_like_the_original() {
        assert_eq!(
            cap("events", Role::Producer, Mode::Push, None).to_string(),
            "events producer"
        );
        assert_eq!(
            cap("alerts", Role::Consumer, Mode::Pull, Some("ocsf")).to_string(),
            "alerts consumer (pull ocsf)"
        );
    }
}
