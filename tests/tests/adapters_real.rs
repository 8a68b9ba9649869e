//! The four real adapters (caddy, rsyslog, crowdsec, medallion) against the
//! real products on 127.0.0.1: each test starts the product with the
//! harness, loads the built component into meshroom's runtime, calls the
//! hooks with a context, and checks the effect through the PRODUCT's own API
//! or output — never through what meshroom recorded.
//!
//! The adapters are built once per test run by `scripts/build-adapters.sh`
//! (a no-op when up to date).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use meshroom_runtime::{
    Adapter, CallPolicy, CheckState, HookContext, HookError, HookErrorKind, InstanceRef, Mode,
    PlugRef, Runtime, RuntimeConfig,
};
use meshroom_tests::http;
use meshroom_tests::taxii::ACCEPT;
use meshroom_tests::{
    Caddy, CrowdSec, Rsyslog, Taxii, free_port, random_hex, random_uuid, workspace_root,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------- helpers

/// Builds the adapters once per test process.
fn adapters_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = workspace_root();
            let status = std::process::Command::new("bash")
                .arg(root.join("scripts/build-adapters.sh"))
                .status()
                .expect("failed to run scripts/build-adapters.sh");
            assert!(status.success(), "scripts/build-adapters.sh failed");
            root.join("adapters/target/wasm32-wasip2/release")
        })
        .clone()
}

/// One runtime per test process, caching compiled components under target/.
fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Runtime::new(RuntimeConfig {
                cache_dir: Some(workspace_root().join("target/meshroom-test-cache")),
                ..RuntimeConfig::default()
            })
            .expect("runtime")
        })
        .clone()
}

async fn load(product: &str) -> Adapter {
    let path = adapters_dir().join(format!("{product}.wasm"));
    let adapter = runtime().load_file(&path).await.expect("load adapter");
    assert_eq!(adapter.product(), product);
    adapter
}

fn instance(product: &str, name: &str, settings: Value) -> InstanceRef {
    InstanceRef {
        name: name.into(),
        product: product.into(),
        settings,
    }
}

fn plug(
    src: InstanceRef,
    dst: InstanceRef,
    topic: &str,
    mode: Mode,
    format: Option<&str>,
) -> PlugRef {
    PlugRef {
        src,
        dst,
        topic: topic.into(),
        mode,
        format: format.map(str::to_string),
        is_trigger: false,
        src_config: json!({}),
        dst_config: json!({}),
        outputs: json!({}),
    }
}

fn ctx(instance: &InstanceRef, plug: Option<&PlugRef>) -> HookContext {
    HookContext {
        instance: Some(instance.clone()),
        plug: plug.cloned(),
        integration: None,
    }
}

/// A policy allowing HTTP to `url`'s authority and answering `secrets`.
fn http_policy(url: &str, secrets: &[(&str, &str)]) -> CallPolicy {
    let secrets: Vec<(String, String)> = secrets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let secrets = Arc::new(secrets);
    CallPolicy::deny_all()
        .allow_http(url)
        .with_secrets(move |name: &str| {
            secrets
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
}

/// The error of a hook that must fail, with its kind checked.
fn expect_err<T: std::fmt::Debug>(result: Result<T, HookError>, kind: HookErrorKind) -> HookError {
    let err = result.expect_err("the hook should have failed");
    assert_eq!(err.kind, kind, "unexpected error kind: {err}");
    err
}

/// An URL on a loopback port where nothing listens.
fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port().unwrap())
}

