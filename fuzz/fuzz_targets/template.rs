//! The egress templates of a definition (`egress_of`: minijinja,
//! `{{setting}}`): the input's parts (separated by `#---` lines) are an
//! `http` entry, a `tcp` entry, and the instance's settings (a YAML
//! mapping).
#![no_main]

#[path = "common.rs"]
mod common;

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use meshroom::engine::egress_of;
use meshroom_project::{Instance, Product, ProductDefinition};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let [http, tcp, settings] = common::parts(text, 3)[..] else {
        return;
    };
    let settings: serde_json::Map<String, serde_json::Value> =
        serde_yaml_ng::from_str(settings).unwrap_or_default();
    let mut definition = ProductDefinition::default();
    definition.extra.insert(
        "egress".to_string(),
        serde_json::json!({"http": [http], "tcp": [tcp]}),
    );
    let product = Product {
        name: "acme".to_string(),
        dir: PathBuf::from("products/acme"),
        definition,
        python_files: Vec::new(),
    };
    let instance = Instance::new(Path::new("instances"), "acme", "a1");
    let egress = egress_of(&product, &instance, &settings);
    // What the seeds reach, when a seed needs fixing.
    if std::env::var_os("MESHROOM_FUZZ_DEBUG").is_some() {
        eprintln!("egress: {egress:?}");
    }
});
