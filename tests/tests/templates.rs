//! The product-category templates in `host/project/templates/`: all 23 of the original's
//! categories, each a valid product definition declaring capabilities in both
//! directions with the standard formats CATEGORIES.md documents, and together a
//! mesh where every trigger finds an executor and every consumer a producer.

#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_yaml_ng::Value;

const CATEGORIES: [&str; 23] = [
    "adversarial_exposure_validation",
    "asca",
    "assistant",
    "caasm",
    "cps",
    "csma",
    "dfir",
    "drp",
    "easm",
    "edr",
    "exposure_assessment",
    "itdr",
    "mdr",
    "monitoring",
    "ndr",
    "pentest",
    "security_service_edge",
    "siem",
    "telemetry",
    "threat_exposure_management",
    "tip",
    "waf",
    "xdr",
];

const ROLES: [&str; 4] = ["produces", "consumes", "triggers", "executes"];

/// Formats allowed per data topic (CATEGORIES.md).
const DATA_FORMATS: &[(&str, &[&str])] = &[
    ("events", &["syslog", "cef", "ecs", "ocsf", "json", "otlp"]),
    ("alerts", &["ocsf"]),
    ("threats", &["stix"]),
    ("assets", &["ocsf"]),
    ("vulnerabilities", &["ocsf"]),
    ("misconfigurations", &["ocsf"]),
    ("detection_rules", &["sigma", "yara", "suricata"]),
    ("metrics", &["openmetrics", "otlp"]),
    ("reports", &["markdown"]),
];

/// OpenC2 target types (and searchable stores) allowed as action formats.
const ACTION_FORMATS: &[&str] = &[
    "ip", "domain", "url", "file", "process", "device", "user", "features", "events", "alerts",
    "assets", "text",
];

fn templates_dir() -> PathBuf {
    meshroom_tests::workspace_root().join("host/project/templates")
}

/// (category, role, topic, mode, format) of every capability entry.
type Capability = (String, String, String, String, String);

