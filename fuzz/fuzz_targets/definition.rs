//! A product's `definition.yaml` (`ProductDefinition::parse`), then what
//! commands derive from it: capabilities, settings, the adapter crate and
//! conformance scenarios `create product` scaffolds, and the file `save`
//! writes, which must parse again.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meshroom_project::{
    ProductDefinition, Role, adapter_crate_files, configured_capability, scenario_files,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("products/acme/definition.yaml");
    let Ok(definition) = ProductDefinition::parse(path, text) else {
        return;
    };
    for role in [
        Role::Producer,
        Role::Consumer,
        Role::Trigger,
        Role::Executor,
    ] {
        let _ = definition.capability_map(role);
    }
    let _ = definition.capabilities().count();
    for setting in &definition.settings {
        let _ = definition.setting(&setting.name);
    }
    let _ = configured_capability(&definition);
    let _ = adapter_crate_files("acme", &definition, Some("../sdk"));
    let _ = scenario_files("acme", &definition);
    let written = serde_yaml_ng::to_string(&definition)
        .unwrap_or_else(|e| panic!("a parsed definition does not serialise: {e}"));
    // The nesting guard counts brackets inside scalars too: 64 unclosed `{`
    // in a name pass, and the `tags: []` a save adds tips them over. A
    // refusal with the file's line is what that gives, by design.
    if meshroom_fsutil::yaml_too_deep(written.as_bytes()).is_some() {
        return;
    }
    if let Err(e) = ProductDefinition::parse(path, &written) {
        panic!("a saved definition does not parse: {e}\n{written}");
    }
});
