//! Products: `products/<name>/definition.yaml`, a product's settings and
//! capabilities, as the original Meshroom writes them (unknown keys kept).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::capability::{Capability, CapabilityDecl, CapabilityRef, Mode, Role};
use super::error::Result;
use super::reader::Reader;
use super::setting::Setting;
use super::yaml::null_as_default;

/// A topic → capability entries map (`produces:`, `consumes:`…).
pub type CapabilityMap = IndexMap<String, Vec<CapabilityDecl>>;

/// The contents of `definition.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductDefinition {
    /// Always the folder's name once loaded (the original overrides it too).
    #[serde(default)]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub vendor: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    /// The product's adapter: a `.wasm` path relative to the product folder,
    /// or an OCI reference. Absent in projects written by the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub settings: Vec<Setting>,
    #[serde(
        default,
        deserialize_with = "de_caps",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub consumes: CapabilityMap,
    #[serde(
        default,
        deserialize_with = "de_caps",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub produces: CapabilityMap,
    #[serde(
        default,
        deserialize_with = "de_caps",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub triggers: CapabilityMap,
    #[serde(
        default,
        deserialize_with = "de_caps",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub executes: CapabilityMap,
    /// Keys this version does not know, kept on round trip.
    #[serde(flatten)]
    pub extra: IndexMap<String, serde_json::Value>,
}

/// A capability map whose topics may be written with nothing after them
/// (`events:`): such a topic is one entry accepting any format, in push mode.
fn de_caps<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> std::result::Result<CapabilityMap, D::Error> {
    let raw: Option<IndexMap<String, Option<Vec<Option<CapabilityDecl>>>>> =
        Option::deserialize(de)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(topic, decls)| {
            let decls = match decls {
                None => vec![CapabilityDecl::default()],
                Some(list) => list.into_iter().map(Option::unwrap_or_default).collect(),
            };
            (topic, decls)
        })
        .collect())
}

impl ProductDefinition {
    /// Parses the text of a `definition.yaml` (`path` names it in errors);
    /// an empty document is the empty definition.
    pub fn parse(path: &Path, text: &str) -> Result<ProductDefinition> {
        super::yaml::parse(path, text)
    }

    pub fn capability_map(&self, role: Role) -> &CapabilityMap {
        match role {
            Role::Producer => &self.produces,
            Role::Consumer => &self.consumes,
            Role::Trigger => &self.triggers,
            Role::Executor => &self.executes,
        }
    }

    pub fn capability_map_mut(&mut self, role: Role) -> &mut CapabilityMap {
        match role {
            Role::Producer => &mut self.produces,
            Role::Consumer => &mut self.consumes,
            Role::Trigger => &mut self.triggers,
            Role::Executor => &mut self.executes,
        }
    }

    /// Every capability declared in the definition, in file order.
    pub fn capabilities(&self) -> impl Iterator<Item = Capability> + '_ {
        self.capability_refs().map(CapabilityRef::to_owned)
    }

    /// [`Self::capabilities`], borrowed.
    pub fn capability_refs(&self) -> impl Iterator<Item = CapabilityRef<'_>> {
        Role::ALL.into_iter().flat_map(move |role| {
            self.capability_map(role)
                .iter()
                .flat_map(move |(topic, decls)| {
                    decls.iter().map(move |d| CapabilityRef {
                        topic: Some(topic.as_str()),
                        role,
                        mode: d.mode,
                        format: d.format.as_deref(),
                    })
                })
        })
    }

    /// Whether the definition already declares a capability for `topic` and
    /// `role` in `mode` that accepts `format` (an entry without format
    /// accepts any).
    pub fn has_capability(
        &self,
        topic: &str,
        role: Role,
        mode: Mode,
        format: Option<&str>,
    ) -> bool {
        self.capability_map(role).get(topic).is_some_and(|decls| {
            decls.iter().any(|d| {
                d.mode == mode
                    && (format.is_none() || d.format.is_none() || d.format.as_deref() == format)
            })
        })
    }

    /// Adds a capability entry (no check for duplicates: see [`Self::has_capability`]).
    pub fn add_capability(&mut self, topic: &str, role: Role, mode: Mode, format: Option<&str>) {
        self.capability_map_mut(role)
            .entry(topic.to_string())
            .or_default()
            .push(CapabilityDecl {
                mode,
                format: format.map(str::to_string),
                extra: IndexMap::new(),
            });
    }

    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.name == name)
    }
}

