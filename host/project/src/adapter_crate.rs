//! The adapter crate `meshroom create product` writes in `products/X/adapter/`:
//! a cargo crate on meshroom-sdk, built for `wasm32-wasip2`, whose hooks are
//! tailored to the product's definition so that it builds and runs at once.
//!
//! For the definition's first capability worth configuring (see
//! [`configured_capability`]) it writes a complete setup / teardown / check
//! trio against a REST resource of the product's API, and for each other
//! capability the builder line of the hook to write next.
//!
//! The sources are minijinja templates kept as files in `scaffold/` beside
//! this module (embedded in the binary); this module computes their
//! variables (names, literals, one builder line per hook to write next) and
//! must not build the files' text itself.

use super::capability::Role;
use super::names::validate_word;
use super::product::ProductDefinition;

/// The order in which roles are considered for the generated trio. A
/// consumer is what "configuring a product" most often means (create the
/// input, feed or subscription that receives the data); then a producer (a
/// forwarder towards the consumer), an executor (let the trigger call it),
/// a trigger (a response target).
const ROLE_PREFERENCE: [Role; 4] = [
    Role::Consumer,
    Role::Producer,
    Role::Executor,
    Role::Trigger,
];

/// The files (relative path, contents) of a new adapter crate for product
/// `product` with `definition`: `Cargo.toml`, `src/lib.rs`, `.gitignore`.
///
/// The SDK dependency is the folder `sdk_path` when given (offline builds,
/// tests), else the meshroom git repository.
pub fn adapter_crate_files(
    product: &str,
    definition: &ProductDefinition,
    sdk_path: Option<&str>,
) -> Vec<(String, String)> {
    vec![
        ("Cargo.toml".to_string(), cargo_toml(product, sdk_path)),
        ("src/lib.rs".to_string(), lib_rs(product, definition)),
        (".gitignore".to_string(), "/target\n".to_string()),
    ]
}

/// The capability the scaffold writes a setup / teardown / check trio for:
/// the first topic the definition consumes, else the first it produces,
/// executes, triggers (in file order; topics that are not valid words are
/// ignored). `None` when the definition declares no capability.
pub fn configured_capability(definition: &ProductDefinition) -> Option<(Role, &str)> {
    capabilities(definition)
        .next()
        .map(|(role, topic, _)| (role, topic))
}

/// Every (role, topic, declared modes/formats) of the definition, in
/// [`ROLE_PREFERENCE`] then file order.
fn capabilities(definition: &ProductDefinition) -> impl Iterator<Item = (Role, &str, String)> {
    ROLE_PREFERENCE.into_iter().flat_map(move |role| {
        definition
            .capability_map(role)
            .iter()
            .filter(|(topic, _)| validate_word("topic", topic).is_ok())
            .map(move |(topic, decls)| {
                let variants: Vec<String> = decls
                    .iter()
                    .map(|d| {
                        let format = d
                            .format
                            .as_deref()
                            .filter(|f| validate_word("format", f).is_ok())
                            .unwrap_or("any format");
                        format!("{} {format}", d.mode.as_str())
                    })
                    .collect();
                (role, topic.as_str(), variants.join(", "))
            })
    })
}

fn cargo_toml(product: &str, sdk_path: Option<&str>) -> String {
    let crate_name: String = product
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let crate_name = match crate_name.trim_matches('-') {
        "" => "product".to_string(),
        name => name.to_string(),
    };
    let sdk_dep = match sdk_path {
        Some(path) if !path.is_empty() => format!("{{ path = {path:?} }}"),
        _ => "{ git = \"https://github.com/meshroom-rs/meshroom\" }".to_string(),
    };
    render(
        CARGO_TOML,
        minijinja::context! { crate_name, product, sdk_dep },
    )
}

/// How the generated code speaks of a role: the builder method, the other
/// end's role, the resource setup creates and what it is for.
struct RoleWords {
    /// `Hook` builder method selecting the role.
    method: &'static str,
    /// Verb of the definition's section (`consumes`…).
    verb: &'static str,
    /// The role at the other end of the plug.
    other: &'static str,
    /// Which end of the plug (`src` or `dst`) the other end is.
    other_end: &'static str,
    /// The resource setup creates, singular and plural.
    noun: &'static str,
    nouns: &'static str,
    /// What the resource lets the product do: the words before and after
    /// the topic.
    purpose: (&'static str, &'static str),
    /// Examples of such resources in real products.
    examples: &'static str,
}

