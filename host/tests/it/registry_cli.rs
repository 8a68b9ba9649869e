//! `meshroom publish` / `meshroom pull` / `meshroom registry login` run as the real
//! binary against a real registry (Debian `docker-registry`) and the image-layout default.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use meshroom_tests::{DockerRegistry, HttpCollector, RecordedRequest, Reply};
use serde_json::json;

use crate::support;

/// A vendor's or operator's machine: its own project, cache, default registry, login
/// store and home (so the user's real docker config is never read).
pub(crate) struct Machine {
    pub(crate) root: tempfile::TempDir,
}

impl Machine {
    pub(crate) fn new() -> Self {
        Machine {
            root: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn project(&self) -> PathBuf {
        self.root.path().join("project")
    }

    pub(crate) fn meshroom(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.meshroom_env(args, stdin, &[])
    }

    pub(crate) fn meshroom_env(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        env: &[(&str, &str)],
    ) -> Output {
        let mut cmd = self.command(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// `meshroom -p PROJECT ARGS…` in this machine's environment.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshroom"));
        cmd.arg("-p")
            .arg(self.project())
            .args(args)
            .env("MESHROOM_CACHE", self.root.path().join("cache"))
            .env(
                "MESHROOM_REGISTRY_DIR",
                self.root.path().join("default-registry"),
            )
            .env("MESHROOM_AUTH_FILE", self.root.path().join("auth.json"))
            .env("HOME", self.root.path().join("home"))
            .env("XDG_CONFIG_HOME", self.root.path().join("home/.config"))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("MESHROOM_REGISTRY_USER")
            .env_remove("MESHROOM_REGISTRY_PASSWORD")
            .env_remove("DOCKER_CONFIG")
            .env_remove("MESHROOM_KEYS_DIR")
            .env_remove("MESHROOM_KEY_PASSPHRASE")
            .env_remove("MESHROOM_FAULT");
        cmd
    }

    /// Runs meshroom and returns stdout; panics with stderr on failure.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.meshroom(args, None);
        assert!(
            out.status.success(),
            "meshroom {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// [`Machine::ok`] with `stdin` and `env`; panics with both streams on failure.
    fn ok_env(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> String {
        let out = self.meshroom_env(args, stdin, env);
        assert!(
            out.status.success(),
            "meshroom {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Adds the instances `edr1` and `siem1` of `product`, set to `url`,
    /// each with the `api_key` secret `key(name)`.
    fn add_two_instances(
        &self,
        product: &str,
        url: &str,
        key: impl Fn(&str) -> String,
        env: &[(&str, &str)],
    ) {
        let url = format!("url={url}");
        for name in ["edr1", "siem1"] {
            self.ok_env(&["add", product, name, "-c", &url], None, env);
            self.ok_env(
                &[
                    "secrets",
                    "set",
                    &format!("instance:{product}/{name}"),
                    "api_key",
                ],
                Some(&format!("{}\n", key(name))),
                env,
            );
        }
    }

    /// Runs meshroom expecting failure; returns stderr.
    pub(crate) fn fails(&self, args: &[&str]) -> String {
        let out = self.meshroom(args, None);
        assert!(
            !out.status.success(),
            "meshroom {args:?} should have failed"
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

/// A component: the header plus a custom section carrying `marker`.
fn component(marker: &str) -> Vec<u8> {
    let name = b"meshroom-test";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(marker.as_bytes());
    let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
    bytes.push(0);
    bytes.push(section.len() as u8); // < 128: one LEB128 byte
    bytes.extend(section);
    bytes
}

pub(crate) fn write_product(project: &Path, name: &str, marker: &str) {
    let dir = project.join("products").join(name);
    std::fs::create_dir_all(dir.join("integrations/zeek")).unwrap();
    std::fs::write(
        dir.join("definition.yaml"),
        format!("name: {name}\ndescription: |\n  An IPS\n  for tests\nvendor: Acme\nadapter: adapter.wasm\nconsumes:\n  events:\n  - format: ecs\n"),
    )
    .unwrap();
    std::fs::write(dir.join("adapter.wasm"), component(marker)).unwrap();
    std::fs::write(
        dir.join("integrations/zeek/events_consumer.yml"),
        "description: zeek events in\n",
    )
    .unwrap();
}

pub(crate) fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn yaml(path: &Path) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn publish_then_pull_installs_the_product_and_locks_its_digest() {
    let registry = DockerRegistry::start().unwrap();
    let (vendor, operator) = (Machine::new(), Machine::new());
    write_product(&vendor.project(), "acme_ips", "v1");
    let reference = format!("{}/acme/ips:1.0.0", registry.addr());

    let published = json(&vendor.ok(&["--json", "publish", "acme_ips", "--to", &reference]));
    let digest = published["manifest_digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"));
    assert_eq!(published["uploaded"], 4);
    // Same inputs, same digest, nothing uploaded again.
    let again = json(&vendor.ok(&["--json", "publish", "acme_ips", "--to", &reference]));
    assert_eq!(again["manifest_digest"].as_str().unwrap(), digest);
    assert_eq!(again["uploaded"], 0);

    let pulled = json(&operator.ok(&["--json", "pull", &reference]));
    assert_eq!(pulled["product"], "acme_ips");
    assert_eq!(pulled["manifest_digest"].as_str().unwrap(), digest);
    assert_eq!(pulled["lock"], "added");
    let product = operator.project().join("products/acme_ips");
    let definition = yaml(&product.join("definition.yaml"));
    assert_eq!(
        definition["adapter"].as_str().unwrap(),
        format!("{reference}@{digest}")
    );
    assert_eq!(definition["vendor"].as_str().unwrap(), "Acme");
    assert_eq!(
        definition["consumes"]["events"][0]["format"]
            .as_str()
            .unwrap(),
        "ecs"
    );
    assert_eq!(
        std::fs::read_to_string(product.join("integrations/zeek/events_consumer.yml")).unwrap(),
        "description: zeek events in\n"
    );
    let lock = yaml(&operator.project().join("meshroom.lock"));
    assert_eq!(lock["products"][0]["product"].as_str().unwrap(), "acme_ips");
    assert_eq!(
        lock["products"][0]["manifest_digest"].as_str().unwrap(),
        digest
    );

    // The vendor moves the tag: `--locked` refuses, the lockfile stays as it was.
    write_product(&vendor.project(), "acme_ips", "v2");
    let moved = json(&vendor.ok(&["--json", "publish", "acme_ips", "--to", &reference]));
    assert_ne!(moved["manifest_digest"].as_str().unwrap(), digest);
    let lock_before = std::fs::read(operator.project().join("meshroom.lock")).unwrap();
    let err = operator.fails(&["pull", &reference, "--locked"]);
    assert!(
        err.contains("locked to") && err.contains("--locked"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(operator.project().join("meshroom.lock")).unwrap(),
        lock_before
    );
    // Without it, the lockfile follows the tag.
    let updated = json(&operator.ok(&["--json", "pull", &reference]));
    assert_eq!(updated["lock"], "updated");
    assert_eq!(updated["manifest_digest"], moved["manifest_digest"]);

    // `list products`: the source from meshroom.lock; newer tags only with `--outdated`.
    let before = registry.requests().unwrap().len();
    let listed = json(&operator.ok(&["--json", "list", "products"]));
    assert_eq!(
        listed[0]["source"]["reference"].as_str().unwrap(),
        reference
    );
    assert_eq!(
        listed[0]["source"]["manifest_digest"],
        moved["manifest_digest"]
    );
    assert!(listed[0].get("newer").is_none());
    assert_eq!(
        registry.requests().unwrap().len(),
        before,
        "no network without --outdated"
    );
    vendor.ok(&[
        "publish",
        "acme_ips",
        "--to",
        &format!("{}/acme/ips:1.1.0", registry.addr()),
    ]);
    let listed = json(&operator.ok(&["--json", "list", "products", "--outdated"]));
    assert_eq!(listed[0]["newer"], serde_json::json!(["1.1.0"]));
    let table = operator.ok(&["list", "products", "--outdated"]);
    assert!(
        table.contains("NEWER") && table.contains("1.1.0"),
        "{table}"
    );
}

#[test]
fn the_default_image_layout_registry_needs_no_server() {
    let machine = Machine::new();
    write_product(&machine.project(), "acme_ips", "layout");
    let out = machine.ok(&["publish", "acme_ips", "--to", "acme/ips:1.0.0"]);
    assert!(
        out.starts_with("published acme_ips to acme/ips:1.0.0@sha256:"),
        "{out}"
    );
    assert!(
        machine
            .root
            .path()
            .join("default-registry/index.json")
            .is_file()
    );

    // A second project on the same machine pulls it from the default registry.
    std::fs::remove_dir_all(machine.project()).unwrap();
    let out = machine.ok(&["pull", "acme/ips:1.0.0"]);
    assert!(out.starts_with("pulled acme_ips acme/ips:1.0.0"), "{out}");
    let definition = yaml(&machine.project().join("products/acme_ips/definition.yaml"));
    assert!(
        definition["adapter"]
            .as_str()
            .unwrap()
            .starts_with("acme/ips:1.0.0@sha256:")
    );

    let err = machine.fails(&["pull", "acme/ips:9.9.9"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn login_checks_and_saves_credentials_that_publish_then_uses() {
    let registry = DockerRegistry::start_with_auth("vendor", "s3cret-pass").unwrap();
    let machine = Machine::new();
    write_product(&machine.project(), "acme_ips", "auth");
    let reference = format!("{}/acme/ips:1.0.0", registry.addr());

    let err = machine.fails(&["publish", "acme_ips", "--to", &reference]);
    assert!(err.contains("unauthorized"), "{err}");

    let out = machine.meshroom(
        &[
            "registry",
            "login",
            &registry.addr(),
            "-u",
            "vendor",
            "--password-stdin",
        ],
        Some("wrong\n"),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unauthorized") && !err.contains("wrong"),
        "{err}"
    );
    assert!(
        !machine.root.path().join("auth.json").exists(),
        "bad credentials are not saved"
    );

    let out = machine.meshroom(
        &[
            "registry",
            "login",
            &registry.addr(),
            "-u",
            "vendor",
            "--password-stdin",
        ],
        Some("s3cret-pass\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved = std::fs::read_to_string(machine.root.path().join("auth.json")).unwrap();
    assert!(
        !saved.contains("s3cret-pass"),
        "no plaintext password on disk"
    );

    machine.ok(&["publish", "acme_ips", "--to", &reference]);
    machine.ok(&["registry", "logout", &registry.addr()]);
    let err = machine.fails(&["pull", &reference]);
    assert!(err.contains("unauthorized"), "{err}");

    // CI credentials from the environment.
    let ci = Machine::new();
    let out = ci.meshroom_env(
        &["pull", &reference],
        None,
        &[
            ("MESHROOM_REGISTRY_USER", "vendor"),
            ("MESHROOM_REGISTRY_PASSWORD", "s3cret-pass"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ci.meshroom_env(
        &["pull", &reference],
        None,
        &[
            ("MESHROOM_REGISTRY_USER", "vendor"),
            ("MESHROOM_REGISTRY_PASSWORD", "nope"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("MESHROOM_REGISTRY_USER") && !err.contains("nope"),
        "{err}"
    );
}

#[test]
fn publish_without_an_adapter_or_a_product_says_what_to_do() {
    let machine = Machine::new();
    let err = machine.fails(&["publish", "ghost", "--to", "acme/ghost:1"]);
    assert!(err.contains("products/ghost/definition.yaml"), "{err}");

    std::fs::create_dir_all(machine.project().join("products/bare")).unwrap();
    std::fs::write(
        machine.project().join("products/bare/definition.yaml"),
        "name: bare\n",
    )
    .unwrap();
    let err = machine.fails(&["publish", "bare", "--to", "acme/bare:1"]);
    assert!(
        err.contains("has no adapter") && err.contains("--component"),
        "{err}"
    );

    let err = machine.fails(&["publish", "bare"]);
    assert!(err.contains("--to REF"), "{err}");
}

pub(crate) const PASSPHRASE: &str = "registry tests passphrase";

/// The product API the example adapter's produce hook posts to.
pub(crate) fn events_api() -> HttpCollector {
    let api = HttpCollector::start().unwrap();
    api.respond_with(
        |r: &RecordedRequest| match (r.method.as_str(), r.path.as_str()) {
            ("POST", "/webhooks") => {
                Reply::status(201).json(&json!({ "id": "wh1", "token": "t1" }))
            }
            ("DELETE", "/webhooks/wh1") => Reply::status(204),
            ("POST", "/events") => {
                let n = r
                    .body
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count();
                Reply::status(200).json(&json!({ "accepted": n }))
            }
            _ => Reply::status(404),
        },
    );
    api
}

/// Blob GETs of `digest` in the registry's access log.
pub(crate) fn blob_gets(registry: &DockerRegistry, digest: &str) -> usize {
    registry
        .requests()
        .unwrap()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&format!("/blobs/{digest}")))
        .count()
}

/// The vendor publishes the real example adapter to a real registry; an operator pulls it
/// into a fresh project and `produce` runs it (the product API sees its calls); a cached digest
/// is never downloaded again; a tampered cached component is refused and nothing runs.
#[test]
fn a_pulled_adapter_runs_once_verified_and_a_tampered_cache_blob_is_refused() {
    let registry = DockerRegistry::start().unwrap();
    let (vendor, operator) = (Machine::new(), Machine::new());
    let product = vendor.project().join("products/example_http");
    std::fs::create_dir_all(&product).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // The example definition declares the egress its hooks need (`url` of each instance).
    let definition =
        std::fs::read_to_string(root.join("adapters/example-http/definition.yaml")).unwrap();
    assert!(definition.contains("egress:"), "{definition}");
    std::fs::write(product.join("definition.yaml"), definition).unwrap();
    std::fs::copy(
        support::adapter_wasm("example_http"),
        product.join("example_http.wasm"),
    )
    .unwrap();
    let reference = format!("{}/meshroom/example_http:0.1.0", registry.addr());
    vendor.ok(&["publish", "example_http", "--to", &reference]);

    let pulled = json(&operator.ok(&["--json", "pull", &reference]));
    let component = pulled["component_digest"].as_str().unwrap().to_string();
    assert_eq!(
        blob_gets(&registry, &component),
        1,
        "pull downloads the component once"
    );
    let cached = operator
        .root
        .path()
        .join("cache/blobs/sha256")
        .join(component.trim_start_matches("sha256:"));
    assert!(cached.is_file(), "{} is cached", cached.display());
    assert!(
        !operator
            .project()
            .join("products/example_http/example_http.wasm")
            .exists(),
        "the component lives in the cache, not in the project"
    );

    // `list products` shows where it comes from.
    let listed = operator.ok(&["list", "products"]);
    let short = &pulled["manifest_digest"].as_str().unwrap()["sha256:".len()..][..12];
    assert!(
        listed.contains(&format!("{reference} (sha256:{short})")),
        "{listed}"
    );

    let api = events_api();
    let env = [("MESHROOM_SECRETS_PASSPHRASE", PASSPHRASE)];
    let run = |args: &[&str], stdin: Option<&str>| operator.meshroom_env(args, stdin, &env);
    let ok = |args: &[&str], stdin: Option<&str>| operator.ok_env(args, stdin, &env);
    operator.add_two_instances("example_http", &api.url(), |n| format!("{n}-key"), &env);
    // The consumer's setup hook owns both ends: `plug` resolves through it.
    ok(&["plug", "events", "edr1", "siem1"], None);

    // The pulled adapter runs: `produce` posts through its `send_events` hook.
    let produce = ["produce", "events", "edr1", "siem1"];
    let out = ok(&produce, Some("{\"n\":1}\n{\"n\":2}\n"));
    assert!(out.contains("2 accepted"), "{out}");
    let calls = api
        .wait_for_requests(1, std::time::Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("POST", "/events")
    );

    // A second run and a second pull: the cached digest is not downloaded again.
    ok(&produce, Some("{\"n\":3}\n"));
    operator.ok(&["pull", &reference]);
    assert_eq!(
        blob_gets(&registry, &component),
        1,
        "{:?}",
        registry.requests().unwrap()
    );
    assert_eq!(api.requests().len(), 2);

    // `up` runs the pulled adapter's setup hook against the API, `down` its teardown.
    ok(&["up"], None);
    let paths = |api: &HttpCollector| -> Vec<String> {
        api.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    };
    assert!(
        paths(&api).contains(&"POST /webhooks".to_string()),
        "{:?}",
        paths(&api)
    );
    ok(&["down"], None);
    assert!(
        paths(&api).contains(&"DELETE /webhooks/wh1".to_string()),
        "{:?}",
        paths(&api)
    );
    assert_eq!(
        blob_gets(&registry, &component),
        1,
        "up never downloads a cached digest"
    );
    let seen = api.requests().len();

    // Tamper with the cached component: `up` refuses it and runs nothing.
    let mut bytes = std::fs::read(&cached).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&cached, &bytes).unwrap();
    let out = run(&produce, Some("{\"n\":4}\n"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a tampered component must not run");
    assert!(
        err.contains("digest") && err.contains(&component[..20]),
        "{err}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(api.requests().len(), seen, "nothing ran");
}

/// A Python adapter makes the round trip through the real registry: the
/// vendor builds the Python twin of the example adapter with `meshroom
/// build` (componentize-py) and publishes it; an operator pulls it into a
/// fresh project, and `up` and `down` run its hooks against a real API.
#[test]
fn a_python_adapter_is_published_pulled_and_run_by_up() {
    let registry = DockerRegistry::start().unwrap();
    let (vendor, operator) = (Machine::new(), Machine::new());
    let product = vendor.project().join("products/example_http_py");
    crate::python::copy_tree(
        &meshroom_tests::workspace_root().join("adapters/example-http-py"),
        &product,
    );
    // The build reuses the component the Python tests built from the same
    // sources (the shared cache is keyed by their sha256).
    let shared = support::shared_cache();
    let componentize = crate::python::componentize_py();
    let build = vendor.meshroom_env(
        &["build", "example_http_py"],
        None,
        &[
            ("MESHROOM_CACHE", shared.to_str().unwrap()),
            ("MESHROOM_COMPONENTIZE_PY", componentize.to_str().unwrap()),
        ],
    );
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let built = std::fs::read(product.join("example_http_py.wasm")).unwrap();
    let reference = format!("{}/meshroom/example_http_py:0.1.0", registry.addr());
    let published = json(&vendor.ok(&["--json", "publish", "example_http_py", "--to", &reference]));

    let pulled = json(&operator.ok(&["--json", "pull", &reference]));
    assert_eq!(pulled["product"], "example_http_py");
    assert_eq!(pulled["manifest_digest"], published["manifest_digest"]);
    let component = pulled["component_digest"].as_str().unwrap().to_string();
    assert_eq!(
        component,
        meshroom::runtime::digest_of(&built),
        "the operator runs the very component the vendor built"
    );
    assert_eq!(blob_gets(&registry, &component), 1);
    let definition = yaml(
        &operator
            .project()
            .join("products/example_http_py/definition.yaml"),
    );
    assert_eq!(
        definition["adapter"].as_str().unwrap(),
        format!(
            "{reference}@{}",
            pulled["manifest_digest"].as_str().unwrap()
        )
    );

    let api = support::Api::start();
    // `up` and `down` use the shared cache, for its compiled code: compiling
    // a 19 MB component again would only cost time. The locked digest is
    // verified wherever it is read from.
    let env = [
        ("MESHROOM_SECRETS_PASSPHRASE", PASSPHRASE),
        ("MESHROOM_CACHE", shared.to_str().unwrap()),
    ];
    let ok = |args: &[&str], stdin: Option<&str>| operator.ok_env(args, stdin, &env);
    operator.add_two_instances("example_http_py", &api.url(), |_| "k-123".into(), &env);
    ok(&["plug", "events", "edr1", "siem1"], None);
    let up = ok(&["up"], None);
    assert!(up.contains("siem1"), "{up}");
    let plug = std::fs::read_to_string(
        operator
            .project()
            .join("instances/example_http_py/edr1/plugs/siem1/events.yaml"),
    )
    .unwrap();
    assert!(
        plug.contains("status: up") && plug.contains("webhook_id: wh-1"),
        "{plug}"
    );
    assert_eq!(api.state.lock().unwrap().webhooks.len(), 1);
    ok(&["down"], None);
    assert!(api.state.lock().unwrap().webhooks.is_empty());
    let delete = api
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .expect("teardown deleted the webhook");
    assert_eq!(delete.path, "/webhooks/wh-1");
    assert_eq!(
        delete.headers.get("x-webhook-token").map(String::as_str),
        Some("tok-wh-1"),
        "the secret output `up` stored reached teardown"
    );
}

/// Files under `dir` whose name says a write was cut short.
fn temporaries_under(dir: &Path) -> Vec<PathBuf> {
    support::walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".meshroom-tmp-"))
        .collect()
}

#[test]
fn publish_and_pull_killed_at_every_write_then_rerun_give_what_one_clean_run_gives() {
    let registry = DockerRegistry::start().unwrap();
    let remote = format!("{}/acme/ips:1.0.0", registry.addr());
    let local = "acme/ips:1.0.0";
    // What one clean run gives: the vendor's digests, the operator's files.
    let clean = Machine::new();
    write_product(&clean.project(), "acme_ips", "v1");
    let publish = |m: &Machine, to: &str| {
        json(&m.ok(&["--json", "publish", "acme_ips", "--to", to]))["manifest_digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let remote_digest = publish(&clean, &remote);
    let local_digest = publish(&clean, local);
    let installed = Machine::new();
    installed.ok(&["pull", &remote]);
    let files = |m: &Machine| {
        [
            "products/acme_ips/definition.yaml",
            "products/acme_ips/integrations/zeek/events_consumer.yml",
            "meshroom.lock",
        ]
        .map(|f| std::fs::read_to_string(m.project().join(f)).unwrap())
    };
    let clean_files = files(&installed);
    let mut points = 0;

    // `publish` to the image-layout registry (every write local), killed at
    // each of its writes in turn, from an empty registry each time.
    let vendor = Machine::new();
    write_product(&vendor.project(), "acme_ips", "v1");
    let layout = vendor.root.path().join("default-registry");
    for kind in ["staged", "renamed"] {
        for n in 1.. {
            let _ = std::fs::remove_dir_all(&layout);
            let fault = format!("{kind}:{n}");
            let out = vendor.meshroom_env(
                &["publish", "acme_ips", "--to", local],
                None,
                &[("MESHROOM_FAULT", &fault)],
            );
            if out.status.success() {
                break; // past its last write
            }
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("aborting at"),
                "publish at {fault}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            points += 1;
            assert_eq!(
                publish(&vendor, local),
                local_digest,
                "re-run after {fault}"
            );
            assert!(temporaries_under(&vendor.project()).is_empty(), "{fault}");
            // The registry serves it whole: a second project pulls it.
            let reader = Machine::new();
            let out = reader.ok_env(
                &["pull", local],
                None,
                &[("MESHROOM_REGISTRY_DIR", layout.to_str().unwrap())],
            );
            assert!(out.starts_with("pulled acme_ips"), "{fault}: {out}");
        }
    }

    // `publish` to the real registry, killed from outside mid-upload.
    for delay in [5u64, 15, 30, 60, 100] {
        let v = Machine::new();
        write_product(&v.project(), "acme_ips", "v1");
        let to = format!("{}/acme/killed{delay}:1.0.0", registry.addr());
        let mut child =
            support::spawn_piped(v.command(&["publish", "acme_ips", "--to", &to]), None);
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        child.wait().unwrap();
        points += 1;
        assert_eq!(publish(&v, &to), remote_digest, "re-run after {delay} ms");
        let reader = Machine::new();
        reader.ok(&["pull", &to]);
    }

    // `pull` from the real registry, killed at each of its writes (blobs
    // into the cache, the product's files, the lockfile), from an empty
    // cache and project each time.
    let operator = Machine::new();
    for kind in ["staged", "renamed"] {
        for n in 1.. {
            let _ = std::fs::remove_dir_all(operator.project());
            let _ = std::fs::remove_dir_all(operator.root.path().join("cache"));
            let fault = format!("{kind}:{n}");
            let out =
                operator.meshroom_env(&["pull", &remote], None, &[("MESHROOM_FAULT", &fault)]);
            if out.status.success() {
                break;
            }
            points += 1;
            // Whatever is there parses; a re-run finishes; the cache and
            // the lockfile verify (`--locked` checks both).
            for f in ["products/acme_ips/definition.yaml", "meshroom.lock"] {
                if let Ok(text) = std::fs::read_to_string(operator.project().join(f)) {
                    serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text)
                        .unwrap_or_else(|e| panic!("{f} after {fault}: {e}"));
                }
            }
            operator.ok(&["pull", &remote]);
            operator.ok(&["pull", &remote, "--locked"]);
            let lock = std::fs::read_to_string(operator.project().join("meshroom.lock")).unwrap();
            assert!(lock.contains(&remote_digest), "{fault}: {lock}");
            let got = files(&operator);
            assert_eq!(got[..2], clean_files[..2], "after {fault}");
            let left = temporaries_under(&operator.project());
            assert!(left.is_empty(), "{fault}: {left:?}");
        }
    }
    assert!(points >= 10, "only {points} kill points");
    eprintln!("publish and pull: {points} kill points");
}
