//! The adapter crate `meshroom create product` writes in `products/X/adapter/`:
//! a cargo crate on meshroom-sdk, built for `wasm32-wasip2`, whose hooks are
//! tailored to the product's definition so that it builds and runs at once.
//!
//! For the definition's first capability worth configuring (see
//! [`configured_capability`]) it writes a complete setup / teardown / check
//! trio against a REST resource of the product's API, and for each other
//! capability the builder line of the hook to write next.

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
    format!(
        r#"[package]
name = "{crate_name}-adapter"
version = "0.1.0"
edition = "2024"
publish = false

# An adapter is a WebAssembly component: build it with `meshroom build {product}`
# (or `cargo build --target wasm32-wasip2 --release`).
[lib]
crate-type = ["cdylib"]

[dependencies]
# Re-exports serde_json (`meshroom_sdk::serde_json`, `json!`, `Value`).
meshroom-sdk = {sdk_dep}

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"

# Keep this crate out of any enclosing cargo workspace.
[workspace]
"#
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
    /// What the resource lets the product do, with `@TOPIC@` in it.
    purpose: &'static str,
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
            purpose: "receive `@TOPIC@` from the producer",
            examples: "a feed, an input, a subscription",
        },
        Role::Producer => RoleWords {
            method: "producer",
            verb: "produces",
            other: "consumer",
            other_end: "dst",
            noun: "destination",
            nouns: "destinations",
            purpose: "send `@TOPIC@` to the consumer",
            examples: "a forwarder, a webhook, an export",
        },
        Role::Executor => RoleWords {
            method: "executor",
            verb: "executes",
            other: "trigger",
            other_end: "src",
            noun: "caller",
            nouns: "callers",
            purpose: "run the trigger's `@TOPIC@` commands",
            examples: "an API client, a response connector",
        },
        Role::Trigger => RoleWords {
            method: "trigger_role",
            verb: "triggers",
            other: "executor",
            other_end: "dst",
            noun: "target",
            nouns: "targets",
            purpose: "send `@TOPIC@` commands to the executor",
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

fn lib_rs(product: &str, definition: &ProductDefinition) -> String {
    let Some((role, topic)) = configured_capability(definition) else {
        return fill(
            NO_CAPABILITY,
            &[
                ("@PRODUCT@", product.to_string()),
                ("@PRODUCT_LIT@", format!("{product:?}")),
                ("@TYPE@", type_name(product)),
            ],
        );
    };
    let words = role_words(role);
    let t = ident(topic);
    let role_name = role.as_str();
    let mut next = String::new();
    for (r, other_topic, variants) in capabilities(definition).skip(1) {
        next.push_str(&format!(
            "            //   {} `{other_topic}` ({variants}):\n            // {}\n",
            role_words(r).verb,
            next_hook_line(r, other_topic)
        ));
    }
    if !next.is_empty() {
        next.insert_str(
            0,
            "            // Hooks to write next, one per other capability of the definition\n\
             \x20           // (setup: fn(&Context) -> Result<Outcome>; execute, trigger:\n\
             \x20           // fn(&Context, Value) -> Result<Value>):\n",
        );
    }
    let has_secret = |name: &str| {
        definition
            .settings
            .iter()
            .any(|s| s.name == name && s.secret)
    };
    let authenticated = if has_secret("api_key") {
        AUTH_API_KEY
    } else {
        AUTH_NONE
    };
    let url_note = if definition.settings.iter().any(|s| s.name == "url") {
        ""
    } else {
        "///\n/// CHANGE ME: the definition declares no `url` setting: add one (and\n\
         /// `egress: http: [\"{{url}}\"]`), or build the URL from its own settings.\n"
    };
    fill(
        TRIO,
        &[
            ("@AUTHENTICATED@", authenticated.to_string()),
            ("@URL_NOTE@", url_note.to_string()),
            ("@NEXT_HOOKS@", next),
            ("@PURPOSE@", words.purpose.to_string()),
            ("@EXAMPLES@", words.examples.to_string()),
            ("@PRODUCT_LIT@", format!("{product:?}")),
            ("@PRODUCT@", product.to_string()),
            ("@TYPE@", type_name(product)),
            ("@VERB@", words.verb.to_string()),
            ("@METHOD@", words.method.to_string()),
            ("@OTHER_END@", words.other_end.to_string()),
            ("@OTHER@", words.other.to_string()),
            (
                "@RESOURCE_PATH@",
                format!("/api/{}/{}", topic.to_ascii_lowercase(), words.nouns),
            ),
            ("@RESOURCE_ID@", format!("{t}_{}_id", words.noun)),
            ("@WHAT@", format!("{} of {topic}", words.noun)),
            ("@SETUP@", format!("setup_{t}_{role_name}")),
            ("@TEARDOWN@", format!("teardown_{t}_{role_name}")),
            ("@CHECK@", format!("check_{t}_{role_name}")),
            ("@TOPIC_LIT@", format!("{topic:?}")),
            ("@TOPIC@", topic.to_string()),
        ],
    )
}

/// `template` with each marker replaced, in order (markers whose values
/// contain later markers are listed first).
fn fill(template: &str, markers: &[(&str, String)]) -> String {
    markers
        .iter()
        .fold(template.to_string(), |text, (marker, value)| {
            text.replace(marker, value)
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

const AUTH_API_KEY: &str = r#"/// Authenticates a request with the instance's `api_key` secret as a bearer
/// token. CHANGE ME if the API expects another scheme, e.g.
/// `request.header("x-api-key", ctx.secret("api_key")?)`.
fn authenticated(ctx: &Context, request: Request) -> Result<Request> {
    Ok(request.bearer(&ctx.secret("api_key")?))
}"#;

const AUTH_NONE: &str = r#"/// CHANGE ME: the definition declares no `api_key` secret setting; add the
/// product's authentication here, e.g. `request.bearer(&ctx.secret("token")?)`.
fn authenticated(_ctx: &Context, request: Request) -> Result<Request> {
    Ok(request)
}"#;

/// `src/lib.rs` with a setup / teardown / check trio.
const TRIO: &str = r#"//! The meshroom adapter of `@PRODUCT@`: its hooks configure the product when
//! `meshroom up`, `down` and `check` run on its plugs.
//!
//! `meshroom create product` wrote it from the product's definition: a
//! complete setup / teardown / check trio for plugs where @PRODUCT@ @VERB@
//! `@TOPIC@`, against a REST resource at `RESOURCE_PATH`, and the hooks to
//! write next for its other capabilities. Make the requests match the
//! product's API (look for CHANGE ME), then run `meshroom build @PRODUCT@`.
//! The meshroom-sdk documentation (`cargo doc --open`) has the rest.

use meshroom_sdk::http::Request;
use meshroom_sdk::{
    Adapter, CheckReport, Context, Error, Hook, Outcome, PlugState, Result, Value, json,
};

/// CHANGE ME: the path, under the instance's `url` setting, of the API
/// collection where setup creates, for each plug, what lets @PRODUCT@
/// @PURPOSE@ (@EXAMPLES@…).
/// Teardown deletes `RESOURCE_PATH/{id}`, check reads it.
const RESOURCE_PATH: &str = "@RESOURCE_PATH@";

/// The plug output where setup records the id of the resource it created.
const RESOURCE_ID: &str = "@RESOURCE_ID@";

struct @TYPE@;

impl Adapter for @TYPE@ {
    const PRODUCT: &'static str = @PRODUCT_LIT@;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn hooks() -> Vec<Hook> {
        vec![
            // Plugs where @PRODUCT@ @VERB@ `@TOPIC@`: `meshroom up` runs the setup hook,
            // `down` the teardown, `check` the check. `.owns_both()`: this setup alone
            // configures the plug, so any @OTHER@ can be plugged in; remove it when the
            // @OTHER@'s adapter must set up its own side too.
            Hook::setup("@SETUP@", @SETUP@)
                .@METHOD@()
                .topic(@TOPIC_LIT@)
                .owns_both()
                .title("Create a @WHAT@ for the @OTHER@"),
            Hook::teardown("@TEARDOWN@", @TEARDOWN@)
                .@METHOD@()
                .topic(@TOPIC_LIT@)
                .title("Delete the @WHAT@ that setup created"),
            Hook::check("@CHECK@", @CHECK@)
                .@METHOD@()
                .topic(@TOPIC_LIT@)
                .title("Check that the @WHAT@ still exists"),
@NEXT_HOOKS@        ]
    }
}

/// Creates the @WHAT@ naming the other end of the plug (the @OTHER@),
/// and records its id on the plug for teardown and check.
fn @SETUP@(ctx: &Context) -> Result<Outcome> {
    let plug = ctx.plug()?;
    let @OTHER@ = &plug.@OTHER_END@;
    // CHANGE ME: the body the product's API expects.
    let body = json!({
        "name": format!("meshroom {} -> {} ({})", plug.src.name, plug.dst.name, plug.topic),
        "topic": plug.topic,
        "format": plug.format,
        "@OTHER@": { "instance": @OTHER@.name, "product": @OTHER@.product },
    });
    let created: Value = authenticated(ctx, Request::post(collection_url(ctx)?))?
        .json(&body)?
        .send()?
        .error_for_status()?
        .json()?;
    let id = match &created["id"] {
        Value::String(id) => id.clone(),
        Value::Number(id) => id.to_string(),
        _ => {
            return Err(Error::failed(format!(
                "POST {RESOURCE_PATH} answered without an `id`: {created}"
            )));
        }
    };
    Ok(Outcome::new().output(RESOURCE_ID, id))
}

/// Deletes the @WHAT@ that setup created, by the id it recorded.
fn @TEARDOWN@(ctx: &Context) -> Result<Outcome> {
    let id = ctx.output_str(RESOURCE_ID)?;
    let response = authenticated(ctx, Request::delete(resource_url(ctx, id)?))?.send()?;
    // 404: already gone from the product, nothing left to undo.
    if response.status != 404 {
        response.error_for_status()?;
    }
    Ok(Outcome::new().clear_output(RESOURCE_ID))
}

/// Reads the @WHAT@ that setup created: gone means the plug is down
/// on the product, which `meshroom check` reports as drift.
fn @CHECK@(ctx: &Context) -> Result<CheckReport> {
    let id = ctx.output_str(RESOURCE_ID)?;
    let response = authenticated(ctx, Request::get(resource_url(ctx, id)?))?.send()?;
    if response.status == 404 {
        let detail = format!("@WHAT@ `{id}` is gone");
        return Ok(CheckReport::new(PlugState::Down, detail));
    }
    response.error_for_status()?;
    let detail = format!("@WHAT@ `{id}` present");
    Ok(CheckReport::new(PlugState::Up, detail))
}

/// `{url}RESOURCE_PATH`, where `url` is the instance's setting.
@URL_NOTE@fn collection_url(ctx: &Context) -> Result<String> {
    let url = ctx.setting_str("url")?.trim_end_matches('/');
    Ok(format!("{url}{RESOURCE_PATH}"))
}

/// The URL of one resource of the collection.
fn resource_url(ctx: &Context, id: &str) -> Result<String> {
    Ok(format!("{}/{id}", collection_url(ctx)?))
}

@AUTHENTICATED@

meshroom_sdk::export!(@TYPE@);
"#;

/// `src/lib.rs` for a definition without capabilities.
const NO_CAPABILITY: &str = r#"//! The meshroom adapter of `@PRODUCT@`: its hooks configure the product when
//! `meshroom up`, `down` and `check` run on its plugs. The meshroom-sdk
//! documentation (`cargo doc --open`) shows a complete adapter.

use meshroom_sdk::{Adapter, Hook};

struct @TYPE@;

impl Adapter for @TYPE@ {
    const PRODUCT: &'static str = @PRODUCT_LIT@;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn hooks() -> Vec<Hook> {
        // The definition declares no capability yet: add one, e.g.
        // `meshroom create capability @PRODUCT@ events consumer`, then its hooks
        // here, e.g. (with `fn setup_events_consumer(ctx: &Context) -> Result<Outcome>`):
        // Hook::setup("setup_events_consumer", setup_events_consumer).consumer().topic("events"),
        vec![]
    }
}

meshroom_sdk::export!(@TYPE@);
"#;

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
        assert!(!lib.contains('@'), "a marker is left:\n{lib}");
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
    }

    #[test]
    fn a_definition_without_capabilities_gets_an_empty_adapter() {
        let lib = &adapter_crate_files("9lives", &ProductDefinition::default(), None)[1].1;
        assert!(lib.contains("struct Product9lives;"), "{lib}");
        assert!(lib.contains("vec![]"), "{lib}");
        assert!(!lib.contains('@'), "{lib}");
    }
}
