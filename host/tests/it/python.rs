//! Python hooks as sandboxed components: the Python twin of
//! `adapters/example-http` (`adapters/example-http-py`, hooks written as
//! the original Meshroom's vendors write them) is built by the real
//! `meshroom build` with componentize-py, then passes the same hook tests
//! as the Rust adapter (the bodies in `runtime.rs`) against the same real
//! HTTP API on 127.0.0.1. Also: the static view of the hooks equals the
//! built `describe`, hostile Python hooks are contained (through the
//! runtime, and inside one `meshroom up` beside healthy plugs), bad hook
//! files fail the build with their file and line.
//!
//! Built components are cached by the sha256 of their sources (in the
//! shared test cache), so the suite builds each one once, not every run.

use crate::runtime::{
    consumer_ctx_of, example_describes_its_hooks, example_errors_keep_their_kind,
    example_plays_data_and_commands, example_sets_up_checks_and_tears_down, hook_id, policy,
};
use crate::support;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::support::{Api, run_piped, shared_cache};
use meshroom::runtime::*;
use meshroom_tests::workspace_root;
use serde_json::{Value, json};

/// `componentize-py` of the venv `scripts/setup.sh` makes.
pub(crate) fn componentize_py() -> PathBuf {
    let p = workspace_root().join("target/pyvenv/bin/componentize-py");
    assert!(
        p.is_file(),
        "{} is missing: run `bash scripts/setup.sh`",
        p.display()
    );
    p
}

/// The real `meshroom -p project ARGS`, with componentize-py from the
/// setup venv and the shared cache (compiled code, built Python components).
fn meshroom(project: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshroom"));
    cmd.arg("-p").arg(project).args(args);
    cmd.env("MESHROOM_CACHE", shared_cache())
        .env("MESHROOM_COMPONENTIZE_PY", componentize_py())
        .env("MESHROOM_SECRETS_PASSPHRASE", support::PASSPHRASE)
        .env("HOME", project.join(".home"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("RUST_LOG");
    run_piped(cmd, None)
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes `text` to `root/rel`, making its folders.
fn write_file(root: &Path, rel: &str, text: &str) {
    let f = root.join(rel);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(f, text).unwrap();
}

/// Copies the product folder `src` into a fresh project as `products/<name>`.
fn project_with(src: &Path, name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("products").join(name);
    copy_tree(src, &dest);
    dir
}

pub(crate) fn copy_tree(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "__pycache__" {
                copy_tree(&p, &dest.join(name));
            }
        } else if !name.to_string_lossy().ends_with(".wasm") {
            std::fs::copy(&p, dest.join(name)).unwrap();
        }
    }
}

/// Builds the product folder `src` (as `name`) with the real `meshroom
/// build`; returns the component's bytes.
fn build(src: &Path, name: &str) -> Vec<u8> {
    let project = project_with(src, name);
    let out = meshroom(project.path(), &["build", name]);
    assert!(
        out.status.success(),
        "meshroom build failed:\n{}",
        text(&out)
    );
    let wasm = project
        .path()
        .join("products")
        .join(name)
        .join(format!("{name}.wasm"));
    let definition = std::fs::read_to_string(
        project
            .path()
            .join("products")
            .join(name)
            .join("definition.yaml"),
    )
    .unwrap();
    assert!(
        definition.contains(&format!("adapter: {name}.wasm")),
        "{definition}"
    );
    std::fs::read(wasm).unwrap()
}

/// The Python twin of example_http, built once per test binary.
fn twin() -> &'static [u8] {
    static TWIN: OnceLock<Vec<u8>> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    TWIN.get_or_init(|| {
        build(
            &workspace_root().join("adapters/example-http-py"),
            "example_http_py",
        )
    })
}

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(shared_cache()),
        cpu_limit: Duration::from_secs(2),
        timeout: Duration::from_secs(10),
        max_instances: 16,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

