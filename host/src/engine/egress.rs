//! A product's egress policy: the `egress:` key of its definition, templated
//! from the settings of the instance whose adapter runs — an adapter reaches
//! only its own instance's hosts.
//!
//! ```yaml
//! egress:
//!   http: ["{{url}}"]      # the host:port of the URL setting `url`
//!   tcp: ["{{address}}"]   # a host:port setting
//! ```
//!
//! Each entry is a minijinja template naming settings, `{{setting}}`; after rendering
//! the authority (`host:port`) is kept, so a URL setting gives its host and
//! port. `udp` entries are accepted like `tcp` ones. No `egress:` key: the
//! adapter reaches nothing.

use std::path::Path;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::error::EngineError;
use crate::project::{Instance, Product};
use crate::runtime::authority_of;

/// The hosts an adapter may reach for `instance`: HTTP authorities and
/// socket peers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Egress {
    /// `host:port` (or `host`) allowed over HTTP(S).
    pub http: Vec<String>,
    /// `host:port` allowed over TCP/UDP.
    pub sockets: Vec<String>,
}

/// Templates `product`'s egress from `instance`'s settings (`settings`:
/// the instance's effective settings, defaults included).
pub fn egress_of(
    product: &Product,
    instance: &Instance,
    settings: &Map<String, Value>,
) -> Result<Egress, EngineError> {
    let definition = product.definition_path();
    let Some(spec) = product.definition.extra.get("egress") else {
        return Ok(Egress::default());
    };
    let bad = |message: String| EngineError::EgressFormat {
        definition: definition.clone(),
        message,
    };
    let Value::Object(spec) = spec else {
        return Err(bad(
            "expected a mapping like `http: [\"{{url}}\"]`".to_string()
        ));
    };
    let mut egress = Egress::default();
    for (key, entries) in spec {
        let list = match key.as_str() {
            "http" => &mut egress.http,
            "tcp" | "udp" => &mut egress.sockets,
            other => {
                return Err(bad(format!(
                    "unknown key `{other}` (expected `http`, `tcp` or `udp`)"
                )));
            }
        };
        let entries: Vec<&Value> = match entries {
            Value::Array(a) => a.iter().collect(),
            Value::Null => Vec::new(),
            one => vec![one],
        };
        for entry in entries {
            let Value::String(template) = entry else {
                return Err(bad(format!(
                    "`{key}` entries must be strings, got `{entry}`"
                )));
            };
            let text = substitute(
                template,
                |name| {
                    setting_text(settings, name).ok_or_else(|| EngineError::EgressSetting {
                        product: product.name.clone(),
                        instance: instance.name.clone(),
                        setting: name.to_string(),
                        definition: definition.clone(),
                    })
                },
                &definition,
            )?;
            let authority = authority_of(text.trim());
            if authority.is_empty() {
                return Err(bad(format!(
                    "`{template}` gives no host for instance `{}`",
                    instance.name
                )));
            }
            list.push(authority);
        }
    }
    Ok(egress)
}

