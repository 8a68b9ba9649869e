//! Black-box tests of the `meshroom` binary on temporary projects: its
//! output (snapshots), exit codes, and the files it writes.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_meshroom");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/original_project")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// A copy of the project written by the original Meshroom, in a temp dir.
fn original_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(), dir.path());
    dir
}

/// Every file below `dir` (except .git, and .meshroom: the gitignored local
/// state, where every writer's lock file is) with its contents.
fn snapshot_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_name() == ".git" || entry.file_name() == ".meshroom" {
                continue;
            }
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

struct Run {
    out: Output,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    #[track_caller]
    fn ok(self) -> Self {
        assert!(
            self.out.status.success(),
            "expected success, got {:?}\nstdout:\n{}\nstderr:\n{}",
            self.out.status,
            self.stdout(),
            self.stderr()
        );
        self
    }
    #[track_caller]
    fn fails(self) -> Self {
        assert_eq!(
            self.out.status.code(),
            Some(1),
            "expected exit code 1\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        assert!(!self.stderr().contains("panicked"), "{}", self.stderr());
        self
    }
}

/// Runs `meshroom -p <project> args…` with stdin closed (no terminal).
fn meshroom(project: &Path, args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .arg("-p")
        .arg(project)
        .args(args)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    Run { out }
}

/// The stderr of a run with the temp folder replaced by `[PROJECT]`.
fn stderr_of(run: &Run, project: &Path) -> String {
    run.stderr()
        .replace(&project.display().to_string(), "[PROJECT]")
}

// ----- init ---------------------------------------------------------------

#[test]
fn init_creates_a_git_project_and_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    meshroom(tmp.path(), &["init", "mesh"]).ok();
    let dir = tmp.path().join("mesh");
    for p in ["products", "instances", ".git"] {
        assert!(dir.join(p).is_dir(), "{p} missing");
    }
    let gitignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(gitignore.contains(".meshroom/"), "{gitignore}");
    assert!(
        std::fs::read_to_string(dir.join("README.md"))
            .unwrap()
            .starts_with("# mesh\n")
    );
    let before = snapshot_tree(&dir);
    let again = meshroom(&dir, &["init"]).ok();
    assert!(
        again.stderr().contains("already a meshroom project"),
        "{}",
        again.stderr()
    );
    assert_eq!(
        snapshot_tree(&dir),
        before,
        "re-running init changes nothing"
    );
}

#[test]
fn init_refuses_a_non_empty_folder_that_is_not_a_project() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let run = meshroom(tmp.path(), &["init"]).fails();
    assert!(
        run.stderr()
            .contains("is not empty and is not a meshroom project"),
        "{}",
        run.stderr()
    );
    assert!(!tmp.path().join("products").exists());
}

#[test]
fn commands_outside_a_project_say_how_to_start_one() {
    let tmp = tempfile::tempdir().unwrap();
    let run = meshroom(tmp.path(), &["list", "products"]).fails();
    assert!(
        run.stderr().contains("run `meshroom init` there first"),
        "{}",
        run.stderr()
    );
}

// ----- a project written by the original --------------------------------

#[test]
fn original_project_lists_unchanged() {
    let dir = original_project();
    let before = snapshot_tree(dir.path());
    let products = meshroom(dir.path(), &["list", "products", "-w"]).ok();
    insta::assert_snapshot!("original_products", products.stdout());
    let integrations = meshroom(dir.path(), &["list", "integrations"]).ok();
    insta::assert_snapshot!("original_integrations", integrations.stdout());
    let instances = meshroom(dir.path(), &["list", "instances"]).ok();
    insta::assert_snapshot!("original_instances", instances.stdout());
    let plugs = meshroom(dir.path(), &["list", "plugs", "-w"]).ok();
    insta::assert_snapshot!("original_plugs", plugs.stdout());
    assert_eq!(snapshot_tree(dir.path()), before, "listing writes nothing");
}

#[test]
fn unbuilt_python_hook_files_are_warned_about_once() {
    let dir = original_project();
    let run = meshroom(dir.path(), &["list", "products"]).ok();
    let err = run.stderr();
    assert_eq!(err.matches("Python hook file").count(), 1, "{err}");
    assert!(err.contains("products/myproduct/setup.py"), "{err}");
    assert!(err.contains("meshroom build myproduct"), "{err}");
    // Commands that read no product folder have nothing to say of them.
    let run = meshroom(dir.path(), &["list", "plugs"]).ok();
    assert!(
        !run.stderr().contains("Python hook file"),
        "{}",
        run.stderr()
    );
}

