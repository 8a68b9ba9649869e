//! Integrations: the recipe for one end of an edge between two products.
//! Explicit ones are files, `products/<p>/integrations/<target>/<topic>_<role>[_<format>][_pull].yml`;
//! generic ones exist wherever two products' capabilities match.

use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::capability::{Mode, Role};
use super::error::{ProjectError, Result};
use super::reader::Reader;
use super::setting::Setting;
use super::yaml::null_as_default;

/// The contents of an integration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntegrationManifest {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub product: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_product: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Mode::is_push")]
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub documentation_url: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub settings: Vec<Setting>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

/// One end of an edge between `product` and `target_product` for `topic`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Integration {
    pub product: String,
    pub target_product: String,
    pub topic: String,
    pub role: Role,
    pub mode: Mode,
    pub format: Option<String>,
    /// Derived from matching capabilities rather than read from a file.
    pub generic: bool,
    /// The file, for explicit integrations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip)]
    pub manifest: IntegrationManifest,
}

/// An integration borrowed from the project: an explicit one's fields, or a
/// generic one derived from two capabilities. What listings hand out, so
/// that listing a large mesh copies no names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntegrationView<'a> {
    pub product: &'a str,
    pub target_product: &'a str,
    pub topic: &'a str,
    pub role: Role,
    pub mode: Mode,
    pub format: Option<&'a str>,
    /// The explicit integration (its file and manifest); `None` for generic ones.
    pub explicit: Option<&'a Integration>,
}

impl<'a> IntegrationView<'a> {
    /// Derived from matching capabilities rather than read from a file.
    pub fn is_generic(&self) -> bool {
        self.explicit.is_none()
    }

    /// The file of an explicit integration.
    pub fn path(&self) -> Option<&'a Path> {
        self.explicit.and_then(|i| i.path.as_deref())
    }

    pub fn to_integration(&self) -> Integration {
        match self.explicit {
            Some(i) => i.clone(),
            None => Integration {
                product: self.product.to_string(),
                target_product: self.target_product.to_string(),
                topic: self.topic.to_string(),
                role: self.role,
                mode: self.mode,
                format: self.format.map(str::to_string),
                generic: true,
                path: None,
                manifest: IntegrationManifest::default(),
            },
        }
    }
}

/// Serialized as [`Integration`] is.
impl Serialize for IntegrationView<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let path = self.path();
        let mut s = serializer.serialize_struct("Integration", 7 + usize::from(path.is_some()))?;
        s.serialize_field("product", self.product)?;
        s.serialize_field("target_product", self.target_product)?;
        s.serialize_field("topic", self.topic)?;
        s.serialize_field("role", &self.role)?;
        s.serialize_field("mode", &self.mode)?;
        s.serialize_field("format", &self.format)?;
        s.serialize_field("generic", &self.is_generic())?;
        if let Some(path) = path {
            s.serialize_field("path", path)?;
        }
        s.end()
    }
}

impl fmt::Display for IntegrationView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (arrow_in, arrow_out) = if self.role.is_source() {
            ("--[", "]->")
        } else {
            ("<-[", "]--")
        };
        write!(f, "{} {arrow_in}{}:{}", self.product, self.topic, self.mode)?;
        if let Some(x) = self.format {
            write!(f, " {x}")?;
        }
        write!(f, "{arrow_out} {} ({})", self.target_product, self.role)
    }
}

impl Integration {
    /// This integration, borrowed.
    pub fn view(&self) -> IntegrationView<'_> {
        IntegrationView {
            product: &self.product,
            target_product: &self.target_product,
            topic: &self.topic,
            role: self.role,
            mode: self.mode,
            format: self.format.as_deref(),
            explicit: (!self.generic).then_some(self),
        }
    }

    /// Whether `self` and `other` are the two ends of the same edge.
    pub fn matches(&self, other: &Integration) -> bool {
        self.topic == other.topic
            && self.role.complement() == other.role
            && self.mode == other.mode
            && super::capability::formats_compatible(
                self.format.as_deref(),
                other.format.as_deref(),
            )
    }

    /// The identity used to de-duplicate integrations (format excluded, as the original).
    pub fn key(&self) -> (&str, &str, &str, Role, Mode) {
        (
            &self.product,
            &self.target_product,
            &self.topic,
            self.role,
            self.mode,
        )
    }

    /// Loads an integration file, parsing its name by the role word.
    pub fn load(path: &Path) -> Result<Integration> {
        Self::load_with(&mut Reader::direct(), path)
    }

    /// [`Self::load`] through `reader`.
    pub(super) fn load_with(reader: &mut Reader<'_>, path: &Path) -> Result<Integration> {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = parse_file_stem(&stem).ok_or_else(|| {
            ProjectError::Invalid(format!(
                "cannot read integration file `{}`: its name must be <topic>_<role>[_<format>][_pull].yml with role producer, consumer, trigger or executor",
                path.display()
            ))
        })?;
        let manifest: IntegrationManifest = reader.read(path)?;
        let target_dir = path.parent().unwrap_or(Path::new(""));
        let target_product = super::instance::file_name(target_dir);
        let product = target_dir
            .parent()
            .and_then(Path::parent)
            .map(super::instance::file_name)
            .unwrap_or_default();
        Ok(Integration {
            product,
            target_product,
            topic: name.topic,
            role: name.role,
            mode: name.mode,
            format: name.format.or_else(|| manifest.format.clone()),
            generic: false,
            path: Some(path.to_path_buf()),
            manifest,
        })
    }

    /// The file name this integration is written to (the original's naming).
    pub fn file_name(&self) -> String {
        let mut name = format!("{}_{}", self.topic, self.role);
        if let Some(f) = &self.format {
            name.push('_');
            name.push_str(f);
        }
        if self.mode == Mode::Pull {
            name.push_str("_pull");
        }
        name.push_str(".yml");
        name
    }

    /// The manifest to write for a new explicit integration.
    pub fn new_manifest(&self) -> IntegrationManifest {
        IntegrationManifest {
            product: self.product.clone(),
            target_product: self.target_product.clone(),
            topic: self.topic.clone(),
            role: Some(self.role),
            mode: self.mode,
            format: self.format.clone(),
            ..IntegrationManifest::default()
        }
    }
}