async fn load_twin(rt: &Runtime) -> Adapter {
    rt.load(twin(), "example_http_py.wasm").await.unwrap()
}

/// The context of the consumer side of `edr1 -> siem1` on topic `events`.
fn consumer_ctx(api: &Api, outputs: Value) -> HookContext {
    consumer_ctx_of("example_http_py", api, outputs)
}

// The hook tests of the Rust example adapter (`runtime.rs`), run on its
// Python twin; each adds what only Python hooks do.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_twin_describes_its_hooks() {
    let rt = runtime();
    let adapter = load_twin(&rt).await;
    example_describes_its_hooks(adapter.info(), "example_http_py");
    let info = adapter.info();
    let setup = info.hooks_of(HookKind::Setup).next().unwrap();
    assert_eq!(setup.id, "setup.create_webhook");
    // A hook without a `mode=` serves both modes, as in the original.
    assert_eq!(setup.mode, None);
    // Titles fall back to the docstring, as in the original.
    let check = info.hooks_of(HookKind::Check).next().unwrap();
    assert_eq!(check.title, "Check the webhook exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_of_a_python_adapter_gets_fresh_memory() {
    support::assert_every_call_is_fresh(hostile(), "hostile_py.wasm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_twin_sets_up_checks_and_tears_down_a_real_webhook() {
    let api = Api::start();
    let rt = runtime();
    let adapter = load_twin(&rt).await;
    // `plug.settings[...]` + `plug.save()` become outputs, `plug.set_secret`
    // a secret output, a popped setting a `null` output.
    example_sets_up_checks_and_tears_down(&adapter, &api).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_twin_errors_keep_their_kind() {
    let api = Api::start();
    let rt = runtime();
    let adapter = load_twin(&rt).await;
    let missing_secret = example_errors_keep_their_kind(&adapter, &api).await;
    assert!(
        missing_secret
            .message
            .contains("products/example_http_py/setup.py:"),
        "the error names the hook's file and line: {missing_secret}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_twin_plays_data_and_commands() {
    let api = Api::start();
    let rt = runtime();
    let adapter = load_twin(&rt).await;
    // The watch hook is a generator; `isolate_host` raises NotImplementedError.
    example_plays_data_and_commands(&adapter, &api).await;
}

/// `max_instances` Python calls alive at once fit the instance pool: a
/// componentize-py component instantiates 14 core modules per call (a Rust
/// adapter 3), and the pool is sized for that, so the bound that applies is
/// the number of calls, with a clear error. Watchers keep their instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_many_python_calls_at_once_as_max_instances() {
    let api = Api::start();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(shared_cache()),
        cpu_limit: Duration::from_secs(2),
        timeout: Duration::from_secs(10),
        max_instances: 6,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let adapter = load_twin(&rt).await;
    let watch = hook_id(&adapter, HookKind::Watch, Some("events"));
    let ctx = consumer_ctx(&api, json!({}));
    let mut watchers = Vec::new();
    for n in 0..6 {
        let w = adapter.watch(&watch, &ctx, &policy(&api, &[])).await;
        watchers.push(w.unwrap_or_else(|e| panic!("call {} of 6 at once: {e}", n + 1)));
    }
    let err = adapter
        .watch(&watch, &ctx, &policy(&api, &[]))
        .await
        .err()
        .expect("a 7th call at once is refused");
    assert!(err.message.contains("too many calls at once"), "{err}");
    for w in &mut watchers {
        assert_eq!(w.next().await.unwrap(), None, "no events yet");
    }
}

/// The hostile Python product, built once per test binary.
fn hostile() -> &'static [u8] {
    static HOSTILE: OnceLock<Vec<u8>> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    HOSTILE.get_or_init(|| build(&workspace_root().join("adapters/hostile-py"), "hostile_py"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_python_hooks_are_contained() {
    let api = Api::start();
    let rt = runtime();
    let bad = rt.load(hostile(), "hostile_py.wasm").await.unwrap();
    let twin = load_twin(&rt).await;
    let id = |topic: &str| hook_id(&bad, HookKind::Execute, Some(topic));
    // Runs on the source side `edr1` of a plug to `siem1`, whose secret
    // `api_key` the resolver must never be asked for.
    let asked = std::sync::Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = asked.clone();
    let policy = CallPolicy::deny_all()
        .allow_http(&api.url())
        .with_secrets(move |name: &str| {
            seen.lock().unwrap().push(name.to_string());
            (name == "api_key").then(|| "edr1-own-key".to_string())
        });
    let mut ctx = consumer_ctx(&api, json!({}));
    ctx.instance = Some(ctx.plug.as_ref().unwrap().src.clone());
    let call = |topic: &'static str, params: Value| {
        let (bad, ctx, policy) = (bad.clone(), ctx.clone(), policy.clone());
        let hook = id(topic);
        async move { bad.execute(&hook, &ctx, &params, &policy).await }
    };
    let still_ok = || async {
        let out = call("ok", json!({})).await.unwrap();
        assert_eq!(out, json!({"ok": true, "instance": "edr1"}));
    };

    let err = call("spin", json!({})).await.unwrap_err();
    assert_eq!(err.kind, HookErrorKind::CpuLimit, "{err}");
    still_ok().await;

    let err = call("alloc", json!({})).await.unwrap_err();
    assert_eq!(err.kind, HookErrorKind::MemoryLimit, "{err}");
    still_ok().await;

    let err = call("egress", json!({"url": "http://10.255.255.1:8080/x"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Unreachable, "{err}");
    assert!(err.message.contains("10.255.255.1:8080"), "{err}");
    assert!(err.message.contains("egress policy"), "{err}");

    let out = call("other_secret", json!({})).await.unwrap();
    assert_eq!(out, json!({"dst_api_key": null}));
    assert!(
        asked.lock().unwrap().is_empty(),
        "another instance's secret is never asked of the host: {:?}",
        asked.lock().unwrap()
    );

    let err = call("passwd", json!({})).await.unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Failed, "{err}");
    assert!(err.message.contains("/etc/passwd"), "{err}");
    assert!(err.message.contains("no filesystem"), "{err}");
    assert!(!err.message.contains("root:"), "{err}");

    // The build machine's environment is not in the component either.
    let out = call("environ", json!({})).await.unwrap();
    assert_eq!(out, json!({}), "no environment inside the sandbox");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let err = call("socket", json!({"port": port})).await.unwrap_err();
    assert!(
        matches!(err.kind, HookErrorKind::Failed | HookErrorKind::Unreachable),
        "{err}"
    );
    assert!(err.message.contains("socket"), "{err}");
    assert!(
        listener.accept().is_err(),
        "no connection may reach the port"
    );

    // A hook raising: its error carries the exception's text, file and line.
    let err = call("raises", json!({})).await.unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Failed);
    assert!(
        err.message
            .starts_with("RuntimeError: the product said no (at products/hostile_py/setup.py:"),
        "{err}"
    );

    // Calls of another adapter in the same runtime still succeed.
    let execute = hook_id(&twin, HookKind::Execute, Some("block_ip"));
    twin.execute(
        &execute,
        &consumer_ctx(&api, json!({})),
        &json!({}),
        &CallPolicy::deny_all(),
    )
    .await
    .unwrap();
    still_ok().await;
}

/// The static view of a product's Python hooks (tree-sitter, what listings
/// read without a build) equals what the built component's `describe`
/// says, hook for hook: ids (`<module>.<function>`,
/// `integrations.<target>.<stem>.<function>`, `#2` for a function's second
/// hook), kinds, scopes, titles, orders and flags. Over the twin, the
/// hostile product and a fixture using every decorator in a product's file
/// and in integration files (one format-suffixed, in pull mode).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_static_view_of_python_hooks_equals_the_built_describe() {
    let rt = runtime();
    let sorted = |mut hooks: Vec<meshroom::project::DeclaredHook>| {
        hooks.sort_by(|a, b| a.id.cmp(&b.id));
        hooks
    };
    for (src, name) in [
        ("adapters/example-http-py", "example_http_py"),
        ("adapters/hostile-py", "hostile_py"),
        ("host/tests/it/fixtures/python-hooks", "agree_py"),
    ] {
        let src = workspace_root().join(src);
        let unbuilt = project_with(&src, name);
        let project = meshroom::project::Project::load(unbuilt.path()).unwrap();
        assert_eq!(
            project.python_hook_problems(),
            [],
            "{name} reads statically without a problem"
        );
        let statics = sorted(project.python_hooks().to_vec());
        let bytes = match name {
            "example_http_py" => twin().to_vec(),
            "hostile_py" => hostile().to_vec(),
            _ => build(&src, name),
        };
        let adapter = rt.load(&bytes, &format!("{name}.wasm")).await.unwrap();
        let described = sorted(meshroom::engine::declared_hooks(name, adapter.info()));
        assert!(statics.len() >= 2, "{name}: {statics:#?}");
        assert_eq!(
            statics, described,
            "{name}: the static view (left) and describe (right) differ"
        );
        let ids: Vec<&str> = described.iter().map(|h| h.id.as_str()).collect();
        let expected: &[&str] = match name {
            "example_http_py" => &["setup.create_webhook", "setup.check_webhook"],
            "agree_py" => &[
                "setup.create_collector",
                "setup.command",
                "setup.command#2",
                "integrations.some_edr.events_consumer.register",
                "integrations.some_edr.alerts_producer_ecs_pull.open_feed",
            ],
            _ => &["setup.setup_spin"],
        };
        for id in expected {
            assert!(ids.contains(id), "{name}: no hook `{id}` in {ids:?}");
        }
    }
}

/// The plug report of `--json up` whose plug goes to `dst` on `topic`.
fn plug_report<'r>(report: &'r Value, topic: &str, dst: &str) -> &'r Value {
    let name = format!("-> {dst}");
    report["plugs"]
        .as_array()
        .and_then(|plugs| {
            plugs.iter().find(|p| {
                let plug = p["plug"].as_str().unwrap_or("");
                plug.contains(&format!("[{topic}:")) && plug.ends_with(&name)
            })
        })
        .unwrap_or_else(|| panic!("no plug {topic} -> {dst} in {report:#}"))
}