/// A setting's value as text (strings, numbers); `None` when unset or empty.
fn setting_text(settings: &Map<String, Value>, name: &str) -> Option<String> {
    match settings.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The most minijinja instructions one egress template may run.
const EGRESS_FUEL: u64 = 100_000;

/// Renders `template` (minijinja: `{{name}}` placeholders, filters such as
/// `{{name | lower}}`) with each setting it names given by `value(name)`;
/// the first setting `value` refuses (by name) is the error.
fn substitute(
    template: &str,
    mut value: impl FnMut(&str) -> Result<String, EngineError>,
    definition: &Path,
) -> Result<String, EngineError> {
    let malformed = |e: minijinja::Error| EngineError::EgressFormat {
        definition: definition.to_path_buf(),
        message: match e.kind() {
            minijinja::ErrorKind::OutOfFuel => format!(
                "`{template}` takes too long to render (loops?); write a setting as `{{{{name}}}}`"
            ),
            _ => format!(
                "unclosed or malformed `{{{{…}}}}` in `{template}` ({}); write a setting as `{{{{name}}}}`",
                e.detail().unwrap_or("syntax error")
            ),
        },
    };
    static ENV: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        // A definition comes from its vendor: nested loops over a setting
        // would otherwise hang `up` (found with its fuzz target). An authority
        // template costs tens of instructions.
        env.set_fuel(Some(EGRESS_FUEL));
        env
    });
    let compiled = ENV.template_from_str(template).map_err(malformed)?;
    let mut names: Vec<String> = compiled.undeclared_variables(false).into_iter().collect();
    names.sort();
    let mut context = std::collections::BTreeMap::new();
    for name in names {
        let text = value(&name)?;
        context.insert(name, text);
    }
    compiled.render(context).map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::ProductDefinition;
    use serde_json::json;

    fn product(egress: Value) -> Product {
        let mut definition = ProductDefinition::default();
        definition.extra.insert("egress".into(), egress);
        Product {
            name: "siem".into(),
            dir: "products/siem".into(),
            definition,
            python_files: Vec::new(),
        }
    }

    fn settings(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_template_that_loops_too_long_is_refused_not_run() {
        // Found with the fuzz target (fuzz/corpus/template/nested-loops.txt): 30^7
        // iterations, which hung the run.
        let mut template = String::new();
        for v in ["a", "b", "c", "d", "e", "f", "g"] {
            template.push_str(&format!("{{% for {v} in u %}}"));
        }
        template.push('x');
        template.push_str(&"{% endfor %}".repeat(7));
        let p = product(json!({ "http": [template] }));
        let i = Instance::new(Path::new("instances"), "siem", "s1");
        let started = std::time::Instant::now();
        let err = egress_of(
            &p,
            &i,
            &settings(json!({"u": "abcdefghijklmnopqrstuvwxyz0123"})),
        )
        .unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let shown = err.to_string();
        assert!(shown.contains("takes too long to render"), "{shown}");
    }

    #[test]
    fn templates_authorities_from_the_instance_settings() {
        let p = product(
            json!({"http": ["{{url}}", "api.vendor.example:443"], "tcp": ["{{host}}:{{port}}"]}),
        );
        let i = Instance::new(Path::new("instances"), "siem", "s1");
        let e = egress_of(
            &p,
            &i,
            &settings(
                json!({"url": "http://127.0.0.1:8080/api/v1", "host": "10.0.0.5", "port": 514}),
            ),
        )
        .unwrap();
        assert_eq!(e.http, ["127.0.0.1:8080", "api.vendor.example:443"]);
        assert_eq!(e.sockets, ["10.0.0.5:514"]);
    }

    #[test]
    fn a_missing_setting_names_product_setting_and_file() {
        let p = product(json!({"http": ["{{url}}"]}));
        let i = Instance::new(Path::new("instances"), "siem", "s1");
        let err = egress_of(&p, &i, &Map::new()).unwrap_err().to_string();
        assert!(
            err.contains("`siem`")
                && err.contains("`url`")
                && err.contains("definition.yaml")
                && err.contains("s1"),
            "{err}"
        );
    }

    #[test]
    fn no_egress_key_reaches_nothing_and_bad_keys_are_refused() {
        let mut p = product(json!(null));
        p.definition.extra.clear();
        let i = Instance::new(Path::new("instances"), "siem", "s1");
        assert_eq!(egress_of(&p, &i, &Map::new()).unwrap(), Egress::default());
        let p = product(json!({"ftp": ["x"]}));
        assert!(
            egress_of(&p, &i, &Map::new())
                .unwrap_err()
                .to_string()
                .contains("`ftp`")
        );
        let p = product(json!({"http": ["{{url"]}));
        assert!(
            egress_of(&p, &i, &Map::new())
                .unwrap_err()
                .to_string()
                .contains("unclosed")
        );
    }

    #[test]
    fn entries_are_minijinja_templates() {
        let p =
            product(json!({"http": ["{{ url | lower }}", "{{scheme}}://{{ host }}:{{port}}/x"]}));
        let i = Instance::new(Path::new("instances"), "siem", "s1");
        let e = egress_of(
            &p,
            &i,
            &settings(json!({"url": "HTTPS://API.Example:8443/v1", "scheme": "https", "host": "h.example", "port": 9200})),
        )
        .unwrap();
        assert_eq!(e.http, ["api.example:8443", "h.example:9200"]);
        // Of several missing settings, one is named (the first by name).
        let err = egress_of(&p, &i, &settings(json!({"url": "http://x"})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`host`"), "{err}");
        let p = product(json!({"http": ["{% if %}"]}));
        let err = egress_of(&p, &i, &Map::new()).unwrap_err().to_string();
        assert!(
            err.contains("malformed") && err.contains("{% if %}"),
            "{err}"
        );
    }
}