fn role_words(role: Role) -> RoleWords {
    match role {
        Role::Consumer => RoleWords {
            method: "consumer",
            verb: "consumes",
            other: "producer",
            other_end: "src",
            noun: "source",
            nouns: "sources",
            purpose: ("receive", "from the producer"),
            examples: "a feed, an input, a subscription",
        },
        Role::Producer => RoleWords {
            method: "producer",
            verb: "produces",
            other: "consumer",
            other_end: "dst",
            noun: "destination",
            nouns: "destinations",
            purpose: ("send", "to the consumer"),
            examples: "a forwarder, a webhook, an export",
        },
        Role::Executor => RoleWords {
            method: "executor",
            verb: "executes",
            other: "trigger",
            other_end: "src",
            noun: "caller",
            nouns: "callers",
            purpose: ("run the trigger's", "commands"),
            examples: "an API client, a response connector",
        },
        Role::Trigger => RoleWords {
            method: "trigger_role",
            verb: "triggers",
            other: "executor",
            other_end: "dst",
            noun: "target",
            nouns: "targets",
            purpose: ("send", "commands to the executor"),
            examples: "a response action, a playbook target",
        },
    }
}

/// The builder line of the hook a vendor would write next for a capability.
fn next_hook_line(role: Role, topic: &str) -> String {
    let t = ident(topic);
    let words = role_words(role);
    match role {
        Role::Consumer | Role::Producer => format!(
            "Hook::setup(\"setup_{t}_{role}\", setup_{t}_{role}).{}().topic({topic:?}),",
            words.method,
            role = role.as_str()
        ),
        Role::Executor => {
            format!("Hook::execute(\"execute_{t}\", execute_{t}).executor().topic({topic:?}),")
        }
        Role::Trigger => {
            format!("Hook::trigger(\"trigger_{t}\", trigger_{t}).trigger_role().topic({topic:?}),")
        }
    }
}

/// One "hook to write next" line of the generated `hooks()`.
#[derive(serde::Serialize)]
struct NextHook<'a> {
    verb: &'static str,
    topic: &'a str,
    variants: String,
    line: String,
}

fn lib_rs(product: &str, definition: &ProductDefinition) -> String {
    let product_lit = format!("{product:?}");
    let type_name = type_name(product);
    let Some((role, topic)) = configured_capability(definition) else {
        return render(
            LIB_WITHOUT_CAPABILITY,
            minijinja::context! { product, product_lit, type_name },
        );
    };
    let words = role_words(role);
    let t = ident(topic);
    let role_name = role.as_str();
    let next_hooks: Vec<NextHook<'_>> = capabilities(definition)
        .skip(1)
        .map(|(r, other_topic, variants)| NextHook {
            verb: role_words(r).verb,
            topic: other_topic,
            variants,
            line: next_hook_line(r, other_topic),
        })
        .collect();
    let api_key = definition
        .settings
        .iter()
        .any(|s| s.name == "api_key" && s.secret);
    let has_url = definition.settings.iter().any(|s| s.name == "url");
    render(
        LIB,
        minijinja::context! {
            product,
            product_lit,
            type_name,
            topic,
            topic_lit => format!("{topic:?}"),
            api_key,
            has_url,
            next_hooks,
            purpose => [words.purpose.0, words.purpose.1],
            examples => words.examples,
            verb => words.verb,
            method => words.method,
            other_end => words.other_end,
            other => words.other,
            resource_path => format!("/api/{}/{}", topic.to_ascii_lowercase(), words.nouns),
            resource_id => format!("{t}_{}_id", words.noun),
            what => format!("{} of {topic}", words.noun),
            setup => format!("setup_{t}_{role_name}"),
            teardown => format!("teardown_{t}_{role_name}"),
            check => format!("check_{t}_{role_name}"),
        },
    )
}