/// Hostile Python setup hooks inside one `meshroom up`, beside healthy
/// plugs of the Python twin: each escape fails its own plug with a clear
/// error (or, for another instance's secret and the environment, finds
/// nothing), the healthy plugs come up, and nothing they recorded is lost:
/// a scoped `up` finds them up, `down` deletes their webhooks with the
/// tokens `up` stored.
#[test]
fn hostile_python_setup_hooks_fail_alone_inside_one_up() {
    let api = Api::start();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    for (src, name) in [
        ("adapters/example-http-py", "example_http_py"),
        ("adapters/hostile-py", "hostile_py"),
    ] {
        copy_tree(&workspace_root().join(src), &p.join("products").join(name));
        let out = meshroom(p, &["build", name]);
        assert!(out.status.success(), "{}", text(&out));
    }
    const TOPICS: [&str; 8] = [
        "spin",
        "alloc",
        "egress",
        "other_secret",
        "passwd",
        "environ",
        "socket",
        "raises",
    ];
    let produces: String = std::iter::once("events")
        .chain(TOPICS)
        .map(|t| format!("  {t}: [{{mode: push}}]\n"))
        .collect();
    let write = |rel: &str, text: &str| write_file(p, rel, text);
    write(
        "products/edr/definition.yaml",
        &format!(
            "name: edr\nsettings:\n  - name: api_key\n    type: string\n    secret: true\nproduces:\n{produces}"
        ),
    );
    write(
        "instances/edr/edr1/config.yaml",
        "name: edr1\nproduct: edr\n",
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    write(
        "instances/hostile_py/bad1/config.yaml",
        &format!(
            "name: bad1\nproduct: hostile_py\nsettings:\n  url: {}\n  port: {port}\n",
            api.url()
        ),
    );
    let secret = |scope: &str, value: &str| {
        let out = support::meshroom(
            p,
            &["secrets", "set", scope, "api_key"],
            Some(&format!("{value}\n")),
        );
        assert!(out.status.success(), "{}", text(&out));
    };
    const EDR_KEY: &str = "edr1-own-key-never-shared";
    secret("instance:edr/edr1", EDR_KEY);
    for siem in ["siem1", "siem2"] {
        write(
            &format!("instances/example_http_py/{siem}/config.yaml"),
            &format!(
                "name: {siem}\nproduct: example_http_py\nsettings:\n  url: {}\n",
                api.url()
            ),
        );
        secret(&format!("instance:example_http_py/{siem}"), "k-123");
        support::ok(p, &["plug", "events", "edr1", siem]);
    }
    for topic in TOPICS {
        support::ok(p, &["plug", topic, "edr1", "bad1"]);
    }

    let started = std::time::Instant::now();
    let out = meshroom(p, &["--json", "up", "-j", "4", "--hook-timeout", "5"]);
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        elapsed < Duration::from_secs(120),
        "contained promptly: {elapsed:?}"
    );
    let all = text(&out);
    assert!(!all.contains("panicked"), "{all}");
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {all}"));
    assert_eq!(
        report["plugs"].as_array().map(Vec::len),
        Some(10),
        "{report:#}"
    );
    let failed = |topic: &str| {
        let r = plug_report(&report, topic, "bad1");
        assert_eq!(r["verdict"], "failed", "{topic}: {r:#}");
        let message = r["message"].as_str().unwrap_or("").to_string();
        assert!(message.contains("setup_"), "names the hook: {message}");
        message
    };
    // `--hook-timeout` bounds CPU and wall clock alike: either stops it.
    let m = failed("spin");
    assert!(
        m.contains("cpu-limit") || m.contains("did not finish within 5s"),
        "{m}"
    );
    let m = failed("alloc");
    assert!(m.contains("memory"), "{m}");
    let m = failed("egress");
    assert!(
        m.contains("10.255.255.1:8080") && m.contains("egress policy"),
        "{m}"
    );
    let m = failed("passwd");
    assert!(
        m.contains("/etc/passwd") && m.contains("no filesystem"),
        "{m}"
    );
    let m = failed("socket");
    assert!(m.contains("socket"), "{m}");
    let m = failed("raises");
    assert!(m.contains("RuntimeError: the product said no"), "{m}");
    assert!(
        listener.accept().is_err(),
        "no connection may reach the port"
    );
    // What a hostile hook could read is nothing: another instance's secret
    // is not served, the environment is empty.
    for topic in ["other_secret", "environ"] {
        let r = plug_report(&report, topic, "bad1");
        assert_eq!(r["verdict"], "done", "{topic}: {r:#}");
    }
    let environ =
        std::fs::read_to_string(p.join("instances/edr/edr1/plugs/bad1/environ.yaml")).unwrap();
    assert!(
        !environ.contains("PATH") && !environ.contains("HOME"),
        "{environ}"
    );
    for file in support::walk(p) {
        let bytes = std::fs::read(&file).unwrap();
        let found = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(
            !found(EDR_KEY) && !found("root:x:0"),
            "{} holds what no hook may read",
            file.display()
        );
    }
    assert!(!all.contains(EDR_KEY) && !all.contains("root:x:0"), "{all}");
    assert!(
        api.requests()
            .iter()
            .all(|r| !String::from_utf8_lossy(&r.body).contains(EDR_KEY)),
        "the secret never left"
    );

    // The healthy plugs came up, their outputs and secret outputs kept.
    for siem in ["siem1", "siem2"] {
        assert_eq!(
            plug_report(&report, "events", siem)["verdict"],
            "done",
            "{report:#}"
        );
        let plug =
            std::fs::read_to_string(p.join(format!("instances/edr/edr1/plugs/{siem}/events.yaml")))
                .unwrap();
        assert!(
            plug.contains("status: up") && plug.contains("webhook_id: wh-"),
            "{plug}"
        );
    }
    assert_eq!(api.state.lock().unwrap().webhooks.len(), 2);
    let posts = api.requests().len();
    let again = support::ok(p, &["up", "edr1", "siem1"]);
    assert!(again.contains("already up"), "{again}");
    assert_eq!(api.requests().len(), posts, "nothing set up twice");
    for siem in ["siem1", "siem2"] {
        support::ok(p, &["down", "edr1", siem]);
    }
    assert!(api.state.lock().unwrap().webhooks.is_empty());
    let tokens: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .filter_map(|r| r.headers.get("x-webhook-token").cloned())
        .collect();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert!(
        tokens.iter().all(|t| t.starts_with("tok-wh-")),
        "{tokens:?}"
    );
}

