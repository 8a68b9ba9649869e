//! The example adapter's built component, for the benches that call it
//! (`#[path]`: not a bench itself). Build it first with
//! `scripts/build-adapters.sh`.

/// The bytes of `adapters/example-http`'s component.
pub fn example_http_wasm() -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../adapters/target/wasm32-wasip2/release/example_http.wasm");
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-adapters.sh", path.display()))
}
