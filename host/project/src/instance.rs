//! Instances: tenants of a product, `instances/<product>/<name>/config.yaml`.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::Result;
use super::product::ProductDefinition;
use super::reader::Reader;
use super::yaml::null_as_default;

/// The contents of `config.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub product: String,
    /// Non-secret settings (secrets live in the encrypted store).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub settings: Map<String, Value>,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

/// An instance of a product.
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub product: String,
    /// `instances/<product>/<name>`.
    pub dir: PathBuf,
    pub config: InstanceConfig,
}

impl Instance {
    /// A new, unsaved instance in `instances_dir/<product>/<name>`.
    pub fn new(instances_dir: &Path, product: &str, name: &str) -> Instance {
        Instance {
            name: name.to_string(),
            product: product.to_string(),
            dir: instances_dir.join(product).join(name),
            config: InstanceConfig {
                name: name.to_string(),
                product: product.to_string(),
                ..InstanceConfig::default()
            },
        }
    }

    /// Loads `dir/config.yaml` (missing = no settings); name and product come
    /// from the folders, as in the original.
    pub fn load(dir: &Path) -> Result<Instance> {
        Self::load_with(&mut Reader::direct(), dir)
    }

    /// [`Self::load`] through `reader`.
    pub(super) fn load_with(reader: &mut Reader<'_>, dir: &Path) -> Result<Instance> {
        let name = file_name(dir);
        let product = dir.parent().map(file_name).unwrap_or_default();
        let path = dir.join("config.yaml");
        let mut config: InstanceConfig = reader.read_optional(&path)?.unwrap_or_default();
        config.name.clone_from(&name);
        config.product.clone_from(&product);
        Ok(Instance {
            name,
            product,
            dir: dir.to_path_buf(),
            config,
        })
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.yaml")
    }

    /// Writes `config.yaml` atomically.
    pub fn save(&self) -> Result<()> {
        super::yaml::write(&self.config_path(), &self.config)
    }

    /// The settings an adapter sees: the product's defaults overlaid with the
    /// instance's values.
    pub fn effective_settings(&self, product: &ProductDefinition) -> Map<String, Value> {
        let mut out = Map::new();
        for s in &product.settings {
            if let Some(d) = &s.default {
                out.insert(s.name.clone(), d.clone());
            }
        }
        for (k, v) in &self.config.settings {
            out.insert(k.clone(), v.clone());
        }
        out
    }
}

pub(crate) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