#[test]
fn listings_filter_and_print_json() {
    let dir = original_project();
    let run = meshroom(dir.path(), &["--json", "list", "plugs", "otherproduct"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let plugs = v.as_array().unwrap();
    assert_eq!(plugs.len(), 1);
    assert_eq!(plugs[0]["topic"], "stuff");
    assert_eq!(plugs[0]["mode"], "pull");
    assert_eq!(plugs[0]["status"], "up");
    assert_eq!(plugs[0]["settings"]["feed_id"], 1234);
    assert_eq!(plugs[0]["src_product"], "otherproduct");

    let run = meshroom(
        dir.path(),
        &["--json", "list", "integrations", "myproduct", "-t", "stuff"],
    )
    .ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 1, "{v:#}");
    assert_eq!(list[0]["generic"], false);
    assert_eq!(list[0]["format"], "json");
    assert_eq!(list[0]["setup"], "none");
    assert_eq!(list[0]["plugs"], 1);

    let run = meshroom(
        dir.path(),
        &["--json", "list", "instances", "-p", "otherproduct"],
    )
    .ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["otherproduct", "otherproduct2"]);

    let run = meshroom(dir.path(), &["--json", "list", "products", "other"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v[0]["name"], "otherproduct");
    assert_eq!(
        v[0]["instances"],
        serde_json::json!(["otherproduct", "otherproduct2"])
    );
}

#[test]
fn unknown_names_suggest_the_closest() {
    let dir = original_project();
    let run = meshroom(dir.path(), &["list", "integrations", "myprodcut"]).fails();
    assert!(
        run.stderr()
            .contains("unknown product `myprodcut`; did you mean `myproduct`?"),
        "{}",
        run.stderr()
    );
    let run = meshroom(
        dir.path(),
        &["plug", "events", "otherproduct3", "myproduct"],
    )
    .fails();
    assert!(
        run.stderr()
            .contains("unknown instance `otherproduct3`; did you mean one of"),
        "{}",
        run.stderr()
    );
}

#[test]
fn malformed_yaml_is_reported_with_file_line_and_column() {
    let dir = original_project();
    let def = dir.path().join("products/otherproduct/definition.yaml");
    std::fs::write(&def, "name: otherproduct\nproduces:\n  stuff: [\n").unwrap();
    let before = snapshot_tree(dir.path());
    let run = meshroom(dir.path(), &["add", "otherproduct", "x3"]).fails();
    let err = stderr_of(&run, dir.path());
    assert!(
        err.contains("invalid YAML in `[PROJECT]/products/otherproduct/definition.yaml` at line"),
        "{err}"
    );
    assert!(err.contains("column"), "{err}");
    assert_eq!(snapshot_tree(dir.path()), before, "nothing written");
}

// ----- create -------------------------------------------------------------

#[test]
fn create_product_from_a_template_folder_and_embedded_templates() {
    let dir = original_project();
    let tpl = tempfile::tempdir().unwrap();
    std::fs::write(
        tpl.path().join("definition.yaml"),
        "name: {{NAME}}\ndescription: A {{NAME}} SIEM\ntags: [siem]\nconsumes:\n  events:\n    - format: ecs\n",
    )
    .unwrap();
    meshroom(
        dir.path(),
        &[
            "create",
            "product",
            "acme",
            "--from",
            tpl.path().to_str().unwrap(),
        ],
    )
    .ok();
    let text = std::fs::read_to_string(dir.path().join("products/acme/definition.yaml")).unwrap();
    assert_eq!(
        text,
        "name: acme\ndescription: A acme SIEM\ntags: [siem]\nconsumes:\n  events:\n    - format: ecs\n"
    );
    let cargo =
        std::fs::read_to_string(dir.path().join("products/acme/adapter/Cargo.toml")).unwrap();
    assert!(
        cargo.contains("meshroom-sdk"),
        "an adapter crate is scaffolded: {cargo}"
    );
    assert!(
        dir.path()
            .join("products/acme/adapter/src/lib.rs")
            .is_file()
    );
    meshroom(dir.path(), &["create", "product", "bare", "--no-adapter"]).ok();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("products/bare/definition.yaml")).unwrap(),
        "name: bare\ntags: []\n"
    );
    assert!(!dir.path().join("products/bare/adapter").exists());
    // Creating it again is a no-op.
    let run = meshroom(dir.path(), &["create", "product", "acme"]).ok();
    assert!(run.stderr().contains("already exists"), "{}", run.stderr());

    // Every embedded template creates a product whose definition loads.
    let run = meshroom(dir.path(), &["--json", "list", "templates"]).ok();
    let templates: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    for t in templates.as_array().unwrap() {
        let category = t["name"].as_str().unwrap();
        let name = format!("my_{category}");
        meshroom(
            dir.path(),
            &["create", "product", &name, "--from", category],
        )
        .ok();
        let listed = meshroom(dir.path(), &["--json", "list", "products", &name]).ok();
        let v: serde_json::Value = serde_json::from_str(&listed.stdout()).unwrap();
        assert_eq!(v[0]["name"], name.as_str());
        assert!(
            !v[0]["capabilities"].as_array().unwrap().is_empty(),
            "{category}"
        );
    }

    let run = meshroom(
        dir.path(),
        &["create", "product", "x", "--from", "no_such_category"],
    )
    .fails();
    assert!(
        run.stderr().contains("unknown template `no_such_category`"),
        "{}",
        run.stderr()
    );
    assert!(!dir.path().join("products/x").exists());
}