/// The conformance scenario scaffolded beside the adapter crate (its check
/// hook against a cassette), as `(path below the product folder, text)`;
/// empty when the scaffold writes no check hook (no capability, no `url`).
pub fn scenario_files(product: &str, definition: &ProductDefinition) -> Vec<(String, String)> {
    let Some((role, topic)) = configured_capability(definition) else {
        return Vec::new();
    };
    if !definition.settings.iter().any(|s| s.name == "url") {
        return Vec::new();
    }
    let words = role_words(role);
    let t = ident(topic);
    let check = format!("check_{t}_{}", role.as_str());
    // The plug as the hook sees it: this product at its own end, a peer
    // at the other.
    let own = format!("{product}1");
    let ours = (own.as_str(), product, "{url: \"http://{host}\"}");
    let peer = ("peer1", "peer", "{}");
    let (src, dst) = if words.other_end == "src" {
        (peer, ours)
    } else {
        (ours, peer)
    };
    let host = format!("{}.example.test", product.replace('_', "-"));
    let ctx = minijinja::context! {
        product,
        check => &check,
        host => &host,
        topic_lit => format!("{topic:?}"),
        what => format!("{} of {topic}", words.noun),
        resource_path => format!("/api/{}/{}", topic.to_ascii_lowercase(), words.nouns),
        resource_id => format!("{t}_{}_id", words.noun),
        api_key => definition.settings.iter().any(|s| s.name == "api_key" && s.secret),
        is_trigger => matches!(role, Role::Trigger | Role::Executor),
        src_name => src.0, src_product => src.1, src_settings => src.2.replace("{host}", &host),
        dst_name => dst.0, dst_product => dst.1, dst_settings => dst.2.replace("{host}", &host),
    };
    vec![
        (
            "tests/check.yaml".to_string(),
            render(SCENARIO, ctx.clone()),
        ),
        (
            format!("tests/cassettes/{check}.yaml"),
            render(CASSETTE, ctx),
        ),
    ]
}

/// The scaffold's templates, kept as files beside this module.
const CARGO_TOML: &str = include_str!("scaffold/Cargo.toml.j2");
const LIB: &str = include_str!("scaffold/lib.rs.j2");
const LIB_WITHOUT_CAPABILITY: &str = include_str!("scaffold/lib_without_capability.rs.j2");
const SCENARIO: &str = include_str!("scaffold/scenario.yaml.j2");
const CASSETTE: &str = include_str!("scaffold/cassette.yaml.j2");

/// Renders one of the embedded scaffold templates. They are part of the
/// binary and their variables are all given here, so a failure is a bug
/// caught by the tests; it renders as a compile error in the scaffolded
/// file rather than a panic.
fn render(template: &str, ctx: minijinja::Value) -> String {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.render_str(template, ctx).unwrap_or_else(|e| {
        tracing::error!("scaffold template failed: {e:#}");
        format!(
            "compile_error!({:?});\n",
            format!("meshroom scaffold template failed: {e}")
        )
    })
}

/// A Rust identifier fragment from a topic: lowercase ASCII letters, digits
/// and `_`.
fn ident(word: &str) -> String {
    let s: String = word
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("t_{s}")
    } else {
        s
    }
}

