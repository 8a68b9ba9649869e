//! The vendor's path, black-box with the real binary: `init`, `create
//! product acme_edr --from edr`, `build` (a real cargo build to
//! wasm32-wasip2 of the scaffolded crate, unedited), then an operator's
//! `add` / `plug` / `plan` / `up` / `check` / `down` against a real HTTP API
//! on 127.0.0.1 that the scaffolded hooks configure.

use std::path::Path;
use std::process::Output;

use crate::support::{Api, fails, meshroom, ok, output_text, walk};
use serde_json::{Value, json};

/// The edr instance's API key (the [`Api`]'s), and the tip's.
const EDR_KEY: &str = "k-123";
const TIP_KEY: &str = "tip-key-5f3a9e";

/// Runs meshroom, asserts success, and keeps its output for the leak check.
fn step(outputs: &mut Vec<String>, project: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out: Output = meshroom(project, args, stdin);
    let text = output_text(&out);
    assert!(out.status.success(), "meshroom {args:?} failed:\n{text}");
    outputs.push(text);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn create_build_plug_up_check_down_with_the_scaffolded_adapter() {
    let api = Api::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    step(&mut outputs, tmp.path(), &["init", "soc"], None);
    let soc = tmp.path().join("soc");
    let root = soc.as_path();

    // The vendor: scaffold from the edr template, build it untouched.
    step(
        &mut outputs,
        root,
        &["create", "product", "acme_edr", "--from", "edr"],
        None,
    );
    let lib = root.join("products/acme_edr/adapter/src/lib.rs");
    let fmt = std::process::Command::new("rustfmt")
        .args(["--check", "--edition", "2024"])
        .arg(&lib)
        .output()
        .expect("rustfmt runs");
    assert!(
        fmt.status.success(),
        "the scaffolded code is rustfmt-clean:\n{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
    step(&mut outputs, root, &["build", "acme_edr"], None);
    assert!(root.join("products/acme_edr/acme_edr.wasm").is_file());
    let definition =
        std::fs::read_to_string(root.join("products/acme_edr/definition.yaml")).unwrap();
    assert!(
        definition.contains("adapter: acme_edr.wasm"),
        "{definition}"
    );
    // Its scaffolded conformance scenario passes offline, untouched.
    let tested = step(&mut outputs, root, &["--json", "test", "acme_edr"], None);
    let tested = json_of(&tested);
    assert_eq!(tested.as_array().map(Vec::len), Some(1), "{tested:#}");
    assert_eq!(tested[0]["passed"], true, "{tested:#}");

    // The operator: a TIP on the other end of a `threats` plug.
    step(
        &mut outputs,
        root,
        &[
            "create",
            "product",
            "acme_tip",
            "--from",
            "tip",
            "--no-adapter",
        ],
        None,
    );
    let edr_url = api.url();
    step(
        &mut outputs,
        root,
        &[
            "add",
            "acme_edr",
            "edr1",
            "-c",
            &format!("url={edr_url}"),
            "-s",
            "api_key",
        ],
        Some(&format!("{EDR_KEY}\n")),
    );
    step(
        &mut outputs,
        root,
        &[
            "add",
            "acme_tip",
            "tip1",
            "-c",
            "url=http://127.0.0.1:9",
            "-s",
            "api_key",
        ],
        Some(&format!("{TIP_KEY}\n")),
    );
    step(
        &mut outputs,
        root,
        &["plug", "threats", "tip1", "edr1"],
        None,
    );
    let plan = step(&mut outputs, root, &["plan"], None);
    assert!(
        plan.contains("setup_threats_consumer on edr1"),
        "the scaffolded setup hook is planned: {plan}"
    );
    assert!(api.requests().is_empty(), "plan must not call the product");

    // up: the API received the POST, authenticated, naming the other end.
    step(&mut outputs, root, &["up"], None);
    let posts: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].path, "/api/threats/sources");
    assert_eq!(
        posts[0].headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {EDR_KEY}").as_str())
    );
    let body: Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(
        body["producer"],
        json!({"instance": "tip1", "product": "acme_tip"})
    );
    assert_eq!(body["topic"], "threats");
    let resources = api.state.lock().unwrap().resources.clone();
    let (path, _) = resources.iter().next().expect("the API holds the source");
    assert_eq!(resources.len(), 1);
    let id = path.rsplit('/').next().unwrap().to_string();
    let plugs = json_of(&step(
        &mut outputs,
        root,
        &["--json", "list", "plugs"],
        None,
    ));
    assert_eq!(plugs.as_array().unwrap().len(), 1, "{plugs}");
    assert_eq!(plugs[0]["status"], "up", "{plugs}");
    assert!(
        plugs[0]
            .to_string()
            .contains(&format!("\"threats_source_id\":\"{id}\"")),
        "the id is recorded on the plug: {plugs}"
    );

    // check: ok while the source exists; drift once it is deleted on the product.
    let check = step(&mut outputs, root, &["check"], None);
    assert!(check.contains("ok") && check.contains("edr1"), "{check}");
    let get = api.requests().into_iter().last().unwrap();
    assert_eq!(
        (get.method.as_str(), get.path.as_str()),
        ("GET", path.as_str())
    );
    let deleted = meshroom_tests::http::delete(&format!("{edr_url}{path}"))
        .bearer(EDR_KEY)
        .send()
        .unwrap();
    assert_eq!(deleted.status, 204);
    let (out, text) = fails(root, &["check"]);
    outputs.push(text.clone());
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("DRIFTED") && text.contains(&format!("source of threats `{id}` is gone")),
        "{text}"
    );

    // Re-created on the product: down deletes exactly the recorded id.
    api.state
        .lock()
        .unwrap()
        .resources
        .insert(path.clone(), json!({"id": id}));
    let before = api.requests().len();
    step(&mut outputs, root, &["down"], None);
    let teardown = &api.requests()[before..];
    assert_eq!(teardown.len(), 1, "{teardown:?}");
    assert_eq!(
        (teardown[0].method.as_str(), teardown[0].path.as_str()),
        ("DELETE", path.as_str())
    );
    assert_eq!(
        teardown[0].headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {EDR_KEY}").as_str())
    );
    assert!(api.state.lock().unwrap().resources.is_empty());
    let plugs = json_of(&ok(root, &["--json", "list", "plugs"]));
    assert_eq!(plugs[0]["status"], "down", "{plugs}");
    assert!(
        !plugs[0].to_string().contains("threats_source_id"),
        "{plugs}"
    );

    // The API keys never reach the project's files or any output.
    for file in walk(root) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for key in [EDR_KEY, TIP_KEY] {
            assert!(!text.contains(key), "plaintext key in {}", file.display());
        }
    }
    for text in &outputs {
        assert!(
            !text.contains(EDR_KEY) && !text.contains(TIP_KEY),
            "a key in the output:\n{text}"
        );
    }
}

#[test]
fn build_without_the_wasm_target_says_which_rustup_command_to_run() {
    // A rustup that lists no wasm32-wasip2: build stops before cargo runs.
    let tmp = tempfile::tempdir().unwrap();
    ok(tmp.path(), &["init", "soc"]);
    let root = tmp.path().join("soc");
    ok(&root, &["create", "product", "acme_edr", "--from", "edr"]);
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let rustup = bin.join("rustup");
    std::fs::write(&rustup, "#!/bin/sh\necho x86_64-unknown-linux-gnu\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rustup, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshroom"))
        .arg("-p")
        .arg(&root)
        .args(["build", "acme_edr"])
        .env("PATH", path)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("run `rustup target add wasm32-wasip2`"),
        "{text}"
    );
    assert!(!root.join("products/acme_edr/adapter/target").exists());
}
