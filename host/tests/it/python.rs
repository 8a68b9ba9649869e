//! Python hooks as sandboxed components: the Python twin of
//! `adapters/example-http` (`adapters/example-http-py`, hooks written as
//! the original Meshroom's vendors write them) is built by the real
//! `meshroom build` with componentize-py, then passes the same hook tests
//! as the Rust adapter against the same real HTTP API on 127.0.0.1.
//!
//! Built components are cached by the sha256 of their sources (in the
//! shared test cache), so the suite builds each one once, not every run.

use crate::runtime::{consumer_ctx_of, policy};
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
fn componentize_py() -> PathBuf {
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

/// Copies the product folder `src` into a fresh project as `products/<name>`.
fn project_with(src: &Path, name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("products").join(name);
    copy_tree(src, &dest);
    dir
}

fn copy_tree(src: &Path, dest: &Path) {
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

/// The id of the hook of `kind` (and `topic`, when given).
fn hook_id(adapter: &Adapter, kind: HookKind, topic: Option<&str>) -> String {
    adapter
        .info()
        .hooks_of(kind)
        .find(|h| topic.is_none() || h.topic.as_deref() == topic)
        .unwrap_or_else(|| panic!("no {kind} hook for {topic:?} in {:?}", adapter.info()))
        .id
        .clone()
}

/// The context of the consumer side of `edr1 -> siem1` on topic `events`.
fn consumer_ctx(api: &Api, outputs: Value) -> HookContext {
    consumer_ctx_of("example_http_py", api, outputs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_twin_describes_its_hooks() {
    let rt = runtime();
    let adapter = load_twin(&rt).await;
    let info = adapter.info();
    assert_eq!(info.product, "example_http_py");
    assert_eq!(info.version, "0.1.0");
    let setup = info.hooks_of(HookKind::Setup).next().unwrap();
    assert_eq!(setup.role, Some(Role::Consumer));
    assert_eq!(setup.topic.as_deref(), Some("events"));
    assert_eq!(setup.order, Some(HookOrder::First));
    assert_eq!(
        setup.title,
        "Create a webhook receiving the producer's events"
    );
    assert!(setup.owns_both);
    // A hook without a `mode=` serves both modes, as in the original.
    assert_eq!(setup.mode, None);
    // Titles fall back to the docstring, as in the original.
    let check = info.hooks_of(HookKind::Check).next().unwrap();
    assert_eq!(check.title, "Check the webhook exists");
    let kinds: Vec<HookKind> = info.hooks.iter().map(|h| h.kind).collect();
    for k in [
        HookKind::Teardown,
        HookKind::Check,
        HookKind::Produce,
        HookKind::Watch,
        HookKind::Trigger,
        HookKind::Execute,
        HookKind::Scaffold,
        HookKind::Pull,
        HookKind::Publish,
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_twin_sets_up_checks_and_tears_down_a_real_webhook() {
    let api = Api::start();
    let rt = runtime();
    let adapter = load_twin(&rt).await;
    let (setup, check, teardown) = (
        hook_id(&adapter, HookKind::Setup, Some("events")),
        hook_id(&adapter, HookKind::Check, Some("events")),
        hook_id(&adapter, HookKind::Teardown, Some("events")),
    );

    // setup: POST /webhooks; `plug.settings[...]` + `plug.save()` become
    // outputs, `plug.set_secret` a secret output.
    let outcome = adapter
        .setup(&setup, &consumer_ctx(&api, json!({})), &policy(&api, &[]))
        .await
        .unwrap();
    let id = outcome.outputs["webhook_id"].as_str().unwrap().to_string();
    assert_eq!(id, "wh-1");
    assert_eq!(outcome.secrets.len(), 1);
    assert_eq!(outcome.secrets[0].name, "webhook_token");
    assert_eq!(outcome.secrets[0].value.expose(), "tok-wh-1");
    {
        let st = api.state.lock().unwrap();
        let hook = &st.webhooks["wh-1"];
        assert_eq!(hook["topic"], "events");
        assert_eq!(hook["source"], "edr1");
        assert_eq!(hook["source_product"], "some_edr");
        assert_eq!(hook["format"], "ecs");
        assert_eq!(st.requests[0].headers["authorization"], "Bearer k-123");
        assert_eq!(st.requests[0].headers["content-type"], "application/json");
    }

    let recorded = json!({ "webhook_id": id });
    let report = adapter
        .check(
            &check,
            &consumer_ctx(&api, recorded.clone()),
            &policy(&api, &[]),
        )
        .await
        .unwrap();
    assert_eq!(report.state, CheckState::Up, "{report:?}");
    assert_eq!(report.detail, "webhook wh-1 present");

    // teardown: DELETE with the recorded id and the secret output; the
    // removed setting becomes a `null` output.
    let p = policy(&api, &[("webhook_token", "tok-wh-1")]);
    let outcome = adapter
        .teardown(&teardown, &consumer_ctx(&api, recorded.clone()), &p)
        .await
        .unwrap();
    assert_eq!(outcome.outputs["webhook_id"], Value::Null);
    assert!(outcome.outputs.contains_key("webhook_id"));
    assert!(api.state.lock().unwrap().webhooks.is_empty());
    let delete = api
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(delete.path, "/webhooks/wh-1");
    assert_eq!(delete.headers["x-webhook-token"], "tok-wh-1");

    let report = adapter
        .check(
            &check,
            &consumer_ctx(&api, recorded.clone()),
            &policy(&api, &[]),
        )
        .await
        .unwrap();
    assert_eq!(report.state, CheckState::Down);
    adapter
        .teardown(&teardown, &consumer_ctx(&api, recorded), &p)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_twin_errors_keep_their_kind() {
    let api = Api::start();
    let rt = runtime();
    let adapter = load_twin(&rt).await;
    let setup = hook_id(&adapter, HookKind::Setup, Some("events"));
    let ctx = consumer_ctx(&api, json!({}));

    // Host not in the policy: refused before any connection, naming the host.
    let no_http = CallPolicy::deny_all().with_secrets(|_: &str| Some("k-123".to_string()));
    let err = adapter.setup(&setup, &ctx, &no_http).await.unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Unreachable, "{err}");
    assert!(err.message.contains(&api.addr), "{err}");
    assert!(err.to_string().contains("sandbox"), "{err}");
    assert!(api.requests().is_empty(), "no request may reach the server");

    // Missing secret: invalid-config, saying what to set.
    let no_secret = CallPolicy::deny_all().allow_http(&api.url());
    let err = adapter.setup(&setup, &ctx, &no_secret).await.unwrap_err();
    assert_eq!(err.kind, HookErrorKind::InvalidConfig, "{err}");
    assert!(err.message.contains("api_key"), "{err}");
    assert!(
        err.message.contains("products/example_http_py/setup.py:"),
        "the error names the hook's file and line: {err}"
    );

    // Wrong key: the API answers 401 -> unauthorized; secrets redacted.
    let wrong = CallPolicy::deny_all()
        .allow_http(&api.url())
        .with_secrets(|_: &str| Some("nope-wrong".to_string()));
    let err = adapter.setup(&setup, &ctx, &wrong).await.unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Unauthorized, "{err}");
    assert!(err.message.contains("401"), "{err}");
    assert!(!err.message.contains("nope-wrong"), "{err}");

    // Missing setting.
    let mut bad = ctx.clone();
    bad.instance.as_mut().unwrap().settings = json!({});
    let err = adapter
        .setup(&setup, &bad, &policy(&api, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::InvalidConfig);
    assert!(err.message.contains("`url`"), "{err}");

    // Unknown hook id.
    let err = adapter
        .setup("nope", &ctx, &policy(&api, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::NotSupported);

    // A port that refuses connections: unreachable.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut gone = ctx.clone();
    gone.instance.as_mut().unwrap().settings = json!({ "url": url });
    let p = CallPolicy::deny_all()
        .allow_http(&url)
        .with_secrets(|_: &str| Some("k-123".to_string()));
    let err = adapter.setup(&setup, &gone, &p).await.unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Unreachable, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_twin_plays_data_and_commands() {
    let api = Api::start();
    let rt = runtime();
    let adapter = load_twin(&rt).await;

    // produce: the records reach the consumer's API.
    let mut ctx = consumer_ctx(&api, json!({}));
    let plug = ctx.plug.clone().unwrap();
    ctx.instance = Some(plug.src.clone());
    ctx.plug.as_mut().unwrap().dst.settings = json!({ "url": api.url() });
    let batch: Vec<Vec<u8>> = (0..5)
        .map(|i| format!("{{\"n\":{i}}}").into_bytes())
        .collect();
    let produce = hook_id(&adapter, HookKind::Produce, Some("events"));
    let report = adapter
        .produce(&produce, &ctx, &batch, &policy(&api, &[]))
        .await
        .unwrap();
    assert_eq!(report.accepted, 5);
    assert_eq!(api.state.lock().unwrap().events.len(), 5);

    // watch: the generator's pages of 2, 2, 1, then the end.
    let watch = hook_id(&adapter, HookKind::Watch, Some("events"));
    let mut watcher = adapter
        .watch(&watch, &consumer_ctx(&api, json!({})), &policy(&api, &[]))
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut batches = 0;
    while let Some(batch) = watcher.next().await.unwrap() {
        batches += 1;
        got.extend(batch);
    }
    assert_eq!(batches, 3);
    assert_eq!(
        got,
        (0..5).map(|i| format!("{{\"n\":{i}}}")).collect::<Vec<_>>()
    );
    assert_eq!(watcher.next().await.unwrap(), None);

    // trigger with params; execute without network; a hook raising
    // NotImplementedError is not-supported.
    let ctx = consumer_ctx(&api, json!({}));
    let trigger = hook_id(&adapter, HookKind::Trigger, Some("block_ip"));
    let out = adapter
        .trigger(
            &trigger,
            &ctx,
            &json!({"ip": "10.0.0.1", "duration": 60}),
            &policy(&api, &[]),
        )
        .await
        .unwrap();
    assert_eq!(
        out["command"],
        json!({"action": "deny", "ip": "10.0.0.1", "duration": 60})
    );
    let err = adapter
        .trigger(&trigger, &ctx, &json!({}), &policy(&api, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::InvalidConfig);
    let execute = hook_id(&adapter, HookKind::Execute, Some("block_ip"));
    let out = adapter
        .execute(
            &execute,
            &ctx,
            &json!({"ip": "10.0.0.2"}),
            &CallPolicy::deny_all(),
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        json!({"instance": "siem1", "would_run": "deny", "params": {"ip": "10.0.0.2"}})
    );
    let isolate = hook_id(&adapter, HookKind::Execute, Some("isolate_host"));
    let err = adapter
        .execute(&isolate, &ctx, &json!({}), &CallPolicy::deny_all())
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::NotSupported, "{err}");
    assert!(err.message.contains("cannot isolate hosts"), "{err}");

    // scaffold, pull, publish.
    let ictx = HookContext {
        integration: Some(IntegrationRef {
            product: "example_http_py".into(),
            target_product: "some_edr".into(),
            topic: "events".into(),
            role: Role::Consumer,
            mode: Mode::Push,
            format: None,
            settings: json!({"description": "from the manifest"}),
        }),
        ..HookContext::default()
    };
    let scaffold = hook_id(&adapter, HookKind::Scaffold, None);
    let files = adapter
        .scaffold(&scaffold, &ictx, &CallPolicy::deny_all())
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, "README.md");
    assert!(
        String::from_utf8_lossy(&files[0].contents).contains("example_http_py → some_edr (events)")
    );
    let pull = hook_id(&adapter, HookKind::Pull, None);
    let defs = adapter
        .pull(&pull, &HookContext::default(), &CallPolicy::deny_all())
        .await
        .unwrap();
    assert_eq!(defs[0].name, "example_partner");
    assert!(defs[0].definition.contains("consumes:"));
    let publish = hook_id(&adapter, HookKind::Publish, None);
    let msg = adapter
        .publish(&publish, &ictx, &CallPolicy::deny_all())
        .await
        .unwrap();
    assert_eq!(msg, "submitted example_http_py → some_edr (events)");
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
    let write = |rel: &str, text: &str| {
        let f = p.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    };
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