fn load(category: &str) -> Value {
    let path = templates_dir().join(category).join("definition.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        text.contains("{{NAME}}"),
        "{category}: the name must be the {{{{NAME}}}} placeholder"
    );
    // `create product` substitutes the name before parsing, as the original does.
    let text = text.replace("{{NAME}}", "myproduct");
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn capabilities(category: &str, definition: &Value) -> Vec<Capability> {
    let mut out = Vec::new();
    for role in ROLES {
        let Some(map) = definition.get(role) else {
            continue;
        };
        let map = map
            .as_mapping()
            .unwrap_or_else(|| panic!("{category}: `{role}` must be a map of topic → list"));
        for (topic, entries) in map {
            let topic = topic.as_str().expect("topic is a string").to_string();
            let entries = entries
                .as_sequence()
                .unwrap_or_else(|| panic!("{category}: {role}.{topic} must be a list"));
            assert!(!entries.is_empty(), "{category}: {role}.{topic} is empty");
            for entry in entries {
                let mode = entry
                    .get("mode")
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{category}: {role}.{topic} entry has no mode"));
                assert!(
                    mode == "push" || mode == "pull",
                    "{category}: {role}.{topic} has mode `{mode}`"
                );
                let format = entry
                    .get("format")
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{category}: {role}.{topic} entry has no format"));
                out.push((
                    category.to_string(),
                    role.to_string(),
                    topic.clone(),
                    mode.to_string(),
                    format.to_string(),
                ));
            }
        }
    }
    out
}

fn all() -> Vec<(String, Value, Vec<Capability>)> {
    CATEGORIES
        .iter()
        .map(|c| {
            let d = load(c);
            let caps = capabilities(c, &d);
            (c.to_string(), d, caps)
        })
        .collect()
}

#[test]
fn there_is_one_template_per_category_of_the_original() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(templates_dir())
        .expect("host/project/templates exists")
        .flatten()
        .filter(|e| e.path().join("definition.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = CATEGORIES.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, expected);
    let doc = std::fs::read_to_string(templates_dir().join("CATEGORIES.md"))
        .expect("CATEGORIES.md exists");
    for category in CATEGORIES {
        assert!(
            doc.contains(&format!("| `{category}` |")),
            "CATEGORIES.md does not list {category}"
        );
    }
}

#[test]
fn every_template_is_a_complete_product_definition() {
    for (category, definition, _) in all() {
        assert_eq!(definition["name"].as_str(), Some("myproduct"), "{category}");
        let description = definition["description"].as_str().unwrap_or_default();
        assert!(
            description.split_whitespace().count() >= 40,
            "{category}: the description should say what the category does"
        );
        assert_eq!(definition["vendor"].as_str(), Some(""), "{category}");
        let tags: Vec<&str> = definition["tags"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{category}: tags must be a list"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            tags.contains(&category.as_str()),
            "{category}: tags {tags:?}"
        );
        let settings = definition["settings"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{category}: settings must be a list"));
        let url = settings
            .iter()
            .find(|s| s["name"].as_str() == Some("url"))
            .unwrap_or_else(|| panic!("{category}: no `url` setting"));
        assert_eq!(url["required"].as_bool(), Some(true), "{category}: url");
        assert!(
            settings.iter().any(|s| s["secret"].as_bool() == Some(true)),
            "{category}: no secret setting for the API credentials"
        );
        for setting in settings {
            let name = setting["name"].as_str().unwrap_or_default();
            assert!(!name.is_empty(), "{category}: a setting has no name");
            let kind = setting["type"].as_str().unwrap_or("string");
            assert!(
                [
                    "string", "integer", "float", "number", "boolean", "array", "object"
                ]
                .contains(&kind),
                "{category}: setting {name} has type {kind}"
            );
            assert!(
                setting["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{category}: setting {name} has no description"
            );
        }
    }
}

#[test]
fn every_template_declares_capabilities_in_both_directions() {
    for (category, _, caps) in all() {
        let outgoing = caps
            .iter()
            .filter(|c| c.1 == "produces" || c.1 == "triggers")
            .count();
        let incoming = caps
            .iter()
            .filter(|c| c.1 == "consumes" || c.1 == "executes")
            .count();
        assert!(
            outgoing > 0,
            "{category} neither produces nor triggers anything"
        );
        assert!(
            incoming > 0,
            "{category} neither consumes nor executes anything"
        );
    }
}

#[test]
fn formats_are_the_standard_ones() {
    let data: BTreeMap<&str, &[&str]> = DATA_FORMATS.iter().copied().collect();
    for (category, _, caps) in all() {
        for (_, role, topic, _, format) in caps {
            if role == "produces" || role == "consumes" {
                let allowed = data
                    .get(topic.as_str())
                    .unwrap_or_else(|| panic!("{category}: undocumented data topic `{topic}`"));
                assert!(
                    allowed.contains(&format.as_str()),
                    "{category}: {role}.{topic} format `{format}` is not one of {allowed:?}"
                );
            } else {
                assert!(
                    ACTION_FORMATS.contains(&format.as_str()),
                    "{category}: {role}.{topic} format `{format}` is not an OpenC2 target type"
                );
            }
        }
    }
}

#[test]
fn the_categories_form_a_connected_mesh() {
    let caps: Vec<Capability> = all().into_iter().flat_map(|(_, _, c)| c).collect();
    let offered = |role: &str, topic: &str, mode: &str, format: &str, except: &str| {
        caps.iter()
            .any(|c| c.0 != except && c.1 == role && c.2 == topic && c.3 == mode && c.4 == format)
    };
    for (category, role, topic, mode, format) in &caps {
        let partner = match role.as_str() {
            "triggers" => "executes",
            "consumes" => "produces",
            _ => continue,
        };
        assert!(
            offered(partner, topic, mode, format, category),
            "{category} {role} {topic} ({mode}, {format}) but no other category {partner} it"
        );
    }
    // The capabilities the example mesh relies on.
    assert!(offered("produces", "events", "push", "syslog", "siem"));
    assert!(offered("consumes", "events", "push", "syslog", "waf"));
    assert!(offered("executes", "deny", "push", "ip", "siem"));
    assert!(offered("produces", "threats", "pull", "stix", "siem"));
}