/// The adapter type's name: the product's name in CamelCase.
fn type_name(product: &str) -> String {
    let mut out = String::new();
    for part in product.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Product");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(yaml: &str) -> ProductDefinition {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn edr() -> ProductDefinition {
        let text = std::str::from_utf8(
            &crate::templates::files("edr", "acme_edr")
                .unwrap()
                .into_iter()
                .find(|(p, _)| p.as_os_str() == "definition.yaml")
                .unwrap()
                .1,
        )
        .unwrap()
        .to_string();
        definition(&text)
    }

    #[test]
    fn cargo_toml_names_the_crate_and_the_sdk() {
        let files = adapter_crate_files("Acme SIEM", &ProductDefinition::default(), None);
        let paths: Vec<_> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["Cargo.toml", "src/lib.rs", ".gitignore"]);
        let cargo = &files[0].1;
        assert!(cargo.contains("name = \"acme-siem-adapter\""), "{cargo}");
        assert!(cargo.contains("crate-type = [\"cdylib\"]"), "{cargo}");
        assert!(cargo.contains("meshroom-sdk = { git = "), "{cargo}");
        let files = adapter_crate_files("x", &ProductDefinition::default(), Some("/src/sdk"));
        assert!(
            files[0]
                .1
                .contains("meshroom-sdk = { path = \"/src/sdk\" }")
        );
    }

    #[test]
    fn an_edr_gets_a_threats_consumer_trio_and_its_other_capabilities_listed() {
        let def = edr();
        assert_eq!(
            configured_capability(&def),
            Some((Role::Consumer, "threats"))
        );
        let lib = &adapter_crate_files("acme_edr", &def, None)[1].1;
        for expected in [
            "struct AcmeEdr;",
            "const PRODUCT: &'static str = \"acme_edr\";",
            "const RESOURCE_PATH: &str = \"/api/threats/sources\";",
            "const RESOURCE_ID: &str = \"threats_source_id\";",
            "Hook::setup(\"setup_threats_consumer\", setup_threats_consumer)",
            "Hook::teardown(\"teardown_threats_consumer\", teardown_threats_consumer)",
            "Hook::check(\"check_threats_consumer\", check_threats_consumer)",
            ".owns_both()",
            "let producer = &plug.src;",
            "\"producer\": { \"instance\": producer.name, \"product\": producer.product },",
            "Request::post(collection_url(ctx)?)",
            "Request::delete(resource_url(ctx, id)?)",
            "Request::get(resource_url(ctx, id)?)",
            "request.bearer(&ctx.secret(\"api_key\")?)",
            "PlugState::Down",
            "meshroom_sdk::export!(AcmeEdr);",
            // The other capabilities, in role then file order.
            "//   consumes `detection_rules` (push sigma, push yara):\n            \
             // Hook::setup(\"setup_detection_rules_consumer\", setup_detection_rules_consumer).consumer().topic(\"detection_rules\"),",
            "//   produces `events` (push ocsf, push ecs, push cef, push syslog, pull ocsf):\n            \
             // Hook::setup(\"setup_events_producer\", setup_events_producer).producer().topic(\"events\"),",
            "// Hook::execute(\"execute_contain\", execute_contain).executor().topic(\"contain\"),",
            "// Hook::execute(\"execute_copy\", execute_copy).executor().topic(\"copy\"),",
        ] {
            assert!(lib.contains(expected), "missing `{expected}` in:\n{lib}");
        }
        assert!(
            !lib.contains('@') && !lib.contains("{%") && !lib.contains("{{ "),
            "a marker is left:\n{lib}"
        );
        assert!(!lib.contains("//   consumes `threats`"), "{lib}");
        let listed = lib.matches("            //   ").count();
        assert_eq!(listed, def.capability_map(Role::Producer).len() + 1 + 8);
    }

    #[test]
    fn the_role_follows_the_preference_and_auth_follows_the_settings() {
        let producer = definition(
            "name: p\nsettings:\n  - name: url\nexecutes:\n  deny:\nproduces:\n  alerts:\n    - {mode: pull, format: ocsf}\n",
        );
        assert_eq!(
            configured_capability(&producer),
            Some((Role::Producer, "alerts"))
        );
        let lib = &adapter_crate_files("p", &producer, None)[1].1;
        assert!(lib.contains("\"/api/alerts/destinations\""), "{lib}");
        assert!(lib.contains("let consumer = &plug.dst;"), "{lib}");
        assert!(lib.contains(".producer()"), "{lib}");
        assert!(
            lib.contains("no `api_key` secret setting") && !lib.contains("ctx.secret(\"api_key\")"),
            "{lib}"
        );
        assert!(!lib.contains("no `url` setting"), "{lib}");

        let trigger = definition("name: t\ntriggers:\n  block-ip:\n");
        assert_eq!(
            configured_capability(&trigger),
            Some((Role::Trigger, "block-ip"))
        );
        let lib = &adapter_crate_files("t", &trigger, None)[1].1;
        assert!(lib.contains("fn setup_block_ip_trigger(ctx"), "{lib}");
        assert!(lib.contains(".trigger_role()"), "{lib}");
        assert!(lib.contains(".topic(\"block-ip\")"), "{lib}");
        assert!(lib.contains("no `url` setting"), "{lib}");
        assert!(
            lib.contains("/// `egress: http: [\"{{url}}\"]`), or build the URL"),
            "the egress example is written as is: {lib}"
        );
    }

    #[test]
    fn a_definition_without_capabilities_gets_an_empty_adapter() {
        let lib = &adapter_crate_files("9lives", &ProductDefinition::default(), None)[1].1;
        assert!(lib.contains("struct Product9lives;"), "{lib}");
        assert!(lib.contains("vec![]"), "{lib}");
        assert!(!lib.contains('@'), "{lib}");
    }
}