#[test]
fn invalid_names_never_touch_the_disk() {
    let dir = original_project();
    let before = snapshot_tree(dir.path());
    for args in [
        vec!["create", "product", "../escape"],
        vec!["create", "product", "a/b"],
        vec!["create", "capability", "myproduct", "../x", "consumer"],
        vec!["add", "myproduct", ".."],
        vec!["add", "myproduct", "bad name"],
    ] {
        let run = meshroom(dir.path(), &args).fails();
        assert!(
            run.stderr().contains("invalid"),
            "{args:?}: {}",
            run.stderr()
        );
    }
    assert_eq!(snapshot_tree(dir.path()), before);
    assert!(!dir.path().parent().unwrap().join("escape").exists());
}

#[test]
fn create_integration_writes_the_manifest_and_both_capabilities() {
    let dir = original_project();
    meshroom(
        dir.path(),
        &[
            "create",
            "integration",
            "myproduct",
            "otherproduct",
            "alerts",
            "consumer",
            "-f",
            "ocsf",
        ],
    )
    .ok();
    let path = dir
        .path()
        .join("products/myproduct/integrations/otherproduct/alerts_consumer_ocsf.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    insta::assert_snapshot!("integration_manifest", text);
    let other =
        std::fs::read_to_string(dir.path().join("products/otherproduct/definition.yaml")).unwrap();
    assert!(other.contains("alerts:\n  - format: ocsf"), "{other}");
    // The original's extra keys survive the rewrite.
    assert!(
        other.contains("url: https://other.example/api/stuff"),
        "{other}"
    );
    let before = snapshot_tree(dir.path());
    let again = meshroom(
        dir.path(),
        &[
            "create",
            "integration",
            "myproduct",
            "otherproduct",
            "alerts",
            "consumer",
            "-f",
            "ocsf",
        ],
    )
    .ok();
    assert!(
        again.stderr().contains("already exists"),
        "{}",
        again.stderr()
    );
    assert_eq!(snapshot_tree(dir.path()), before);

    let run = meshroom(
        dir.path(),
        &[
            "list",
            "integrations",
            "otherproduct",
            "myproduct",
            "-t",
            "alerts",
        ],
    )
    .ok();
    assert!(
        run.stdout()
            .contains("otherproduct  myproduct       alerts  producer  push  ocsf    generic"),
        "{}",
        run.stdout()
    );
}

#[test]
fn create_capability_adds_once() {
    let dir = original_project();
    meshroom(
        dir.path(),
        &[
            "create",
            "capability",
            "otherproduct",
            "deny",
            "executor",
            "-f",
            "ip",
        ],
    )
    .ok();
    let run = meshroom(
        dir.path(),
        &[
            "create",
            "capability",
            "otherproduct",
            "deny",
            "executor",
            "-f",
            "ip",
        ],
    )
    .ok();
    assert!(
        run.stderr()
            .contains("already has capability `deny executor (ip)`"),
        "{}",
        run.stderr()
    );
    let text =
        std::fs::read_to_string(dir.path().join("products/otherproduct/definition.yaml")).unwrap();
    assert_eq!(text.matches("deny:").count(), 1, "{text}");
}

// ----- instances ----------------------------------------------------------

fn siem_project() -> tempfile::TempDir {
    let dir = original_project();
    std::fs::create_dir_all(dir.path().join("products/siem")).unwrap();
    std::fs::write(
        dir.path().join("products/siem/definition.yaml"),
        r#"name: siem
settings:
  - name: url
    required: true
    description: base URL
  - name: port
    type: integer
    default: 514
  - name: ratio
    type: number
  - name: verify_tls
    type: boolean
  - name: indexes
    type: array
    items: string
  - name: labels
    type: object
  - name: api_key
    secret: true
  - name: bouncer_token
consumes:
  events:
    - format: ecs
"#,
    )
    .unwrap();
    dir
}

#[test]
fn add_parses_settings_by_type() {
    let dir = siem_project();
    meshroom(
        dir.path(),
        &[
            "add",
            "siem",
            "soc1",
            "-c",
            "url=https://siem.example",
            "-c",
            "port=6514",
            "-c",
            "ratio=0.5",
            "-c",
            "verify_tls=false",
            "-c",
            "indexes=a,b",
            "-c",
            r#"labels={"env":"prod"}"#,
        ],
    )
    .ok();
    let text = std::fs::read_to_string(dir.path().join("instances/siem/soc1/config.yaml")).unwrap();
    insta::assert_snapshot!("typed_settings", text);

    meshroom(dir.path(), &["configure", "soc1", "-c", "port=7000"]).ok();
    let text = std::fs::read_to_string(dir.path().join("instances/siem/soc1/config.yaml")).unwrap();
    assert!(text.contains("port: 7000"), "{text}");
    assert!(text.contains("url: https://siem.example"), "{text}");
}

#[test]
fn add_without_terminal_names_missing_required_settings() {
    let dir = siem_project();
    let run = meshroom(dir.path(), &["add", "siem", "soc1"]).fails();
    assert!(
        run.stderr().contains(
            "missing required setting `url` for instance `soc1` of `siem`: pass -c url=…"
        ),
        "{}",
        run.stderr()
    );
    assert!(!dir.path().join("instances/siem/soc1").exists());
}

#[test]
fn bad_setting_values_and_names_are_refused() {
    let dir = siem_project();
    let run = meshroom(
        dir.path(),
        &["add", "siem", "soc1", "-c", "url=x", "-c", "port=many"],
    )
    .fails();
    assert!(
        run.stderr()
            .contains("setting `port` expects an integer, got `many`"),
        "{}",
        run.stderr()
    );
    let run = meshroom(
        dir.path(),
        &["add", "siem", "soc1", "-c", "url=x", "-c", "prot=1"],
    )
    .fails();
    assert!(
        run.stderr()
            .contains("unknown setting `prot` for product `siem`; did you mean `port`?"),
        "{}",
        run.stderr()
    );
    let run = meshroom(dir.path(), &["add", "siem", "soc1", "-c", "url"]).fails();
    assert!(
        run.stderr().contains("expected KEY=VALUE"),
        "{}",
        run.stderr()
    );
    assert!(!dir.path().join("instances/siem/soc1").exists());
}

#[test]
fn secrets_are_refused_never_written_in_plaintext() {
    let dir = siem_project();
    for args in [
        vec![
            "add",
            "siem",
            "soc1",
            "-c",
            "url=x",
            "-c",
            "api_key=hunter2-secret-value",
        ],
        vec![
            "add",
            "siem",
            "soc1",
            "-c",
            "url=x",
            "-c",
            "bouncer_token=hunter2-secret-value",
        ],
        vec!["add", "siem", "soc1", "-c", "url=x", "-s", "api_key"],
    ] {
        let run = meshroom(dir.path(), &args).fails();
        assert!(
            run.stderr().contains("is secret")
                || run
                    .stderr()
                    .contains("no recipient to encrypt the secrets to"),
            "{args:?}: {}",
            run.stderr()
        );
        assert!(
            !run.stderr().contains("hunter2"),
            "the value is never echoed"
        );
    }
    assert!(!dir.path().join("instances/siem/soc1").exists());
    for (path, bytes) in snapshot_tree(dir.path()) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("hunter2"),
            "{path}"
        );
    }
}

