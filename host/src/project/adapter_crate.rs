//! The files of a new adapter crate, for `meshroom create product`.

/// The files (relative path, contents) of a new adapter crate for
/// `product`: a `Cargo.toml` building a `wasm32-wasip2` cdylib on
/// `meshroom-sdk`, and a `src/lib.rs` with one setup hook to start from.
///
/// The SDK dependency is the meshroom git repository, or the folder named
/// by `$MESHROOM_SDK_PATH` when set (offline builds, tests).
pub fn adapter_crate_files(product: &str) -> Vec<(String, String)> {
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
    let crate_name = format!("{}-adapter", crate_name.trim_matches('-'));
    let sdk_dep = match std::env::var("MESHROOM_SDK_PATH") {
        Ok(path) if !path.is_empty() => format!("{{ path = {path:?} }}"),
        _ => "{ git = \"https://github.com/meshroom-rs/meshroom\" }".to_string(),
    };
    let cargo = format!(
        r#"[package]
name = "{crate_name}"
version = "0.1.0"
edition = "2024"
publish = false

# An adapter is a WebAssembly component: build it with `meshroom build {product}`
# (or `cargo build --target wasm32-wasip2 --release`).
[lib]
crate-type = ["cdylib"]

[dependencies]
meshroom-sdk = {sdk_dep}
serde_json = "1"

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"

# Keep this crate out of any enclosing cargo workspace.
[workspace]
"#
    );
    let product_lit = format!("{product:?}");
    let lib = format!(
        r#"//! The meshroom adapter of `{product}`: its hooks configure the product
//! when `meshroom up` / `down` run. See the meshroom-sdk documentation.

use meshroom_sdk::http::Request;
use meshroom_sdk::{{Adapter, Context, Hook, Outcome, Result, Value, json}};

struct Product;

impl Adapter for Product {{
    const PRODUCT: &'static str = {product_lit};
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn hooks() -> Vec<Hook> {{
        vec![
            // Runs on `meshroom up` for plugs where this product consumes `events`.
            Hook::setup("setup_events_consumer", setup_events_consumer)
                .consumer()
                .topic("events")
                .title("Configure the product to receive events"),
        ]
    }}
}}

fn setup_events_consumer(ctx: &Context) -> Result<Outcome> {{
    let url = ctx.setting_str("url")?;
    let plug = ctx.plug()?;
    let created: Value = Request::post(format!("{{url}}/api/inputs"))
        .json(&json!({{ "name": format!("meshroom-{{}}", plug.src.name), "topic": plug.topic }}))?
        .send()?
        .error_for_status()?
        .json()?;
    // Recorded on the plug, so a teardown hook can undo it.
    Ok(Outcome::new().output("input_id", created["id"].clone()))
}}

meshroom_sdk::export!(Product);
"#
    );
    vec![
        ("Cargo.toml".to_string(), cargo),
        ("src/lib.rs".to_string(), lib),
        (".gitignore".to_string(), "/target\n".to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_name_the_product() {
        let files = adapter_crate_files("Acme SIEM");
        let paths: Vec<_> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["Cargo.toml", "src/lib.rs", ".gitignore"]);
        assert!(files[0].1.contains("name = \"acme-siem-adapter\""));
        assert!(files[0].1.contains("crate-type = [\"cdylib\"]"));
        assert!(
            files[1]
                .1
                .contains("const PRODUCT: &'static str = \"Acme SIEM\";")
        );
        assert!(files[1].1.contains("meshroom_sdk::export!(Product);"));
    }
}