impl fmt::Display for Integration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view().fmt(f)
    }
}

/// The parts of an integration file name.
#[derive(Debug, PartialEq)]
pub struct IntegrationFileName {
    pub topic: String,
    pub role: Role,
    pub format: Option<String>,
    pub mode: Mode,
}

/// Parses `<topic>_<role>[_<format>][_pull|_push]`: the last role word splits
/// the topic (which may contain `_`) from the optional format.
pub fn parse_file_stem(stem: &str) -> Option<IntegrationFileName> {
    let (rest, mode) = if let Some(r) = stem.strip_suffix("_pull") {
        (r, Mode::Pull)
    } else if let Some(r) = stem.strip_suffix("_push") {
        (r, Mode::Push)
    } else {
        (stem, Mode::Push)
    };
    let parts: Vec<&str> = rest.split('_').collect();
    let idx = (1..parts.len())
        .rev()
        .find(|&i| parts[i].parse::<Role>().is_ok())?;
    let role = parts[idx].parse::<Role>().ok()?;
    let topic = parts[..idx].join("_");
    let format = (idx + 1 < parts.len()).then(|| parts[idx + 1..].join("_"));
    if topic.is_empty() || format.as_deref() == Some("") {
        return None;
    }
    Some(IntegrationFileName {
        topic,
        role,
        format,
        mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(stem: &str) -> Option<(String, Role, Option<String>, Mode)> {
        parse_file_stem(stem).map(|n| (n.topic, n.role, n.format, n.mode))
    }

    #[test]
    fn a_view_shows_and_serializes_as_its_integration() {
        let generic = Integration {
            product: "edr".into(),
            target_product: "siem".into(),
            topic: "events".into(),
            role: Role::Producer,
            mode: Mode::Pull,
            format: Some("ocsf".into()),
            generic: true,
            path: None,
            manifest: IntegrationManifest::default(),
        };
        let explicit = Integration {
            role: Role::Consumer,
            format: None,
            generic: false,
            path: Some("products/edr/integrations/siem/events_consumer_pull.yml".into()),
            ..generic.clone()
        };
        for i in [&generic, &explicit] {
            let view = i.view();
            assert_eq!(
                serde_json::to_value(view).unwrap(),
                serde_json::to_value(i).unwrap()
            );
            assert_eq!(view.to_integration(), *i);
            assert_eq!(view.is_generic(), i.generic);
            assert_eq!(view.path(), i.path.as_deref());
        }
        assert_eq!(
            generic.to_string(),
            "edr --[events:pull ocsf]-> siem (producer)"
        );
        assert_eq!(
            explicit.to_string(),
            "edr <-[events:pull]-- siem (consumer)"
        );
    }

    #[test]
    fn parses_file_names_by_the_role_word() {
        assert_eq!(
            parsed("events_consumer"),
            Some(("events".into(), Role::Consumer, None, Mode::Push))
        );
        assert_eq!(
            parsed("detection_rules_producer_pull"),
            Some(("detection_rules".into(), Role::Producer, None, Mode::Pull))
        );
        assert_eq!(
            parsed("events_consumer_ecs"),
            Some((
                "events".into(),
                Role::Consumer,
                Some("ecs".into()),
                Mode::Push
            ))
        );
        assert_eq!(
            parsed("threat_intel_consumer_stix_pull"),
            Some((
                "threat_intel".into(),
                Role::Consumer,
                Some("stix".into()),
                Mode::Pull
            ))
        );
        assert_eq!(
            parsed("block_trigger_push"),
            Some(("block".into(), Role::Trigger, None, Mode::Push))
        );
        assert_eq!(parsed("events"), None);
        assert_eq!(parsed("consumer"), None);
    }

    #[test]
    fn file_names_round_trip() {
        for stem in [
            "events_consumer",
            "events_consumer_ecs",
            "alerts_producer_ocsf_pull",
            "deny_executor_pull",
        ] {
            let n = parse_file_stem(stem).unwrap();
            let i = Integration {
                product: "a".into(),
                target_product: "b".into(),
                topic: n.topic,
                role: n.role,
                mode: n.mode,
                format: n.format,
                generic: false,
                path: None,
                manifest: IntegrationManifest::default(),
            };
            assert_eq!(i.file_name(), format!("{stem}.yml"));
        }
    }
}
