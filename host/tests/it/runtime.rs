//! The adapter runtime against real adapters (built from `adapters/` by
//! `scripts/build-adapters.sh`) and a real HTTP API on 127.0.0.1: the
//! example adapter's calls really happen; each hostile attempt ends as a
//! clear error while other calls in the same runtime still succeed.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::support::{Api, adapter_wasm, shared_cache};
use meshroom::runtime::*;
use serde_json::{Value, json};

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(shared_cache()),
        memory_cap: 64 << 20,
        cpu_limit: Duration::from_millis(500),
        timeout: Duration::from_secs(3),
        max_instances: 64,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

pub(crate) fn instance(name: &str, product: &str, url: &str) -> InstanceRef {
    InstanceRef {
        name: name.into(),
        product: product.into(),
        settings: json!({ "url": url }),
    }
}

/// The context of the consumer side of `edr1 -> siem1` on topic `events`,
/// for the adapter of `product`.
pub(crate) fn consumer_ctx_of(product: &str, api: &Api, outputs: Value) -> HookContext {
    let dst = instance("siem1", product, &api.url());
    HookContext {
        instance: Some(dst.clone()),
        plug: Some(PlugRef {
            src: instance("edr1", "some_edr", "http://127.0.0.1:9"),
            dst,
            topic: "events".into(),
            mode: Mode::Push,
            format: Some("ecs".into()),
            is_trigger: false,
            src_config: json!({}),
            dst_config: json!({}),
            outputs,
        }),
        integration: None,
    }
}