#[test]
fn remove_refuses_instances_with_plugs_up_and_cleans_up_otherwise() {
    let dir = original_project();
    let run = meshroom(dir.path(), &["remove", "myproduct"]).fails();
    assert!(
        run.stderr().contains("run `meshroom down` first"),
        "{}",
        run.stderr()
    );
    assert!(dir.path().join("instances/myproduct/myproduct").exists());
    meshroom(dir.path(), &["remove", "otherproduct2", "otherproduct"]).ok();
    assert!(
        !dir.path()
            .join("instances/otherproduct/otherproduct2")
            .exists()
    );
    let run = meshroom(dir.path(), &["--json", "list", "plugs"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

// ----- plugs ----------------------------------------------------------------

#[test]
fn plug_without_setup_hooks_is_refused_with_the_fix() {
    let dir = original_project();
    meshroom(
        dir.path(),
        &["create", "capability", "myproduct", "events", "consumer"],
    )
    .ok();
    let before = snapshot_tree(dir.path());
    let run = meshroom(
        dir.path(),
        &["plug", "events", "otherproduct", "myproduct", "-m", "push"],
    )
    .fails();
    insta::assert_snapshot!("plug_refusal", stderr_of(&run, dir.path()));
    assert_eq!(
        snapshot_tree(dir.path()),
        before,
        "a refusal writes nothing"
    );
}

#[test]
fn replugging_is_a_no_op() {
    let dir = original_project();
    let before = snapshot_tree(dir.path());
    let run = meshroom(
        dir.path(),
        &["plug", "stuff", "otherproduct", "myproduct", "-m", "pull"],
    )
    .ok();
    assert!(
        run.stderr().contains("already plugged: nothing to do"),
        "{}",
        run.stderr()
    );
    assert_eq!(snapshot_tree(dir.path()), before);
}

#[test]
fn unplug_refuses_up_plugs_unless_forced_and_removes_empty_folders() {
    let dir = original_project();
    let run = meshroom(
        dir.path(),
        &["unplug", "stuff", "otherproduct", "myproduct"],
    )
    .fails();
    assert!(
        run.stderr().contains("is up: run `meshroom down`"),
        "{}",
        run.stderr()
    );
    meshroom(
        dir.path(),
        &["unplug", "events", "otherproduct2", "myproduct"],
    )
    .ok();
    assert!(
        !dir.path()
            .join("instances/otherproduct/otherproduct2/plugs")
            .exists()
    );
    let run = meshroom(
        dir.path(),
        &["unplug", "events", "otherproduct2", "myproduct"],
    )
    .fails();
    assert!(
        run.stderr()
            .contains("no plug otherproduct2 --[events]-> myproduct"),
        "{}",
        run.stderr()
    );
    meshroom(
        dir.path(),
        &["unplug", "stuff", "otherproduct", "myproduct", "--force"],
    )
    .ok();
    assert!(
        !dir.path()
            .join("instances/otherproduct/otherproduct/plugs")
            .exists()
    );
}

// ----- graph ----------------------------------------------------------------

#[test]
fn graph_draws_the_mesh_and_the_capabilities() {
    let dir = original_project();
    let dot = meshroom(dir.path(), &["graph"]).ok();
    insta::assert_snapshot!("graph_dot", dot.stdout());
    let mermaid = meshroom(dir.path(), &["graph", "--format", "mermaid"]).ok();
    insta::assert_snapshot!("graph_mermaid", mermaid.stdout());
    let caps = meshroom(dir.path(), &["graph", "--capabilities", "--format", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&caps.stdout()).unwrap();
    assert_eq!(v["nodes"].as_array().unwrap().len(), 2);
    let edges = v["edges"].as_array().unwrap();
    assert!(
        edges.iter().any(|e| e["from"] == "otherproduct"
            && e["to"] == "myproduct"
            && e["label"] == "events, stuff (pull)"),
        "{v:#}"
    );
    let svg = meshroom(dir.path(), &["graph", "--format", "svg"]).ok();
    assert!(svg.stdout().contains("<svg"), "Graphviz renders SVG");
    assert!(svg.stdout().contains("otherproduct2"));
}

#[test]
fn svg_without_graphviz_says_what_to_install() {
    let dir = original_project();
    let out = Command::new(BIN)
        .args([
            "-p",
            dir.path().to_str().unwrap(),
            "graph",
            "--format",
            "svg",
        ])
        .env("PATH", "/nonexistent")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs Graphviz's `dot`, which is not installed"),
        "{err}"
    );
}

// ----- misc -----------------------------------------------------------------

#[test]
fn version_help_and_completions() {
    let out = Command::new(BIN).arg("-v").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("meshroom "));
    let out = Command::new(BIN).args(["plug", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Plug two instances together for a topic"),
        "{help}"
    );
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("meshroom"));
}

/// On a real terminal (a pty from util-linux `script`), settings are
/// prompted, typed, re-asked when invalid, and defaults kept on Enter.
#[test]
fn add_prompts_on_a_terminal() {
    let dir = siem_project();
    let cmd = format!("{BIN} -p {} add siem soc1", dir.path().display());
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env(
            "MESHROOM_SECRETS_PASSPHRASE",
            "correct horse battery staple",
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the command on a pty");
    // Secrets first, hidden (api_key; bouncer_token: Enter skips), then url,
    // port (invalid then valid), ratio (Enter: unset), verify_tls, indexes,
    // labels (Enter: unset).
    let answers = "s3cret-api-value\n\nhttps://siem.example\nabc\n6514\n\nyes\na, b\n\n";
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), answers.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("url (base URL): "), "{shown}");
    assert!(
        shown.contains("setting `port` expects an integer, got `abc`"),
        "{shown}"
    );
    let text = std::fs::read_to_string(dir.path().join("instances/siem/soc1/config.yaml")).unwrap();
    assert_eq!(
        text,
        "name: soc1\nproduct: siem\nsettings:\n  url: https://siem.example\n  port: 6514\n  verify_tls: true\n  indexes:\n  - a\n  - b\n"
    );
    for (path, bytes) in snapshot_tree(dir.path()) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cret-api-value"),
            "{path} holds the secret in plaintext"
        );
    }
    assert!(
        dir.path().join("secrets.age").is_file(),
        "the secret went to the encrypted store"
    );
}