/// A product of the project.
#[derive(Debug, Clone)]
pub struct Product {
    pub name: String,
    /// `products/<name>`, absolute or relative to the working directory as the
    /// project root was given.
    pub dir: PathBuf,
    pub definition: ProductDefinition,
    /// Python hook files found in the product folder (never executed).
    pub python_files: Vec<PathBuf>,
}

impl Product {
    pub fn definition_path(&self) -> PathBuf {
        self.dir.join("definition.yaml")
    }

    /// Loads `dir/definition.yaml` (missing = empty definition, as the original).
    pub fn load(dir: &Path) -> Result<Product> {
        Self::load_with(&mut Reader::direct(), dir)
    }

    /// [`Self::load`] through `reader`.
    pub(super) fn load_with(reader: &mut Reader<'_>, dir: &Path) -> Result<Product> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = dir.join("definition.yaml");
        let mut definition: ProductDefinition = reader.read_optional(&path)?.unwrap_or_default();
        definition.name.clone_from(&name);
        Ok(Product {
            name,
            dir: dir.to_path_buf(),
            definition,
            python_files: Vec::new(),
        })
    }

    /// Writes `definition.yaml` atomically.
    pub fn save(&self) -> Result<()> {
        super::yaml::write(&self.definition_path(), &self.definition)
    }

    /// The adapter's path when `adapter` names a file in the product folder
    /// (an OCI reference returns `None`).
    pub fn adapter_path(&self) -> Option<PathBuf> {
        let adapter = self.definition.adapter.as_deref()?;
        adapter.ends_with(".wasm").then(|| self.dir.join(adapter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str = r#"name: myproduct
tags: []
settings:
  - name: API_KEY
    secret: true
  - name: API_URL
    default: https://myproduct.com/api
consumes:
  detection_rules:
    - format: sigma
      url: https://myproduct.com/api/detection_rules/sigma
      method: POST
produces:
  alerts:
    - mode: pull
      url: https://myproduct.com/api/alerts
  events:
executes:
  actions:
      - action_id:
        params:
x-custom: kept
"#;

    #[test]
    fn reads_the_original_format_and_keeps_unknown_keys() {
        let def: ProductDefinition = serde_yaml_ng::from_str(ORIGINAL).unwrap();
        assert_eq!(def.settings.len(), 2);
        assert!(def.settings[0].secret);
        let caps: Vec<String> = def.capabilities().map(|c| c.to_string()).collect();
        assert_eq!(
            caps,
            [
                "alerts producer (pull)",
                "events producer",
                "detection_rules consumer (sigma)",
                "actions executor"
            ]
        );
        let out = serde_yaml_ng::to_string(&def).unwrap();
        assert!(out.contains("x-custom: kept"), "{out}");
        assert!(out.contains("method: POST"), "{out}");
        assert!(out.contains("action_id: null"), "{out}");
        let again: ProductDefinition = serde_yaml_ng::from_str(&out).unwrap();
        assert_eq!(again, def);
    }

    #[test]
    fn capability_presence_accepts_any_format_entries() {
        let mut def = ProductDefinition::default();
        def.add_capability("events", Role::Consumer, Mode::Push, None);
        assert!(def.has_capability("events", Role::Consumer, Mode::Push, Some("ecs")));
        assert!(!def.has_capability("events", Role::Consumer, Mode::Pull, None));
        def.add_capability("alerts", Role::Producer, Mode::Push, Some("ocsf"));
        assert!(!def.has_capability("alerts", Role::Producer, Mode::Push, Some("ecs")));
        assert!(def.has_capability("alerts", Role::Producer, Mode::Push, None));
    }
}