/// A policy allowing the API, answering the instance's and plug's secrets.
pub(crate) fn policy(api: &Api, plug_secrets: &[(&str, &str)]) -> CallPolicy {
    let mut secrets: Vec<(String, String)> = vec![("api_key".into(), "k-123".into())];
    secrets.extend(
        plug_secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    CallPolicy::deny_all()
        .allow_http(&api.url())
        .with_secrets(move |name: &str| {
            secrets
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
}

/// The id of `adapter`'s hook of `kind` (and `topic`, when given): the
/// Rust example adapter and its Python twin name their hooks differently
/// (`create_webhook`, `setup.create_webhook`), so the shared bodies below
/// find them by what they do.
pub(crate) fn hook_id(adapter: &Adapter, kind: HookKind, topic: Option<&str>) -> String {
    adapter
        .info()
        .hooks_of(kind)
        .find(|h| topic.is_none() || h.topic.as_deref() == topic)
        .unwrap_or_else(|| panic!("no {kind} hook for {topic:?} in {:?}", adapter.info()))
        .id
        .clone()
}

// The example adapter's hook tests, one body each for the Rust adapter
// (`adapters/example-http`) and its Python twin (`adapters/example-http-py`,
// `python.rs`): the same REST API, the same answers.

/// `describe()` of an example adapter serving `product`.
pub(crate) fn example_describes_its_hooks(info: &AdapterInfo, product: &str) {
    assert_eq!(info.product, product);
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

/// setup, check, teardown of a real webhook on `api`, then check and
/// teardown again once it is gone.
pub(crate) async fn example_sets_up_checks_and_tears_down(adapter: &Adapter, api: &Api) {
    let product = adapter.info().product.clone();
    let ctx = |outputs: Value| consumer_ctx_of(&product, api, outputs);
    let (setup, check, teardown) = (
        hook_id(adapter, HookKind::Setup, Some("events")),
        hook_id(adapter, HookKind::Check, Some("events")),
        hook_id(adapter, HookKind::Teardown, Some("events")),
    );

    // setup: POST /webhooks, records the id and the token (secret output).
    let outcome = adapter
        .setup(&setup, &ctx(json!({})), &policy(api, &[]))
        .await
        .unwrap();
    let id = outcome.outputs["webhook_id"].as_str().unwrap().to_string();
    assert_eq!(id, "wh-1");
    assert_eq!(outcome.secrets.len(), 1);
    assert_eq!(outcome.secrets[0].name, "webhook_token");
    assert_eq!(outcome.secrets[0].value.expose(), "tok-wh-1");
    assert!(
        !format!("{outcome:?}").contains("tok-wh-1"),
        "secret outputs never show in Debug"
    );
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

    // check: GET finds it.
    let recorded = json!({ "webhook_id": id });
    let report = adapter
        .check(&check, &ctx(recorded.clone()), &policy(api, &[]))
        .await
        .unwrap();
    assert_eq!(report.state, CheckState::Up, "{report:?}");
    assert_eq!(report.detail, "webhook wh-1 present");

    // teardown: DELETE with the recorded id and the secret output; the
    // cleared output is a `null` output.
    let p = policy(api, &[("webhook_token", "tok-wh-1")]);
    let outcome = adapter
        .teardown(&teardown, &ctx(recorded.clone()), &p)
        .await
        .unwrap();
    assert!(outcome.outputs.contains_key("webhook_id"), "{outcome:?}");
    assert_eq!(
        outcome.outputs["webhook_id"],
        Value::Null,
        "teardown clears the output"
    );
    assert!(api.state.lock().unwrap().webhooks.is_empty());
    let delete = api
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(delete.path, "/webhooks/wh-1");
    assert_eq!(delete.headers["x-webhook-token"], "tok-wh-1");

    // check now reports it gone; teardown again is harmless (idempotent).
    let report = adapter
        .check(&check, &ctx(recorded.clone()), &policy(api, &[]))
        .await
        .unwrap();
    assert_eq!(report.state, CheckState::Down);
    adapter
        .teardown(&teardown, &ctx(recorded), &p)
        .await
        .unwrap();
}

/// Each failure of the setup hook keeps its kind; returns the error of
/// the call without a secret (for the twin's check of file and line).
pub(crate) async fn example_errors_keep_their_kind(adapter: &Adapter, api: &Api) -> HookError {
    let product = adapter.info().product.clone();
    let ctx = consumer_ctx_of(&product, api, json!({}));
    let setup = hook_id(adapter, HookKind::Setup, Some("events"));

    // Host not in the policy: refused before any connection, naming the host.
    let no_http = CallPolicy::deny_all().with_secrets(|_: &str| Some("k-123".to_string()));
    let err = adapter.setup(&setup, &ctx, &no_http).await.unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Unreachable, "{err}");
    assert!(err.message.contains(&api.addr), "{err}");
    assert!(err.to_string().contains("sandbox"), "{err}");
    assert!(api.requests().is_empty(), "no request may reach the server");

    // Missing secret: invalid-config, saying what to set.
    let no_secret = CallPolicy::deny_all().allow_http(&api.url());
    let missing = adapter.setup(&setup, &ctx, &no_secret).await.unwrap_err();
    assert_eq!(missing.kind, HookErrorKind::InvalidConfig, "{missing}");
    assert!(missing.message.contains("api_key"), "{missing}");

    // Wrong key: the API answers 401 -> unauthorized; secrets redacted.
    let wrong = CallPolicy::deny_all()
        .allow_http(&api.url())
        .with_secrets(|_: &str| Some("nope-wrong".to_string()));
    let err = adapter.setup(&setup, &ctx, &wrong).await.unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Unauthorized, "{err}");
    assert!(err.message.contains("401"), "{err}");
    assert!(
        !err.message.contains("nope-wrong"),
        "secrets are redacted from errors: {err}"
    );

    // Missing setting.
    let mut bad = ctx.clone();
    bad.instance.as_mut().unwrap().settings = json!({});
    let err = adapter
        .setup(&setup, &bad, &policy(api, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::InvalidConfig);
    assert!(err.message.contains("`url`"), "{err}");

    // Unknown hook id, and a hook of another kind: never run.
    let err = adapter
        .setup("nope", &ctx, &policy(api, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::NotSupported);
    let teardown = hook_id(adapter, HookKind::Teardown, Some("events"));
    let err = adapter
        .setup(&teardown, &ctx, &policy(api, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::NotSupported, "{err}");
    assert!(
        api.requests().iter().all(|r| r.method != "DELETE"),
        "the teardown did not run"
    );

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
    missing
}

/// produce, watch, trigger, execute, scaffold, pull and publish.
pub(crate) async fn example_plays_data_and_commands(adapter: &Adapter, api: &Api) {
    let product = adapter.info().product.clone();
    let id = |kind: HookKind, topic: Option<&str>| hook_id(adapter, kind, topic);

    // produce: the producer side sends to the consumer's API.
    let mut ctx = consumer_ctx_of(&product, api, json!({}));
    let plug = ctx.plug.clone().unwrap();
    ctx.instance = Some(plug.src.clone());
    ctx.plug.as_mut().unwrap().dst.settings = json!({ "url": api.url() });
    let batch: Vec<Vec<u8>> = (0..5)
        .map(|i| format!("{{\"n\":{i}}}").into_bytes())
        .collect();
    let report = adapter
        .produce(
            &id(HookKind::Produce, Some("events")),
            &ctx,
            &batch,
            &policy(api, &[]),
        )
        .await
        .unwrap();
    assert_eq!(report.accepted, 5);
    assert_eq!(api.state.lock().unwrap().events.len(), 5);

    // watch: pages of 2, 2, 1, then the end.
    let mut watcher = adapter
        .watch(
            &id(HookKind::Watch, Some("events")),
            &consumer_ctx_of(&product, api, json!({})),
            &policy(api, &[]),
        )
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
    assert_eq!(
        watcher.next().await.unwrap(),
        None,
        "an ended watcher stays ended"
    );

    // trigger with typed params; execute without network; a product that
    // cannot do something says so (not-supported).
    let ctx = consumer_ctx_of(&product, api, json!({}));
    let trigger = id(HookKind::Trigger, Some("block_ip"));
    let out = adapter
        .trigger(
            &trigger,
            &ctx,
            &json!({"ip": "10.0.0.1", "duration": 60}),
            &policy(api, &[]),
        )
        .await
        .unwrap();
    assert_eq!(
        out["command"],
        json!({"action": "deny", "ip": "10.0.0.1", "duration": 60})
    );
    let err = adapter
        .trigger(&trigger, &ctx, &json!({}), &policy(api, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::InvalidConfig);
    let out = adapter
        .execute(
            &id(HookKind::Execute, Some("block_ip")),
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
    let err = adapter
        .execute(
            &id(HookKind::Execute, Some("isolate_host")),
            &ctx,
            &json!({}),
            &CallPolicy::deny_all(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::NotSupported, "{err}");
    assert!(err.message.contains("cannot isolate hosts"), "{err}");

    // scaffold, pull, publish.
    let ictx = HookContext {
        integration: Some(IntegrationRef {
            product: product.clone(),
            target_product: "some_edr".into(),
            topic: "events".into(),
            role: Role::Consumer,
            mode: Mode::Push,
            format: None,
            settings: json!({"description": "from the manifest"}),
        }),
        ..HookContext::default()
    };
    let files = adapter
        .scaffold(
            &id(HookKind::Scaffold, None),
            &ictx,
            &CallPolicy::deny_all(),
        )
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, "README.md");
    assert!(
        String::from_utf8_lossy(&files[0].contents)
            .contains(&format!("{product} → some_edr (events)"))
    );
    let defs = adapter
        .pull(
            &id(HookKind::Pull, None),
            &HookContext::default(),
            &CallPolicy::deny_all(),
        )
        .await
        .unwrap();
    assert_eq!(defs[0].name, "example_partner");
    assert!(defs[0].definition.contains("consumes:"));
    let msg = adapter
        .publish(&id(HookKind::Publish, None), &ictx, &CallPolicy::deny_all())
        .await
        .unwrap();
    assert_eq!(msg, format!("submitted {product} → some_edr (events)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_adapter_describes_its_hooks() {
    let rt = runtime();
    let adapter = rt.load_file(&adapter_wasm("example_http")).await.unwrap();
    example_describes_its_hooks(adapter.info(), "example_http");
    let setup = adapter.info().hooks_of(HookKind::Setup).next().unwrap();
    assert_eq!(setup.id, "create_webhook");
    // The hostile adapter declares no teardown/trigger/publish hooks: those
    // kinds are absent from its describe().
    let hostile = rt.load_file(&adapter_wasm("hostile")).await.unwrap();
    for k in [HookKind::Teardown, HookKind::Trigger, HookKind::Publish] {
        assert_eq!(hostile.info().hooks_of(k).count(), 0, "{k}");
    }
    assert!(hostile.info().hooks_of(HookKind::Execute).count() > 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_adapter_sets_up_checks_and_tears_down_a_real_webhook() {
    let api = Api::start();
    let rt = runtime();
    let adapter = rt.load_file(&adapter_wasm("example_http")).await.unwrap();
    example_sets_up_checks_and_tears_down(&adapter, &api).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_adapter_errors_keep_their_kind() {
    let api = Api::start();
    let rt = runtime();
    let adapter = rt.load_file(&adapter_wasm("example_http")).await.unwrap();
    example_errors_keep_their_kind(&adapter, &api).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_adapter_plays_data_and_commands() {
    let api = Api::start();
    let rt = runtime();
    let adapter = rt.load_file(&adapter_wasm("example_http")).await.unwrap();
    example_plays_data_and_commands(&adapter, &api).await;
}

/// Calls the hostile adapter's `ok` hook: the runtime must still serve it.
async fn still_ok(hostile: &Adapter) {
    let ctx = HookContext {
        instance: Some(instance("h1", "hostile", "http://127.0.0.1:9")),
        ..Default::default()
    };
    let out = hostile
        .execute("ok", &ctx, &json!({"n": 1}), &CallPolicy::deny_all())
        .await
        .unwrap();
    assert_eq!(out["ok"], true);
}

async fn hostile_call(
    hostile: &Adapter,
    hook: &str,
    params: Value,
    policy: &CallPolicy,
) -> Result<Value, HookError> {
    let ctx = HookContext {
        instance: Some(instance("h1", "hostile", "http://127.0.0.1:9")),
        ..Default::default()
    };
    hostile.execute(hook, &ctx, &params, policy).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_adapter_is_contained() {
    let rt = runtime();
    let hostile = rt.load_file(&adapter_wasm("hostile")).await.unwrap();
    let deny = CallPolicy::deny_all();
    still_ok(&hostile).await;

    // Endless loop: stopped by the CPU budget.
    let t = Instant::now();
    let err = hostile_call(&hostile, "spin", json!({}), &deny)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::CpuLimit, "{err}");
    assert!(
        err.to_string()
            .contains("hostile hook `spin` failed (cpu-limit)"),
        "{err}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "stopped promptly: {:?}",
        t.elapsed()
    );
    still_ok(&hostile).await;

    // A setup hook is bounded the same way.
    let err = hostile
        .setup("spin_setup", &HookContext::default(), &deny)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::CpuLimit, "{err}");

    // Sleeping (no CPU): stopped by the wall-clock timeout.
    let t = Instant::now();
    let short = CallPolicy::deny_all().with_timeout(Duration::from_millis(300));
    let err = hostile_call(&hostile, "sleep", json!({}), &short)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Timeout, "{err}");
    assert!(t.elapsed() < Duration::from_secs(2));
    still_ok(&hostile).await;

    // Huge allocation: stopped at the memory cap.
    let err = hostile_call(&hostile, "hog", json!({"mib": 1024}), &deny)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::MemoryLimit, "{err}");
    assert!(err.message.contains("cap of 64 MiB"), "{err}");
    // ...while a modest one is fine.
    let out = hostile_call(&hostile, "hog", json!({"mib": 8}), &deny)
        .await
        .unwrap();
    assert_eq!(out["allocated_mib"], 8);
    still_ok(&hostile).await;

    // Panic: a crash with the panic message.
    let err = hostile_call(&hostile, "panic", json!({}), &deny)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Crashed, "{err}");
    assert!(
        err.message.contains("hostile adapter panicked on purpose"),
        "{err}"
    );
    still_ok(&hostile).await;

    // HTTP to a host the policy does not allow: refused, naming the host;
    // the server never sees a request.
    let api = Api::start();
    let allowed_elsewhere = CallPolicy::deny_all().allow_http("127.0.0.1:1");
    let err = hostile_call(
        &hostile,
        "exfiltrate",
        json!({"url": format!("{}/steal", api.url())}),
        &allowed_elsewhere,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Unreachable, "{err}");
    assert!(err.message.contains(&api.addr), "{err}");
    assert!(api.requests().is_empty());
    // A name allowed by the policy that resolves to loopback is refused too.
    let port = api.addr.rsplit(':').next().unwrap();
    let by_name = CallPolicy::deny_all().allow_http(&format!("127.0.0.1.nip.invalid:{port}"));
    let err = hostile_call(
        &hostile,
        "exfiltrate",
        json!({"url": format!("http://127.0.0.1.nip.invalid:{port}/")}),
        &by_name,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Unreachable, "{err}");
    assert!(api.requests().is_empty());

    // TCP to a listening port not in the policy: refused, nothing accepted.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let err = hostile_call(&hostile, "tcp", json!({"addr": addr}), &deny)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Unreachable, "{err}");
    assert!(
        listener.accept().is_err(),
        "no connection may reach the listener"
    );
    still_ok(&hostile).await;

    // Other instances' secrets: the resolver answers only this instance's.
    let own = CallPolicy::deny_all()
        .with_secrets(|name: &str| (name == "api_key").then(|| "mine".to_string()));
    let out = hostile_call(
        &hostile,
        "steal",
        json!({"names": ["other/api_key", "../siem1/api_key", "siem1.api_key", "api_key"]}),
        &own,
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        json!({"other/api_key": null, "../siem1/api_key": null, "siem1.api_key": null, "api_key": "mine"})
    );

    // Files, environment, arguments: nothing there.
    let out = hostile_call(&hostile, "snoop", json!({}), &deny)
        .await
        .unwrap();
    for f in out["files"].as_array().unwrap() {
        assert!(f.get("error").is_some(), "file access must fail: {f}");
    }
    assert_eq!(out["read_dir_root"], Value::Null);
    assert_eq!(out["env"], json!([]));
    assert_eq!(out["args"], json!([]));

    // Leaking its own secret in logs and errors: redacted.
    let secret = CallPolicy::deny_all().with_secrets(|_: &str| Some("s3cr3t-value".to_string()));
    let err = hostile_call(&hostile, "leak", json!({}), &secret)
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("s3cr3t-value"), "{err}");
    assert!(err.message.contains("***"), "{err}");

    // Log flood: bounded, the call completes.
    let out = hostile_call(
        &hostile,
        "flood",
        json!({"lines": 2000, "size": 1000}),
        &deny,
    )
    .await
    .unwrap();
    assert_eq!(out["logged"], 2000);
    still_ok(&hostile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_calls_do_not_stop_concurrent_calls() {
    let rt = runtime();
    let hostile = rt.load_file(&adapter_wasm("hostile")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let h = hostile.clone();
        tasks.push(tokio::spawn(async move {
            let hook = if i % 2 == 0 { "spin" } else { "panic" };
            hostile_call(&h, hook, json!({}), &CallPolicy::deny_all())
                .await
                .map(|_| ())
        }));
    }
    for _ in 0..20 {
        still_ok(&hostile).await;
    }
    for t in tasks {
        assert!(t.await.unwrap().is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_code_and_describe_are_cached_per_digest() {
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..RuntimeConfig::default()
    };
    let bytes = std::fs::read(adapter_wasm("example_http")).unwrap();
    let digest = digest_of(&bytes);

    let first = Runtime::new(config.clone()).unwrap();
    assert!(first.describe_cached(&digest).is_none());
    let a = first.load(&bytes, "example_http.wasm").await.unwrap();
    assert_eq!(a.digest(), digest);
    let compiled: Vec<_> = std::fs::read_dir(dir.path().join("compiled"))
        .unwrap()
        .collect();
    assert_eq!(compiled.len(), 1, "one compiled artifact");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("compiled"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "the compiled cache is user-only");
    }

    // A new runtime (a new process, say) lists hooks without loading...
    let second = Runtime::new(config.clone()).unwrap();
    let info = second.describe_cached(&digest).unwrap();
    assert_eq!(&info, a.info());
    // ...and loads from the compiled cache, fast.
    let t = Instant::now();
    let b = second.load(&bytes, "example_http.wasm").await.unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "cache hit took {:?}",
        t.elapsed()
    );
    assert_eq!(b.info(), a.info());

    // A corrupt compiled file is recompiled, not trusted. (Replaced by a
    // rename, as the runtime itself writes: the loaded code is mapped from
    // the old file.)
    drop((a, b, first, second));
    let path = std::fs::read_dir(dir.path().join("compiled"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, b"garbage").unwrap();
    std::fs::rename(&garbage, &path).unwrap();
    let third = Runtime::new(config).unwrap();
    let c = third.load(&bytes, "example_http.wasm").await.unwrap();
    let out = c
        .execute(
            "explain_block",
            &HookContext {
                instance: Some(instance("x", "example_http", "")),
                ..Default::default()
            },
            &json!(1),
            &CallPolicy::deny_all(),
        )
        .await
        .unwrap();
    assert_eq!(out["would_run"], "deny");
    assert!(
        std::fs::metadata(&path).unwrap().len() > 1000,
        "the artifact was rewritten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_components_are_clear_errors() {
    let rt = runtime();
    let err = rt.load(b"not wasm at all", "junk.wasm").await.unwrap_err();
    assert!(matches!(err, LoadError::Compile { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("`junk.wasm` is not a valid WebAssembly component"),
        "{err}"
    );
    let err = rt
        .load_file(std::path::Path::new("/nonexistent/a.wasm"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("failed to read adapter `/nonexistent/a.wasm`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_stack_overflow_and_exit_are_contained() {
    let rt = runtime();
    let hostile = rt.load_file(&adapter_wasm("hostile")).await.unwrap();
    let deny = CallPolicy::deny_all();
    let err = hostile_call(&hostile, "recurse", json!({}), &deny)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Crashed, "{err}");
    assert!(err.message.contains("stack"), "{err}");
    still_ok(&hostile).await;
    let err = hostile_call(&hostile, "exit", json!({}), &deny)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Crashed, "{err}");
    assert!(err.message.contains("exit"), "{err}");
    still_ok(&hostile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_come_back_as_untrusted_data() {
    // The runtime never writes files: it hands scaffold/pull answers back
    // as they are, for the command to check. Here: what it must refuse.
    let rt = runtime();
    let hostile = rt.load_file(&adapter_wasm("hostile")).await.unwrap();
    let deny = CallPolicy::deny_all();
    let files = hostile
        .scaffold("scaffold_escape", &HookContext::default(), &deny)
        .await
        .unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"../../../escaped.txt"));
    let files = hostile
        .scaffold("scaffold_absolute", &HookContext::default(), &deny)
        .await
        .unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"/tmp/meshroom-hostile-absolute.txt"));
    let many = hostile
        .scaffold("scaffold_many", &HookContext::default(), &deny)
        .await
        .unwrap();
    assert_eq!(many.len(), 5_000);
    let defs = hostile
        .pull("pull_escape", &HookContext::default(), &deny)
        .await
        .unwrap();
    assert_eq!(defs[0].name, "../../evil");
    assert!(!std::path::Path::new("/tmp/meshroom-hostile-absolute.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_lines_reach_allowed_peers_only() {
    use std::io::BufRead;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let receiver = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        std::io::BufReader::new(conn)
            .lines()
            .map(|l| l.unwrap())
            .collect::<Vec<String>>()
    });
    let rt = runtime();
    let adapter = rt.load_file(&adapter_wasm("example_http")).await.unwrap();
    let mut src = instance("edr1", "example_http", "http://127.0.0.1:9");
    src.settings = json!({});
    let mut dst = instance("syslog1", "syslog", "");
    dst.settings = json!({ "address": addr });
    let ctx = HookContext {
        instance: Some(src.clone()),
        plug: Some(PlugRef {
            src,
            dst,
            topic: "logs".into(),
            mode: Mode::Push,
            format: None,
            is_trigger: false,
            src_config: json!({}),
            dst_config: json!({}),
            outputs: json!({}),
        }),
        integration: None,
    };
    let batch: Vec<Vec<u8>> = (0..100)
        .map(|i| format!("<13>record {i}").into_bytes())
        .collect();

    // Not in the policy: refused, nothing connects.
    let err = adapter
        .produce("send_lines", &ctx, &batch, &CallPolicy::deny_all())
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Unreachable, "{err}");

    // Allowed: every record arrives, in order.
    let allowed = CallPolicy::deny_all().allow_socket(&addr);
    let report = adapter
        .produce("send_lines", &ctx, &batch, &allowed)
        .await
        .unwrap();
    assert_eq!(report.accepted, 100);
    let lines = receiver.join().unwrap();
    assert_eq!(
        lines,
        (0..100)
            .map(|i| format!("<13>record {i}"))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_of_a_rust_adapter_gets_fresh_memory() {
    let bytes = std::fs::read(adapter_wasm("hostile")).unwrap();
    crate::support::assert_every_call_is_fresh(&bytes, "hostile.wasm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_runtimes_free_their_engine() {
    // Each runtime reserves its instance pool; a runtime and its adapters
    // dropped must give it back (no reference cycle), or a long-lived
    // process creating runtimes runs out of mappings.
    let bytes = std::fs::read(adapter_wasm("hostile")).unwrap();
    for _ in 0..200 {
        let rt = runtime();
        let adapter = rt.load(&bytes, "hostile.wasm").await.unwrap();
        still_ok(&adapter).await;
    }
}