/// A fresh project with product `acme` made of `definition.yaml` and `files`.
fn acme(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("products/acme");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(
        p.join("definition.yaml"),
        "name: acme\nsettings:\n  - name: url\n    type: string\nconsumes:\n  events:\n    - mode: push\n",
    )
    .unwrap();
    for (rel, text) in files {
        let f = p.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
    dir
}

/// `meshroom build acme` fails; its stderr, checked to leave no adapter.
fn build_fails(project: &Path) -> String {
    let out = meshroom(project, &["build", "acme"]);
    let t = text(&out);
    assert!(!out.status.success(), "the build should fail:\n{t}");
    assert!(
        !project.join("products/acme/acme.wasm").exists(),
        "no half-built adapter"
    );
    let def = std::fs::read_to_string(project.join("products/acme/definition.yaml")).unwrap();
    assert!(!def.contains("adapter:"), "{def}");
    assert!(!t.contains("panicked"), "{t}");
    t
}

#[test]
fn bad_python_hooks_fail_the_build_with_the_file_and_line() {
    // A syntax error: the traceback's file and line, mapped to the product.
    let p = acme(&[(
        "setup.py",
        "from meshroom.decorators import setup_consumer\n\n\n@setup_consumer(\"events\")\ndef broken(:\n    pass\n",
    )]);
    let t = build_fails(p.path());
    assert!(
        t.contains("products/acme/setup.py, line 5: SyntaxError"),
        "{t}"
    );
    assert!(!t.contains("meshroom-pybuild-"), "no staging paths: {t}");

    // A decorator argument the original does not have.
    let p = acme(&[(
        "setup.py",
        "from meshroom.decorators import setup_consumer\n\n@setup_consumer(\"events\", colour=\"red\")\ndef hook(plug):\n    pass\n",
    )]);
    let t = build_fails(p.path());
    assert!(
        t.contains("products/acme/setup.py, line 3: TypeError"),
        "{t}"
    );
    assert!(t.contains("unexpected keyword argument 'colour'"), "{t}");

    // A failed import, in an integration file.
    let p = acme(&[
        ("setup.py", "X = 1\n"),
        (
            "integrations/other/events_consumer.py",
            "import not_a_module_anywhere\n",
        ),
    ]);
    let t = build_fails(p.path());
    assert!(
        t.contains(
            "products/acme/integrations/other/events_consumer.py, line 1: ModuleNotFoundError"
        ),
        "{t}"
    );
}

#[test]
fn python_builds_refuse_what_they_cannot_build() {
    // A Rust crate and Python hooks in one product folder: both named.
    let p = acme(&[
        ("setup.py", "X = 1\n"),
        ("adapter/Cargo.toml", "[package]\nname = \"acme\"\n"),
    ]);
    let t = build_fails(p.path());
    assert!(t.contains("both a Rust adapter crate"), "{t}");
    assert!(t.contains("adapter/Cargo.toml"), "{t}");
    assert!(t.contains("setup.py"), "{t}");

    // componentize-py missing: says how to install it.
    let p = acme(&[("setup.py", "X = 1\n")]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshroom"));
    cmd.arg("-p")
        .arg(p.path())
        .args(["build", "acme"])
        .env("MESHROOM_CACHE", p.path().join(".cache"))
        .env("MESHROOM_COMPONENTIZE_PY", "")
        .env("PATH", p.path().join("empty"))
        .env("HOME", p.path().join(".home"));
    let out = run_piped(cmd, None);
    let t = text(&out);
    assert!(!out.status.success());
    assert!(t.contains("componentize-py 0.25.1"), "{t}");
    assert!(t.contains("pip install componentize-py==0.25.1"), "{t}");

    // Hooks not built yet: commands say which command builds them.
    let out = meshroom(p.path(), &["up"]);
    let t = text(&out);
    assert!(t.contains("`meshroom build acme`"), "{t}");

    // Built without an `egress:` key: build and up say which line to add.
    let out = meshroom(p.path(), &["build", "acme"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("no `egress:` key"), "{t}");
    assert!(t.contains(r#"http: ["{{url}}"]"#), "{t}");
    let t = text(&meshroom(p.path(), &["up"]));
    assert!(t.contains("no `egress:` key"), "{t}");
    assert!(!t.contains("`meshroom build acme`"), "{t}");
}

/// The requests a run sent, as compared side by side: method, path and
/// query, JSON body, and the headers the hooks set. Headers each HTTP
/// stack adds on its own (`user-agent`, `accept-encoding`, `connection`,
/// `content-length`, `host`) are left out on purpose.
fn comparable(api: &Api) -> Vec<Value> {
    api.requests()
        .into_iter()
        .map(|r| {
            let body: Value = if r.body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&r.body)
                    .unwrap_or_else(|_| json!(String::from_utf8_lossy(&r.body)))
            };
            let headers: serde_json::Map<String, Value> = r
                .headers
                .iter()
                .filter(|(k, _)| {
                    ["authorization", "content-type", "accept", "x-webhook-token"]
                        .contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            json!({"method": r.method, "path": r.path, "body": body, "headers": headers})
        })
        .collect()
}

#[test]
fn an_original_users_hooks_send_what_meshroom_0_3_4_sends() {
    let fixture = workspace_root().join("host/tests/it/fixtures/original-user");
    let ours = Api::start();
    let native = Api::start();
    let dir = project_with(&fixture, "acme_api");
    let p = dir.path();
    std::fs::remove_file(p.join("products/acme_api/run_native.py")).unwrap();
    let write = |rel: &str, text: &str| write_file(p, rel, text);
    write(
        "products/edr/definition.yaml",
        "name: edr\nproduces:\n  events:\n    - mode: push\n",
    );
    write(
        "instances/edr/edr1/config.yaml",
        "name: edr1\nproduct: edr\n",
    );
    write(
        "instances/acme_api/siem1/config.yaml",
        &format!(
            "name: siem1\nproduct: acme_api\nsettings:\n  url: {}\n",
            ours.url()
        ),
    );
    let out = meshroom(p, &["build", "acme_api"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = support::meshroom(
        p,
        &["secrets", "set", "instance:acme_api/siem1", "api_key"],
        Some("k-123\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    support::ok(p, &["plug", "events", "edr1", "siem1"]);

    // The same project, as the original sees it, pointed at its own server.
    let copy = tempfile::tempdir().unwrap();
    for sub in ["products", "instances"] {
        copy_tree(&p.join(sub), &copy.path().join(sub));
    }
    std::fs::write(
        copy.path().join("instances/acme_api/siem1/config.yaml"),
        format!(
            "name: siem1\nproduct: acme_api\nsettings:\n  url: {}\n",
            native.url()
        ),
    )
    .unwrap();

    // meshroom: up, check, down through the component.
    let up = support::ok(p, &["up"]);
    assert!(up.contains("siem1"), "{up}");
    let plug =
        std::fs::read_to_string(p.join("instances/edr/edr1/plugs/siem1/events.yaml")).unwrap();
    assert!(
        plug.contains("status: up") && plug.contains("webhook_id: wh-1"),
        "{plug}"
    );
    assert!(
        !plug.contains("tok-wh-1"),
        "the secret output is not in the plug file"
    );
    let check = meshroom(p, &["check"]);
    assert!(!text(&check).contains("panicked"), "{}", text(&check));
    support::ok(p, &["down"]);
    assert!(ours.state.lock().unwrap().webhooks.is_empty());

    // Meshroom 0.3.4 runs the same hook file natively.
    let python = workspace_root().join("target/meshroom-venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `bash scripts/setup.sh`",
        python.display()
    );
    let mut cmd = Command::new(python);
    cmd.arg(fixture.join("run_native.py"))
        .arg(copy.path())
        .arg("k-123")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    let out = run_piped(cmd, None);
    assert!(
        out.status.success(),
        "Meshroom 0.3.4 failed:\n{}",
        text(&out)
    );
    assert!(native.state.lock().unwrap().webhooks.is_empty());

    let (a, b) = (comparable(&ours), comparable(&native));
    assert_eq!(a.len(), 3, "{a:#?}");
    assert_eq!(a, b, "meshroom sent {a:#?}\nMeshroom 0.3.4 sent {b:#?}");
}

#[test]
fn create_product_lang_python_scaffolds_hooks_that_build() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("products")).unwrap();
    let out = meshroom(
        p,
        &[
            "create", "product", "mysiem", "--from", "siem", "--lang", "python",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let setup = std::fs::read_to_string(p.join("products/mysiem/setup.py")).unwrap();
    assert!(
        setup.contains("from meshroom.decorators import setup_consumer"),
        "{setup}"
    );
    assert!(setup.contains("class API(requests.Session):"), "{setup}");
    assert!(!p.join("products/mysiem/adapter").exists(), "no Rust crate");
    let out = meshroom(p, &["build", "mysiem"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(p.join("products/mysiem/mysiem.wasm").is_file());
    let def = std::fs::read_to_string(p.join("products/mysiem/definition.yaml")).unwrap();
    assert!(def.contains("adapter: mysiem.wasm"), "{def}");
}

#[test]
fn requirements_are_bundled_from_a_hashed_lock_and_native_packages_refused() {
    // A pure-Python package, pinned and hashed: imported by the hooks at build time.
    let p = acme(&[
        ("setup.py", "import six\n\nVERSION = six.__version__\n"),
        (
            "requirements.txt",
            "six==1.16.0 --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254\n",
        ),
    ]);
    let out = meshroom(p.path(), &["build", "acme"]);
    assert!(out.status.success(), "{}", text(&out));

    // Not pinned with a hash: refused, saying how to make the lock.
    let p = acme(&[
        ("setup.py", "X = 1\n"),
        ("requirements.txt", "six==1.16.0\n"),
    ]);
    let t = build_fails(p.path());
    assert!(t.contains("--hash=sha256"), "{t}");

    // A package with native extensions only: refused, naming it.
    let p = acme(&[
        ("setup.py", "X = 1\n"),
        (
            "requirements.txt",
            "pyyaml==6.0.2 --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
        ),
    ]);
    let t = build_fails(p.path());
    assert!(
        t.contains("`pyyaml==6.0.2` has no pure-Python wheel"),
        "{t}"
    );
}