/// A GET from `127.0.0.2` (another loopback address), returning the status;
/// retried like [`get_through_reload`].
async fn status_from_127_0_0_2(url: &str) -> u16 {
    let mut last = None;
    for _ in 0..10 {
        match get_from_127_0_0_2(url).await {
            Ok(status) => return status,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("GET {url} from 127.0.0.2 kept failing: {last:?}");
}

async fn get_from_127_0_0_2(url: &str) -> std::io::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind("127.0.0.2:0".parse().unwrap())?;
    let mut stream = socket.connect(authority.parse().unwrap()).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await??;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {text}")))
}

/// A GET's status; retried while Caddy swaps in a new config (a config
/// change through the admin API can reset a connection opened meanwhile).
fn get_through_reload(url: &str) -> u16 {
    let mut last = None;
    for _ in 0..10 {
        match http::get(url).send() {
            Ok(r) => return r.status,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("GET {url} kept failing: {last:?}");
}

/// Caddy's own view of an `@id`: the object, or None on 404.
fn caddy_id(caddy: &Caddy, id: &str) -> Option<Value> {
    let r = http::get(&format!("{}/id/{id}", caddy.admin_url()))
        .send()
        .unwrap();
    match r.status {
        200 => Some(r.json().unwrap()),
        404 => None,
        s => panic!("caddy GET /id/{id} answered {s}: {}", r.text()),
    }
}

// ---------------------------------------------------------------- caddy → rsyslog

#[tokio::test(flavor = "multi_thread")]
async fn caddy_ships_access_logs_to_rsyslog_and_teardown_stops_them() {
    let rsyslog = Rsyslog::start().unwrap();
    let caddy = Caddy::start().unwrap();
    let adapter = load("caddy").await;

    let edge = instance("caddy", "edge", json!({"admin_url": caddy.admin_url()}));
    let collector = instance("rsyslog", "collector", json!({"address": rsyslog.addr()}));
    let mut events = plug(edge.clone(), collector, "events", Mode::Push, Some("json"));
    // The adapter may only reach Caddy's admin API: Caddy itself dials rsyslog.
    let policy = http_policy(&caddy.admin_url(), &[]);

    let outcome = adapter
        .setup("ship_access_logs", &ctx(&edge, Some(&events)), &policy)
        .await
        .unwrap();
    let logger_id = outcome.outputs["caddy_logger_id"]
        .as_str()
        .unwrap()
        .to_string();
    let server_logs_id = outcome.outputs["caddy_server_logs_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Caddy's own config holds them.
    let logger = caddy_id(&caddy, &logger_id).expect("the logger exists in caddy");
    assert_eq!(
        logger["writer"]["address"],
        format!("tcp/{}", rsyslog.addr())
    );
    assert_eq!(
        caddy_id(&caddy, &server_logs_id).unwrap()["default_logger_name"],
        outcome.outputs["caddy_logger_name"]
    );

    // Real traffic through Caddy arrives at rsyslog as JSON access lines.
    let probe = format!("/meshroom-probe-{}", random_hex(6));
    for _ in 0..3 {
        assert_eq!(
            get_through_reload(&format!("{}{probe}", caddy.http_url())),
            200
        );
    }
    let lines = rsyslog.wait_for_lines(3, Duration::from_secs(10)).unwrap();
    let hits: Vec<&String> = lines.iter().filter(|l| l.contains(&probe)).collect();
    assert_eq!(hits.len(), 3, "access lines at rsyslog: {lines:#?}");
    assert!(
        hits[0].contains("\"status\":200") && hits[0].contains("http.log.access"),
        "{}",
        hits[0]
    );

    // Setup again (idempotent): same ids, no duplicate.
    let again = adapter
        .setup("ship_access_logs", &ctx(&edge, Some(&events)), &policy)
        .await
        .unwrap();
    assert_eq!(
        again.outputs["caddy_logger_id"],
        outcome.outputs["caddy_logger_id"]
    );

    events.outputs = serde_json::Value::Object(outcome.outputs.clone());
    let report = adapter
        .check("check_access_logs", &ctx(&edge, Some(&events)), &policy)
        .await
        .unwrap();
    assert_eq!(report.state, CheckState::Up, "{}", report.detail);
    // The consumer moved: Caddy still ships to the old address.
    let mut moved = events.clone();
    moved.dst.settings["address"] = json!("127.0.0.1:9");
    let report = adapter
        .check("check_access_logs", &ctx(&edge, Some(&moved)), &policy)
        .await
        .unwrap();
    assert_eq!(report.state, CheckState::Drifted, "{}", report.detail);

    // Teardown removes exactly what setup made; traffic no longer reaches rsyslog.
    adapter
        .teardown("stop_access_logs", &ctx(&edge, Some(&events)), &policy)
        .await
        .unwrap();
    assert!(caddy_id(&caddy, &logger_id).is_none());
    assert!(caddy_id(&caddy, &server_logs_id).is_none());
    assert!(
        caddy_id(&caddy, "srv0-default").is_some(),
        "teardown touched the server's own route"
    );
    let before = rsyslog.received_lines().unwrap().len();
    let late = format!("/meshroom-late-{}", random_hex(6));
    assert_eq!(
        get_through_reload(&format!("{}{late}", caddy.http_url())),
        200
    );
    std::thread::sleep(Duration::from_millis(700));
    let after = rsyslog.received_lines().unwrap();
    assert_eq!(
        after.len(),
        before,
        "lines arrived after teardown: {after:#?}"
    );

    let report = adapter
        .check("check_access_logs", &ctx(&edge, Some(&events)), &policy)
        .await
        .unwrap();
    assert_eq!(report.state, CheckState::Down, "{}", report.detail);
    // Teardown twice is fine.
    adapter
        .teardown("stop_access_logs", &ctx(&edge, Some(&events)), &policy)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn caddy_setup_fails_clearly_when_the_consumer_or_caddy_is_down() {
    let caddy = Caddy::start().unwrap();
    let adapter = load("caddy").await;
    let edge = instance("caddy", "edge", json!({"admin_url": caddy.admin_url()}));
    let policy = http_policy(&caddy.admin_url(), &[]);

    // Nothing listens at the consumer's address: Caddy refuses, nothing is left behind.
    let nowhere = format!("127.0.0.1:{}", free_port().unwrap());
    let down = plug(
        edge.clone(),
        instance("rsyslog", "gone", json!({"address": nowhere})),
        "events",
        Mode::Push,
        None,
    );
    let err = expect_err(
        adapter
            .setup("ship_access_logs", &ctx(&edge, Some(&down)), &policy)
            .await,
        HookErrorKind::Unreachable,
    );
    assert!(
        err.message.contains(&nowhere) && err.message.contains("caddy"),
        "{err}"
    );
    let logs: Value = http::get(&format!("{}/config/logging/logs", caddy.admin_url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        logs.as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("meshroom")),
        "left behind: {logs}"
    );
    let server_logs = http::get(&format!(
        "{}/config/apps/http/servers/srv0/logs",
        caddy.admin_url()
    ))
    .send()
    .unwrap();
    assert_eq!(server_logs.text().trim(), "null");

    // A consumer without an address: a config error naming the setting.
    let no_addr = plug(
        edge.clone(),
        instance("rsyslog", "bare", json!({})),
        "events",
        Mode::Push,
        None,
    );
    let err = expect_err(
        adapter
            .setup("ship_access_logs", &ctx(&edge, Some(&no_addr)), &policy)
            .await,
        HookErrorKind::InvalidConfig,
    );
    assert!(
        err.message.contains("address") && err.message.contains("bare"),
        "{err}"
    );

    // A server Caddy does not have.
    let wrong = instance(
        "caddy",
        "edge",
        json!({"admin_url": caddy.admin_url(), "server": "srv9"}),
    );
    let r = adapter
        .execute(
            "deny_ip",
            &ctx(&wrong, None),
            &json!({"ip": "203.0.113.7"}),
            &policy,
        )
        .await;
    let err = expect_err(r, HookErrorKind::InvalidConfig);
    assert!(
        err.message.contains("srv9") && err.message.contains("srv0"),
        "{err}"
    );

    // Caddy's admin API down.
    let dead = dead_url();
    let gone = instance("caddy", "edge", json!({"admin_url": dead}));
    let r = adapter
        .execute(
            "deny_ip",
            &ctx(&gone, None),
            &json!({"ip": "203.0.113.7"}),
            &http_policy(&dead, &[]),
        )
        .await;
    let err = expect_err(r, HookErrorKind::Unreachable);
    assert!(err.message.contains(&dead), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn caddy_deny_blocks_the_ip_with_403_and_allow_unblocks_it() {
    let caddy = Caddy::start().unwrap();
    let adapter = load("caddy").await;
    let edge = instance("caddy", "edge", json!({"admin_url": caddy.admin_url()}));
    let policy = http_policy(&caddy.admin_url(), &[]);
    let site = format!("{}/", caddy.http_url());
    assert_eq!(status_from_127_0_0_2(&site).await, 200);

    let denied = adapter
        .execute(
            "deny_ip",
            &ctx(&edge, None),
            &json!({"ip": "127.0.0.2"}),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(denied["created"], true);
    assert_eq!(status_from_127_0_0_2(&site).await, 403);
    // Only that IP: the test's own 127.0.0.1 still gets through.
    assert_eq!(get_through_reload(&site), 200);

    // Deny twice: one route only (Caddy would accept a duplicate @id).
    let again = adapter
        .execute("deny_ip", &ctx(&edge, None), &json!("127.0.0.2"), &policy)
        .await
        .unwrap();
    assert_eq!(again["created"], false);
    let routes: Value = http::get(&format!(
        "{}/config/apps/http/servers/srv0/routes",
        caddy.admin_url()
    ))
    .send()
    .unwrap()
    .json()
    .unwrap();
    let id = denied["route_id"].as_str().unwrap();
    assert_eq!(
        routes
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["@id"] == id)
            .count(),
        1,
        "{routes}"
    );
    assert_eq!(routes[0]["@id"], id, "the block must be the first route");

    let allowed = adapter
        .execute(
            "allow_ip",
            &ctx(&edge, None),
            &json!({"ip": "127.0.0.2"}),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(allowed["removed"], true);
    assert_eq!(status_from_127_0_0_2(&site).await, 200);
    let allowed = adapter
        .execute(
            "allow_ip",
            &ctx(&edge, None),
            &json!({"ip": "127.0.0.2"}),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(allowed["removed"], false);

    let bad = adapter
        .execute(
            "deny_ip",
            &ctx(&edge, None),
            &json!({"ip": "127.0.0.2; DROP"}),
            &policy,
        )
        .await;
    expect_err(bad, HookErrorKind::InvalidConfig);
}

// ---------------------------------------------------------------- rsyslog

#[tokio::test(flavor = "multi_thread")]
async fn rsyslog_produce_sends_rfc5424_and_json_lines_over_tcp() {
    let rsyslog = Rsyslog::start().unwrap();
    let adapter = load("rsyslog").await;
    let collector = instance("rsyslog", "collector", json!({"address": rsyslog.addr()}));
    let edge = instance("caddy", "edge", json!({}));
    let policy = CallPolicy::deny_all().allow_socket(&rsyslog.addr());

    let tag = random_hex(6);
    let syslog = plug(
        edge.clone(),
        collector.clone(),
        "events",
        Mode::Push,
        Some("syslog"),
    );
    let batch = vec![
        format!("plain event {tag}").into_bytes(),
        format!("<13>1 2026-01-01T00:00:00Z host already - ID7 - preformatted {tag}").into_bytes(),
    ];
    let report = adapter
        .produce(
            "send_events",
            &ctx(&collector, Some(&syslog)),
            &batch,
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(report.accepted, 2);
    let lines = rsyslog.wait_for_lines(2, Duration::from_secs(10)).unwrap();
    assert!(
        lines.iter().any(|l| l.contains("app=edge msgid=events")
            && l.contains(&format!("msg=plain event {tag}"))),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("app=already msgid=ID7") && l.contains("preformatted")),
        "{lines:#?}"
    );

    let json_plug = plug(edge, collector.clone(), "events", Mode::Push, Some("json"));
    let doc = json!({"event": "login", "tag": tag}).to_string();
    let report = adapter
        .produce(
            "send_events",
            &ctx(&collector, Some(&json_plug)),
            &[doc.clone().into_bytes()],
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(report.accepted, 1);
    let lines = rsyslog.wait_for_lines(3, Duration::from_secs(10)).unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"event\":\"login\"") && l.contains(&tag)),
        "{lines:#?}"
    );

    // The sandbox refuses a socket the policy does not list.
    let r = adapter
        .produce(
            "send_events",
            &ctx(&collector, Some(&syslog)),
            &batch,
            &CallPolicy::deny_all(),
        )
        .await;
    expect_err(r, HookErrorKind::Unreachable);

    // rsyslog down: unreachable, naming the address.
    let nowhere = format!("127.0.0.1:{}", free_port().unwrap());
    let gone = instance("rsyslog", "gone", json!({"address": nowhere}));
    let r = adapter
        .produce(
            "send_events",
            &ctx(&gone, None),
            &batch,
            &CallPolicy::deny_all().allow_socket(&nowhere),
        )
        .await;
    let err = expect_err(r, HookErrorKind::Unreachable);
    assert!(err.message.contains(&nowhere), "{err}");
}

// ---------------------------------------------------------------- crowdsec

fn crowdsec_policy(cs: &CrowdSec) -> CallPolicy {
    http_policy(
        &cs.url(),
        &[
            ("password", cs.password()),
            ("bouncer_key", cs.bouncer_key()),
        ],
    )
}

fn crowdsec_instance(cs: &CrowdSec) -> InstanceRef {
    instance(
        "crowdsec",
        "ips",
        json!({"url": cs.url(), "machine_id": cs.machine_id()}),
    )
}

/// The decisions CrowdSec itself lists for an IP (bouncer API).
fn decisions_on(cs: &CrowdSec, ip: &str) -> Vec<Value> {
    let r = http::get(&format!("{}/v1/decisions?ip={ip}", cs.url()))
        .header("X-Api-Key", cs.bouncer_key())
        .send()
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // "No decision" is `null`.
    r.json().unwrap().as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn crowdsec_deny_creates_a_real_ban_that_allow_deletes_and_watch_streams() {
    let cs = CrowdSec::start().unwrap();
    let adapter = load("crowdsec").await;
    let ips = crowdsec_instance(&cs);
    let policy = crowdsec_policy(&cs);

    let mut watcher = adapter
        .watch("watch_decisions", &ctx(&ips, None), &policy)
        .await
        .unwrap();
    assert_eq!(
        watcher.next().await.unwrap(),
        Some(vec![]),
        "no decision yet"
    );

    let ban = adapter
        .execute(
            "ban_ip",
            &ctx(&ips, None),
            &json!({"ip": "203.0.113.7"}),
            &policy,
        )
        .await
        .unwrap();
    let ids: Vec<u64> = ban["decision_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "{ban}");
    let listed = decisions_on(&cs, "203.0.113.7");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"].as_u64(), Some(ids[0]));
    assert_eq!(listed[0]["type"], "ban");
    // Fresh stop_at: the decision lasts about the 4 h asked, not already expired.
    assert!(
        listed[0]["duration"].as_str().unwrap().starts_with("3h59m"),
        "{}",
        listed[0]
    );

    // The stream shows it.
    let batch = watcher.next().await.unwrap().unwrap();
    let news: Vec<Value> = batch
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    assert!(
        news.iter()
            .any(|d| d["value"] == "203.0.113.7" && d["status"] == "new"),
        "{news:?}"
    );

    let freed = adapter
        .execute(
            "unban_ip",
            &ctx(&ips, None),
            &json!({"ip": "203.0.113.7"}),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(freed["deleted"], 1);
    assert!(decisions_on(&cs, "203.0.113.7").is_empty());
    let batch = watcher.next().await.unwrap().unwrap();
    assert!(
        batch
            .iter()
            .any(|r| r.contains("203.0.113.7") && r.contains("\"deleted\"")),
        "{batch:?}"
    );

    // Alerts are readable too.
    let mut alerts = adapter
        .watch("watch_alerts", &ctx(&ips, None), &policy)
        .await
        .unwrap();
    let batch = alerts.next().await.unwrap().unwrap();
    assert!(
        batch
            .iter()
            .any(|a| a.contains("meshroom/deny") && a.contains("203.0.113.7")),
        "{batch:?}"
    );

    // A range, with its own duration.
    let ban = adapter
        .execute(
            "ban_ip",
            &ctx(&ips, None),
            &json!({"ip": "198.51.100.0/24", "duration": "30m"}),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(ban["scope"], "Range");
    let listed = decisions_on(&cs, "198.51.100.20");
    assert!(
        listed.iter().any(|d| d["value"] == "198.51.100.0/24"
            && d["duration"].as_str().unwrap().starts_with("29m")),
        "{listed:?}"
    );
    let freed = adapter
        .execute(
            "unban_ip",
            &ctx(&ips, None),
            &json!({"ip": "198.51.100.0/24"}),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(freed["deleted"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn crowdsec_plug_teardown_deletes_only_the_decisions_the_plug_created() {
    let cs = CrowdSec::start().unwrap();
    let adapter = load("crowdsec").await;
    let ips = crowdsec_instance(&cs);
    let policy = crowdsec_policy(&cs);
    let soar = instance("example_http", "soar", json!({}));
    let mut deny = plug(soar, ips.clone(), "deny", Mode::Push, Some("ip"));
    deny.is_trigger = true;

    let outcome = adapter
        .setup("accept_deny", &ctx(&ips, Some(&deny)), &policy)
        .await
        .unwrap();
    deny.outputs = Value::Object(outcome.outputs.clone());
    adapter
        .execute(
            "ban_ip",
            &ctx(&ips, Some(&deny)),
            &json!({"ip": "192.0.2.10"}),
            &policy,
        )
        .await
        .unwrap();
    adapter
        .execute(
            "ban_ip",
            &ctx(&ips, None),
            &json!({"ip": "192.0.2.11"}),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(decisions_on(&cs, "192.0.2.10").len(), 1);

    adapter
        .teardown("remove_plug_decisions", &ctx(&ips, Some(&deny)), &policy)
        .await
        .unwrap();
    assert!(
        decisions_on(&cs, "192.0.2.10").is_empty(),
        "the plug's ban survived teardown"
    );
    assert_eq!(
        decisions_on(&cs, "192.0.2.11").len(),
        1,
        "teardown deleted a ban it did not create"
    );
    // Twice is fine.
    adapter
        .teardown("remove_plug_decisions", &ctx(&ips, Some(&deny)), &policy)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn crowdsec_errors_are_typed_and_name_the_api() {
    let cs = CrowdSec::start().unwrap();
    let adapter = load("crowdsec").await;
    let ips = crowdsec_instance(&cs);

    let wrong_password = http_policy(
        &cs.url(),
        &[("password", "nope"), ("bouncer_key", cs.bouncer_key())],
    );
    let r = adapter
        .execute(
            "ban_ip",
            &ctx(&ips, None),
            &json!({"ip": "203.0.113.9"}),
            &wrong_password,
        )
        .await;
    let err = expect_err(r, HookErrorKind::Unauthorized);
    assert!(
        err.message.contains(&cs.url()) && err.message.contains("meshroom-tests"),
        "{err}"
    );
    assert!(!err.message.contains(cs.password()));
    assert!(decisions_on(&cs, "203.0.113.9").is_empty());

    let wrong_key = http_policy(
        &cs.url(),
        &[("password", cs.password()), ("bouncer_key", "nope")],
    );
    let mut w = adapter
        .watch("watch_decisions", &ctx(&ips, None), &wrong_key)
        .await
        .unwrap();
    expect_err(w.next().await, HookErrorKind::Unauthorized);

    let missing = http_policy(&cs.url(), &[]);
    let r = adapter
        .execute(
            "ban_ip",
            &ctx(&ips, None),
            &json!({"ip": "203.0.113.9"}),
            &missing,
        )
        .await;
    let err = expect_err(r, HookErrorKind::InvalidConfig);
    assert!(err.message.contains("password"), "{err}");

    let policy = crowdsec_policy(&cs);
    for bad in [
        json!({}),
        json!({"ip": ""}),
        json!({"ip": "203.0.113.9&scope=x"}),
    ] {
        let r = adapter
            .execute("unban_ip", &ctx(&ips, None), &bad, &policy)
            .await;
        expect_err(r, HookErrorKind::InvalidConfig);
    }

    let dead = dead_url();
    let gone = instance("crowdsec", "ips", json!({"url": dead, "machine_id": "x"}));
    let r = adapter
        .execute(
            "ban_ip",
            &ctx(&gone, None),
            &json!({"ip": "203.0.113.9"}),
            &http_policy(&dead, &[("password", "x")]),
        )
        .await;
    let err = expect_err(r, HookErrorKind::Unreachable);
    assert!(err.message.contains(&dead), "{err}");
}

// ---------------------------------------------------------------- medallion (TAXII 2.1)

fn taxii_instance(t: &Taxii, api_root: Option<&str>) -> InstanceRef {
    let mut settings =
        json!({"url": t.url(), "collection_id": t.collection_id(), "username": t.user()});
    if let Some(root) = api_root {
        settings["api_root"] = json!(root);
    }
    instance("medallion", "tip", settings)
}

fn indicator(ip: &str) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--{}", random_uuid()),
        "created": "2026-11-27T21:00:00.000Z",
        "modified": "2026-11-27T21:00:00.000Z",
        "name": format!("malicious {ip}"),
        "pattern": format!("[ipv4-addr:value = '{ip}']"),
        "pattern_type": "stix",
        "valid_from": "2026-11-27T21:00:00Z",
    })
}

/// The ids TAXII itself lists in the collection.
fn taxii_ids(t: &Taxii) -> Vec<String> {
    let r = http::get(&t.objects_url())
        .basic_auth(t.user(), t.password())
        .header("Accept", ACCEPT)
        .send()
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = r.json().unwrap();
    v["objects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn medallion_posts_stix_bundles_and_watch_reads_them_back() {
    let taxii = Taxii::start().unwrap();
    let adapter = load("medallion").await;
    // No api_root: found through discovery.
    let tip = taxii_instance(&taxii, None);
    let policy = http_policy(&taxii.url(), &[("password", taxii.password())]);
    let feed = instance("example_http", "feed", json!({}));
    let threats = plug(feed, tip.clone(), "threats", Mode::Push, Some("stix"));

    let outcome = adapter
        .setup(
            "check_writable_collection",
            &ctx(&tip, Some(&threats)),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.outputs["taxii_collection_id"],
        taxii.collection_id()
    );

    let mut watcher = adapter
        .watch("read_objects", &ctx(&tip, Some(&threats)), &policy)
        .await
        .unwrap();
    assert_eq!(watcher.next().await.unwrap(), Some(vec![]));

    // One record is an object, the other a whole bundle.
    let (a, b) = (indicator("203.0.113.7"), indicator("203.0.113.8"));
    let bundle = json!({"type": "bundle", "id": format!("bundle--{}", random_uuid()), "objects": [b.clone()]});
    let batch = vec![a.to_string().into_bytes(), bundle.to_string().into_bytes()];
    let report = adapter
        .produce("post_bundle", &ctx(&tip, Some(&threats)), &batch, &policy)
        .await
        .unwrap();
    assert_eq!(report.accepted, 2, "{}", report.detail);
    let listed = taxii_ids(&taxii);
    assert!(
        listed.contains(&a["id"].as_str().unwrap().to_string())
            && listed.contains(&b["id"].as_str().unwrap().to_string()),
        "{listed:?}"
    );

    let got = watcher.next().await.unwrap().unwrap();
    let got_ids: Vec<String> = got
        .iter()
        .map(|o| {
            serde_json::from_str::<Value>(o).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(got_ids.len(), 2, "{got:?}");
    assert!(got_ids.contains(&a["id"].as_str().unwrap().to_string()));

    // Only what is new comes next (added_after).
    let c = indicator("203.0.113.9");
    adapter
        .produce(
            "post_bundle",
            &ctx(&tip, Some(&threats)),
            &[c.to_string().into_bytes()],
            &policy,
        )
        .await
        .unwrap();
    let got = watcher.next().await.unwrap().unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains(c["id"].as_str().unwrap()));

    // More objects than one page: `next` paging reads them all, once.
    let many: Vec<Vec<u8>> = (0..120)
        .map(|i| {
            indicator(&format!("192.0.2.{}", i % 250))
                .to_string()
                .into_bytes()
        })
        .collect();
    assert_eq!(
        adapter
            .produce("post_bundle", &ctx(&tip, Some(&threats)), &many, &policy)
            .await
            .unwrap()
            .accepted,
        120
    );
    let mut reader = adapter
        .watch(
            "read_objects",
            &ctx(&tip, Some(&threats)),
            &http_policy(&taxii.url(), &[("password", taxii.password())]),
        )
        .await
        .unwrap();
    let mut total = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while total < 123 && Instant::now() < deadline {
        total += reader.next().await.unwrap().unwrap().len();
    }
    assert_eq!(total, 123);

    let mut up = threats.clone();
    up.outputs = Value::Object(outcome.outputs.clone());
    let report = adapter
        .check("check_collection", &ctx(&tip, Some(&up)), &policy)
        .await
        .unwrap();
    assert_eq!(report.state, CheckState::Up, "{}", report.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn medallion_errors_are_typed_and_name_the_server() {
    let taxii = Taxii::start().unwrap();
    let adapter = load("medallion").await;
    let tip = taxii_instance(&taxii, Some("meshroom"));
    let feed = instance("example_http", "feed", json!({}));
    let threats = plug(feed, tip.clone(), "threats", Mode::Push, Some("stix"));
    let good = http_policy(&taxii.url(), &[("password", taxii.password())]);

    let wrong = http_policy(&taxii.url(), &[("password", "nope")]);
    let r = adapter
        .setup(
            "check_writable_collection",
            &ctx(&tip, Some(&threats)),
            &wrong,
        )
        .await;
    let err = expect_err(r, HookErrorKind::Unauthorized);
    assert!(
        err.message.contains(&taxii.url()) && err.message.contains("401"),
        "{err}"
    );

    let mut other = tip.clone();
    other.settings["collection_id"] = json!("no-such-collection");
    let r = adapter
        .setup(
            "check_writable_collection",
            &ctx(&other, Some(&threats)),
            &good,
        )
        .await;
    let err = expect_err(r, HookErrorKind::InvalidConfig);
    assert!(
        err.message.contains("no-such-collection") && err.message.contains(taxii.collection_id()),
        "{err}"
    );
    let report = adapter
        .check("check_collection", &ctx(&other, Some(&threats)), &good)
        .await
        .unwrap();
    assert_eq!(report.state, CheckState::Down);

    let r = adapter
        .produce(
            "post_bundle",
            &ctx(&tip, Some(&threats)),
            &[b"not json".to_vec()],
            &good,
        )
        .await;
    expect_err(r, HookErrorKind::InvalidConfig);
    let r = adapter
        .produce(
            "post_bundle",
            &ctx(&tip, Some(&threats)),
            &[br#"{"name":"no type"}"#.to_vec()],
            &good,
        )
        .await;
    expect_err(r, HookErrorKind::InvalidConfig);
    assert!(
        taxii_ids(&taxii).is_empty(),
        "a rejected batch reached the server"
    );

    let dead = dead_url();
    let mut gone = tip.clone();
    gone.settings["url"] = json!(dead);
    let r = adapter
        .produce(
            "post_bundle",
            &ctx(&gone, None),
            &[indicator("203.0.113.7").to_string().into_bytes()],
            &http_policy(&dead, &[("password", "x")]),
        )
        .await;
    let err = expect_err(r, HookErrorKind::Unreachable);
    assert!(err.message.contains(&dead), "{err}");
}

/// Each definition.yaml names its component, declares its egress and the
/// capabilities its hooks serve.
#[tokio::test(flavor = "multi_thread")]
async fn definitions_match_the_adapters() {
    for product in ["caddy", "rsyslog", "crowdsec", "medallion"] {
        let path = workspace_root().join(format!("adapters/{product}/definition.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let def: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(def["name"].as_str(), Some(product));
        assert_eq!(
            def["adapter"].as_str(),
            Some(format!("{product}.wasm").as_str())
        );
        assert!(def["egress"].is_mapping(), "{product}: no egress");
        let adapter = load(product).await;
        for hook in &adapter.info().hooks {
            // The project model matches hooks to integrations by role.
            assert!(
                hook.role.is_some(),
                "{product}: hook `{}` has no role",
                hook.id
            );
            let Some(topic) = &hook.topic else { continue };
            let found = ["produces", "consumes", "executes", "triggers"]
                .iter()
                .any(|cap| def[*cap].get(topic.as_str()).is_some());
            assert!(
                found,
                "{product}: hook `{}` serves topic `{topic}`, which the definition lacks",
                hook.id
            );
        }
    }
    // The plug caddy → rsyslog resolves: caddy's setup owns both ends.
    let caddy = load("caddy").await;
    assert!(
        caddy
            .info()
            .hooks
            .iter()
            .any(|h| h.id == "ship_access_logs" && h.owns_both)
    );
}