/// Hooks come from the products' adapters (`describe()`): the example
/// adapter sets up its events consumer side only, so a plug between two of
/// its instances is refused, saying so.
#[test]
fn setup_hooks_come_from_the_adapters() {
    let dir = tempfile::tempdir().unwrap();
    meshroom(dir.path(), &["init", "-q"]).ok();
    let product = dir.path().join("products/example_http");
    std::fs::create_dir_all(&product).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::copy(
        root.join("adapters/example-http/definition.yaml"),
        product.join("definition.yaml"),
    )
    .unwrap();
    std::fs::copy(
        support::adapter_wasm("example_http"),
        product.join("example_http.wasm"),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("-p")
            .arg(dir.path())
            .args(args)
            .env("MESHROOM_CACHE", cache.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        Run { out }
    };
    run(&["add", "example_http", "a", "-c", "url=http://127.0.0.1:9"]).ok();
    run(&["add", "example_http", "b", "-c", "url=http://127.0.0.1:9"]).ok();
    let listed = run(&["--json", "list", "integrations", "-t", "events"]).ok();
    let v: serde_json::Value = serde_json::from_str(&listed.stdout()).unwrap();
    let setup: Vec<(&str, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["role"].as_str().unwrap(), i["setup"].as_str().unwrap()))
        .collect();
    // The second listing reads describe() from the cache: no recompilation.
    let again = run(&["--json", "list", "integrations", "-t", "events"]).ok();
    assert_eq!(again.stdout(), listed.stdout());
    // The consumer's setup hook (`create_webhook`) owns both ends.
    assert_eq!(setup, [("producer", "none"), ("consumer", "both")]);
    let plugged = run(&["plug", "events", "a", "b"]).ok();
    let said = format!("{}{}", plugged.stdout(), plugged.stderr());
    assert!(said.contains("sets up both sides"), "{said}");
    let plugs = run(&["--json", "list", "plugs"]).ok();
    assert!(plugs.stdout().contains("\"events\""), "{}", plugs.stdout());
}

#[test]
fn a_reader_closing_the_pipe_early_stops_listings_quietly() {
    // 60 products that each produce and consume events: 7,200 integrations,
    // far more than a pipe holds.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(meshroom(root, &["init"]).out.status.success());
    for i in 0..60 {
        let def = root.join(format!("products/p{i}/definition.yaml"));
        std::fs::create_dir_all(def.parent().unwrap()).unwrap();
        std::fs::write(
            def,
            "produces:\n  events:\n    - {}\nconsumes:\n  events:\n    - {}\n",
        )
        .unwrap();
    }
    for args in [
        &["list", "integrations"][..],
        &["--json", "list", "integrations"],
    ] {
        let mut cmd = Command::new(BIN);
        cmd.arg("-p").arg(root).args(args);
        let (first, out) = support::first_line_then_close(cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!first.is_empty(), "{args:?}");
        assert!(out.status.success(), "{args:?}: {:?}: {stderr}", out.status);
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}
