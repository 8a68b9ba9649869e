//! The harness's services: each starts on 127.0.0.1, answers its real API, and is
//! gone (process reaped, port free, folder deleted) once dropped — also when the
//! test panics or the process that started it dies.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use meshroom_tests::http::{self, base64};
use meshroom_tests::port::{free_ports, wait_port_free};
use meshroom_tests::taxii::ACCEPT;
use meshroom_tests::{
    Caddy, CrowdSec, DockerRegistry, HttpCollector, Reply, Rsyslog, Taxii, TcpLineReceiver,
    free_port, port_is_free, process_alive,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

/// After a service was dropped: its process is gone, its ports and folder are free.
fn assert_stopped(what: &str, pid: u32, ports: &[u16], dir: PathBuf) {
    assert!(!process_alive(pid), "{what} (pid {pid}) still runs");
    for &port in ports {
        wait_port_free(port, Duration::from_secs(5)).unwrap();
    }
    assert!(!dir.exists(), "{what}'s folder {} was left", dir.display());
}

#[test]
fn free_ports_are_distinct_and_bindable() {
    let ports = free_ports(20).unwrap();
    let mut unique = ports.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 20);
    assert!(ports.iter().all(|&p| port_is_free(p)));
    // Ports handed out are not handed out again soon.
    let next = free_port().unwrap();
    assert!(!ports.contains(&next));
    let held = std::net::TcpListener::bind(("127.0.0.1", next)).unwrap();
    assert!(!port_is_free(next));
    drop(held);
    assert!(port_is_free(next));
}

#[test]
fn docker_registry_serves_the_distribution_api() {
    let registry = DockerRegistry::start().unwrap();
    let v2 = http::get(&format!("{}/v2/", registry.url()))
        .send()
        .unwrap();
    assert_eq!(v2.status, 200);
    assert_eq!(
        v2.header("Docker-Distribution-API-Version"),
        Some("registry/2.0")
    );
    // Upload a blob (monolithic POST+PUT) and read it back: storage works.
    let blob = b"meshroom harness blob";
    let digest = format!("sha256:{}", sha256_hex(blob));
    let start = http::post(&format!("{}/v2/harness/blobs/uploads/", registry.url()))
        .send()
        .unwrap();
    assert_eq!(start.status, 202, "{}", start.text());
    let location = start.header("Location").unwrap().to_string();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("{}{location}", registry.url())
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = http::put(&format!("{location}{sep}digest={digest}"))
        .body("application/octet-stream", blob.to_vec())
        .send()
        .unwrap();
    assert_eq!(put.status, 201, "{}", put.text());
    let got = http::get(&format!("{}/v2/harness/blobs/{digest}", registry.url()))
        .send()
        .unwrap();
    assert_eq!(got.body, blob);
    let stored = registry.blob_path(&digest).unwrap();
    assert_eq!(std::fs::read(&stored).unwrap(), blob);
    // The access log shows what was served (e.g. to prove a cache hit).
    let served = registry.requests().unwrap();
    let blob_path = format!("/v2/harness/blobs/{digest}");
    assert!(
        served
            .iter()
            .any(|r| r.method == "GET" && r.path == blob_path && r.status == 200),
        "{served:?}"
    );
    assert_eq!(served.iter().filter(|r| r.method == "PUT").count(), 1);

    let (pid, port, dir) = (
        registry.pid(),
        registry.port(),
        registry.dir().to_path_buf(),
    );
    drop(registry);
    assert_stopped("docker-registry", pid, &[port], dir);
}

#[test]
fn docker_registry_with_auth_requires_the_password() {
    let registry = DockerRegistry::start_with_auth("alice", "s3cret-pass").unwrap();
    assert_eq!(registry.credentials(), Some(("alice", "s3cret-pass")));
    let url = format!("{}/v2/", registry.url());
    let anonymous = http::get(&url).send().unwrap();
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous
            .header("WWW-Authenticate")
            .is_some_and(|h| h.starts_with("Basic")),
        "{:?}",
        anonymous.headers
    );
    assert_eq!(
        http::get(&url)
            .basic_auth("alice", "wrong")
            .send()
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        http::get(&url)
            .basic_auth("alice", "s3cret-pass")
            .send()
            .unwrap()
            .status,
        200
    );
    let (pid, port, dir) = (
        registry.pid(),
        registry.port(),
        registry.dir().to_path_buf(),
    );
    drop(registry);
    assert_stopped("docker-registry", pid, &[port], dir);
}

#[test]
fn rsyslog_writes_received_syslog_lines_to_its_file() {
    let rsyslog = Rsyslog::start().unwrap();
    assert!(rsyslog.received_lines().unwrap().is_empty());
    let mut stream = TcpStream::connect(rsyslog.addr()).unwrap();
    // Newline-framed RFC 5424 …
    stream
        .write_all(b"<14>1 2026-11-27T21:00:00Z web01 caddy 1234 ACCESS [meta k=\"v\"] GET / 200\n")
        .unwrap();
    // … and octet-counted (RFC 6587) framing.
    let framed = "<13>1 2026-11-27T21:00:01Z web01 meshroom - TEST - second message";
    stream
        .write_all(format!("{} {framed}", framed.len()).as_bytes())
        .unwrap();
    stream.flush().unwrap();
    // A line that is not syslog at all (Caddy's JSON access log) is kept whole.
    stream
        .write_all(b"{\"logger\":\"http.log.access.x\",\"status\":200}\n")
        .unwrap();
    stream.flush().unwrap();
    let lines = rsyslog.wait_for_lines(3, WAIT).unwrap();
    assert!(
        lines[0].ends_with("app=caddy msgid=ACCESS sd=[meta k=\"v\"] msg=GET / 200"),
        "{lines:?}"
    );
    assert!(
        lines[1].ends_with("app=meshroom msgid=TEST sd=- msg=second message"),
        "{lines:?}"
    );
    assert!(
        lines[2]
            .ends_with("app=- msgid=- sd=- msg={\"logger\":\"http.log.access.x\",\"status\":200}"),
        "{lines:?}"
    );
    let (pid, port, dir) = (rsyslog.pid(), rsyslog.port(), rsyslog.dir().to_path_buf());
    drop(stream);
    drop(rsyslog);
    assert_stopped("rsyslog", pid, &[port], dir);
}

#[test]
fn caddy_is_reconfigured_through_its_admin_api() {
    let caddy = Caddy::start().unwrap();
    let config = http::get(&format!("{}/config/", caddy.admin_url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(config["admin"]["config"]["persist"], json!(false));
    assert_eq!(config["apps"]["http"]["servers"]["srv0"]["@id"], "srv0");
    let home = http::get(&format!("{}/", caddy.http_url())).send().unwrap();
    assert_eq!((home.status, home.text().as_str()), (200, "ok"));

    // Block one client address, as the WAF adapter does: 127.0.0.2 gets 403,
    // the test's own 127.0.0.1 still gets through.
    let deny = json!({"@id": "harness-deny", "match": [{"remote_ip": {"ranges": ["127.0.0.2/32"]}}],
        "handle": [{"handler": "static_response", "status_code": 403}], "terminal": true});
    let put = http::put(&format!(
        "{}/config/apps/http/servers/srv0/routes/0",
        caddy.admin_url()
    ))
    .json(&deny)
    .send()
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    let from = |ip: [u8; 4]| {
        http::get(&format!("{}/", caddy.http_url()))
            .source_ip(ip.into())
            .send()
            .unwrap()
            .status
    };
    assert_eq!((from([127, 0, 0, 2]), from([127, 0, 0, 1])), (403, 200));
    assert_eq!(caddy.status_from([127, 0, 0, 2].into(), "/").unwrap(), 403);
    assert_eq!(
        caddy.object("harness-deny").unwrap().unwrap()["handle"][0]["status_code"],
        403
    );
    http::delete(&format!("{}/id/harness-deny", caddy.admin_url()))
        .send()
        .unwrap();
    assert_eq!(from([127, 0, 0, 2]), 200);
    assert_eq!(caddy.object("harness-deny").unwrap(), None);
    // An absent key reads as null; the server's logs are off until an adapter adds them.
    assert_eq!(
        caddy.config("apps/http/servers/srv0/logs").unwrap(),
        serde_json::Value::Null
    );

    // Insert a route in front of the catch-all.
    let route = json!({"@id": "harness-block", "match": [{"path": ["/blocked"]}],
        "handle": [{"handler": "static_response", "status_code": 403}], "terminal": true});
    let put = http::put(&format!(
        "{}/config/apps/http/servers/srv0/routes/0",
        caddy.admin_url()
    ))
    .json(&route)
    .send()
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    let blocked = format!("{}/blocked", caddy.http_url());
    assert_eq!(http::get(&blocked).send().unwrap().status, 403);
    assert_eq!(
        http::get(&format!("{}/", caddy.http_url()))
            .send()
            .unwrap()
            .status,
        200
    );
    let removed = http::delete(&format!("{}/id/harness-block", caddy.admin_url()))
        .send()
        .unwrap();
    assert_eq!(removed.status, 200, "{}", removed.text());
    assert_eq!(http::get(&blocked).send().unwrap().status, 200);
    assert_eq!(
        http::get(&format!("{}/id/harness-block", caddy.admin_url()))
            .send()
            .unwrap()
            .status,
        404
    );
    // Nothing was persisted outside the instance's folder.
    assert!(!caddy.dir().join("config/caddy/autosave.json").exists());

    let (pid, dir) = (caddy.pid(), caddy.dir().to_path_buf());
    let ports = [caddy.admin_port(), caddy.http_port()];
    drop(caddy);
    assert_stopped("caddy", pid, &ports, dir);
}

#[test]
fn caddy_access_logs_reach_rsyslog_over_tcp() {
    // The example mesh's `events` plug, done by hand through Caddy's admin API:
    // a logger writing JSON access logs to rsyslog's TCP input.
    let caddy = Caddy::start().unwrap();
    let rsyslog = Rsyslog::start().unwrap();
    let logger = json!({"@id": "harness-logger",
        "writer": {"output": "net", "address": format!("tcp/{}", rsyslog.addr()), "dial_timeout": "2s"},
        "encoder": {"format": "json"}, "include": ["http.log.access.harness"]});
    let added = http::put(&format!(
        "{}/config/logging/logs/harness",
        caddy.admin_url()
    ))
    .json(&logger)
    .send()
    .unwrap();
    assert_eq!(added.status, 200, "{}", added.text());
    let enabled = http::put(&format!(
        "{}/config/apps/http/servers/srv0/logs",
        caddy.admin_url()
    ))
    .json(&json!({"@id": "harness-server-logs", "default_logger_name": "harness"}))
    .send()
    .unwrap();
    assert_eq!(enabled.status, 200, "{}", enabled.text());
    for path in ["/one", "/two"] {
        let response = http::get(&format!("{}{path}", caddy.http_url()))
            .send()
            .unwrap();
        assert_eq!(response.status, 200);
    }
    let lines = rsyslog.wait_for_lines(2, WAIT).unwrap();
    let uris: Vec<String> = lines
        .iter()
        .map(|line| {
            let (_, json_text) = line.split_once(" msg=").unwrap();
            let entry: serde_json::Value = serde_json::from_str(json_text).unwrap();
            assert_eq!(entry["logger"], "http.log.access.harness");
            entry["request"]["uri"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(uris, ["/one", "/two"]);
}

#[test]
fn crowdsec_watcher_bans_and_bouncer_reads_decisions() {
    let crowdsec = CrowdSec::start().unwrap();
    let url = crowdsec.url();
    // Wrong password: refused.
    let refused = http::post(&format!("{url}/v1/watchers/login"))
        .json(&json!({"machine_id": crowdsec.machine_id(), "password": "wrong"}))
        .send()
        .unwrap();
    assert!(matches!(refused.status, 401 | 403), "{}", refused.status);
    // Watcher login → JWT.
    let token = crowdsec.login().unwrap();
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");
    // The bouncer sees no decision yet: the body is `null`.
    let decisions = format!("{url}/v1/decisions?ip=203.0.113.7");
    let none = http::get(&decisions)
        .header("X-Api-Key", crowdsec.bouncer_key())
        .send()
        .unwrap();
    assert_eq!((none.status, none.text().trim()), (200, "null"));
    // A ban is an alert carrying a decision.
    let now = meshroom_tests::utc_now_rfc3339();
    let alert = json!([{"scenario": "meshroom/deny", "scenario_hash": "", "scenario_version": "",
        "message": "harness test ban", "events_count": 1, "start_at": now, "stop_at": now,
        "capacity": 0, "leakspeed": "0", "simulated": false, "events": [],
        "source": {"scope": "Ip", "value": "203.0.113.7"},
        "decisions": [{"type": "ban", "scope": "Ip", "value": "203.0.113.7", "duration": "4h",
                       "origin": "meshroom", "scenario": "meshroom/deny"}]}]);
    let created = http::post(&format!("{url}/v1/alerts"))
        .bearer(&token)
        .json(&alert)
        .send()
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    let listed = http::get(&decisions)
        .header("X-Api-Key", crowdsec.bouncer_key())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed[0]["value"], "203.0.113.7", "{listed}");
    assert_eq!(listed[0]["type"], "ban");
    assert_eq!(crowdsec.decisions(Some("203.0.113.7")).unwrap().len(), 1);
    assert!(crowdsec.decisions(Some("198.51.100.9")).unwrap().is_empty());
    crowdsec.ban("198.51.100.9", "1h").unwrap();
    let all = crowdsec.decisions(None).unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all.iter()
            .any(|d| d["value"] == "198.51.100.9" && d["origin"] == "meshroom-tests")
    );
    // cscli reads the same database (`-a`: decisions of every origin, not only
    // crowdsec's and cscli's own).
    let cscli = crowdsec
        .cscli(&["decisions", "list", "-a", "-o", "json"])
        .unwrap();
    assert!(cscli.contains("203.0.113.7"), "{cscli}");
    // A wrong bouncer key is refused.
    let wrong_key = http::get(&decisions)
        .header("X-Api-Key", "not-the-key")
        .send()
        .unwrap();
    assert_eq!(wrong_key.status, 403);

    let (pid, port, dir) = (
        crowdsec.pid(),
        crowdsec.port(),
        crowdsec.dir().to_path_buf(),
    );
    drop(crowdsec);
    assert_stopped("crowdsec", pid, &[port], dir);
}

#[test]
fn taxii_server_shares_stix_objects_in_its_collection() {
    let taxii = Taxii::start().unwrap();
    let get = |url: &str| {
        http::get(url)
            .basic_auth(taxii.user(), taxii.password())
            .header("Accept", ACCEPT)
    };
    let discovery = get(&format!("{}/taxii2/", taxii.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(discovery["api_roots"], json!([taxii.api_root()]));
    let collections = get(&format!("{}collections/", taxii.api_root()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let collection = &collections["collections"][0];
    assert_eq!(collection["id"], taxii.collection_id());
    assert_eq!(collection["can_write"], true);

    // Without the version in Accept, or with a wrong password: refused.
    let objects = taxii.objects_url();
    let no_version = http::get(&objects)
        .basic_auth(taxii.user(), taxii.password())
        .header("Accept", "application/taxii+json")
        .send()
        .unwrap();
    assert_eq!(no_version.status, 406);
    let wrong = http::get(&objects)
        .basic_auth(taxii.user(), "wrong")
        .header("Accept", ACCEPT)
        .send()
        .unwrap();
    assert_eq!(wrong.status, 401);

    // Post an indicator and read it back.
    let now = meshroom_tests::utc_now_rfc3339();
    let id = format!("indicator--{}", meshroom_tests::random_uuid());
    let envelope = json!({"objects": [{"type": "indicator", "spec_version": "2.1", "id": id,
        "created": now, "modified": now, "name": "harness test indicator",
        "pattern": "[ipv4-addr:value = '203.0.113.7']", "pattern_type": "stix",
        "valid_from": now}]});
    let posted = http::post(&objects)
        .basic_auth(taxii.user(), taxii.password())
        .header("Accept", ACCEPT)
        .body(ACCEPT, envelope.to_string())
        .send()
        .unwrap();
    assert_eq!(posted.status, 202, "{}", posted.text());
    assert_eq!(posted.json().unwrap()["success_count"], 1);
    let read = get(&format!("{objects}?match[type]=indicator"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(read["objects"][0]["id"], id, "{read}");

    // More objects than one page (100) holds: `objects()` follows `next`.
    let many: Vec<serde_json::Value> = (0..150)
        .map(|i| {
            json!({"type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--{}", meshroom_tests::random_uuid()),
                "created": now, "modified": now, "name": format!("bulk {i}"),
                "pattern": format!("[ipv4-addr:value = '198.51.100.{}']", i % 250),
                "pattern_type": "stix", "valid_from": now})
        })
        .collect();
    taxii.add_objects(&many).unwrap();
    let stored = taxii.objects().unwrap();
    assert_eq!(stored.len(), 151);
    assert!(stored.iter().any(|o| o["id"] == id));

    let (pid, port, dir) = (taxii.pid(), taxii.port(), taxii.dir().to_path_buf());
    drop(taxii);
    assert_stopped("medallion", pid, &[port], dir);
}

#[test]
fn a_product_can_go_down_and_come_back_on_the_same_port() {
    // CrowdSec keeps its database: credentials and decisions survive a restart.
    let mut crowdsec = CrowdSec::start().unwrap();
    crowdsec.ban("192.0.2.10", "4h").unwrap();
    let (port, first_pid) = (crowdsec.port(), crowdsec.pid());
    crowdsec.stop().unwrap();
    assert!(!crowdsec.is_running());
    let down = crowdsec.decisions(None).unwrap_err();
    assert!(format!("{down:#}").contains("refused"), "{down:#}");
    crowdsec.restart().unwrap();
    assert_eq!(crowdsec.port(), port);
    assert_ne!(crowdsec.pid(), first_pid);
    assert!(!process_alive(first_pid));
    assert_eq!(crowdsec.decisions(Some("192.0.2.10")).unwrap().len(), 1);
    crowdsec.login().unwrap();

    // rsyslog appends to the same file after a restart.
    let mut rsyslog = Rsyslog::start().unwrap();
    let send = |addr: &str, line: &[u8]| {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(line).unwrap();
    };
    send(&rsyslog.addr(), b"<14>1 - h app - - - before\n");
    rsyslog.wait_for_lines(1, WAIT).unwrap();
    rsyslog.restart().unwrap();
    send(&rsyslog.addr(), b"<14>1 - h app - - - after\n");
    let lines = rsyslog.wait_for_lines(2, WAIT).unwrap();
    assert!(
        lines[0].ends_with("msg=before") && lines[1].ends_with("msg=after"),
        "{lines:?}"
    );
}

#[test]
fn a_paused_product_accepts_connections_but_never_answers() {
    let mut caddy = Caddy::start().unwrap();
    let home = format!("{}/", caddy.http_url());
    caddy.pause();
    let hung = http::get(&home).timeout(Duration::from_millis(300)).send();
    assert!(hung.is_err(), "a paused caddy answered");
    caddy.resume();
    assert_eq!(http::get(&home).send().unwrap().status, 200);
    // Stopping a paused service works too.
    caddy.pause();
    let (pid, dir) = (caddy.pid(), caddy.dir().to_path_buf());
    let ports = [caddy.admin_port(), caddy.http_port()];
    drop(caddy);
    assert_stopped("caddy", pid, &ports, dir);
}

#[test]
fn http_collector_records_requests_and_answers_as_told() {
    let collector = HttpCollector::start().unwrap();
    let first = http::post(&format!("{}/hooks/alerts?x=1", collector.url()))
        .header("X-Token", "abc")
        .json(&json!({"alert": 1}))
        .send()
        .unwrap();
    assert_eq!((first.status, first.text().as_str()), (200, "{}"));

    collector.queue_reply(Reply::status(503).body("text/plain", "busy"));
    collector.set_reply(Reply::status(201).json(&json!({"id": 7})));
    let second = http::put(&format!("{}/two", collector.url()))
        .send()
        .unwrap();
    let third = http::get(&format!("{}/three", collector.url()))
        .send()
        .unwrap();
    assert_eq!((second.status, second.text().as_str()), (503, "busy"));
    assert_eq!(third.json().unwrap()["id"], 7);

    // A chunked body over a kept-alive connection, two requests on one socket.
    let mut stream = TcpStream::connect(collector.addr()).unwrap();
    stream
        .write_all(
            b"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n\
              GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let requests = collector.wait_for_requests(5, WAIT).unwrap();
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/hooks/alerts?x=1");
    assert_eq!(requests[0].header("x-token"), Some("abc"));
    assert_eq!(requests[0].body_json().unwrap(), json!({"alert": 1}));
    assert_eq!(requests[3].path, "/chunked");
    assert_eq!(requests[3].body_text(), "hello world");
    assert_eq!(requests[4].path, "/again");

    // A delayed reply: the request is recorded at once, the answer comes later.
    collector.set_reply(Reply::default().delay(Duration::from_millis(300)));
    let started = Instant::now();
    let slow = http::get(&format!("{}/slow", collector.url()))
        .send()
        .unwrap();
    assert_eq!(slow.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A client that gives up before the delay ends still left its request.
    collector.set_reply(Reply::default().delay(Duration::from_secs(5)));
    let gave_up = http::get(&format!("{}/timeout", collector.url()))
        .timeout(Duration::from_millis(200))
        .send();
    assert!(gave_up.is_err());
    let all = collector.wait_for_requests(7, WAIT).unwrap();
    assert_eq!(all[6].path, "/timeout");

    // Replies computed per request, for an API with several endpoints.
    collector.respond_with(|r| match r.path.as_str() {
        "/login" => Reply::status(200).json(&json!({"token": "t"})),
        _ if r.header("authorization") == Some("Bearer t") => Reply::status(204),
        _ => Reply::status(401),
    });
    let login = http::post(&format!("{}/login", collector.url()))
        .send()
        .unwrap();
    assert_eq!(login.json().unwrap()["token"], "t");
    let with = http::get(&format!("{}/data", collector.url()))
        .bearer("t")
        .send()
        .unwrap();
    let without = http::get(&format!("{}/data", collector.url()))
        .send()
        .unwrap();
    assert_eq!((with.status, without.status), (204, 401));

    let port = collector.port();
    drop(stream);
    drop(collector);
    assert!(port_is_free(port));
}

#[test]
fn tcp_line_receiver_collects_lines_from_every_connection() {
    let receiver = TcpLineReceiver::start().unwrap();
    let mut a = TcpStream::connect(receiver.addr()).unwrap();
    let mut b = TcpStream::connect(receiver.addr()).unwrap();
    a.write_all(b"{\"n\":1}\n{\"n\":").unwrap();
    a.flush().unwrap();
    std::thread::sleep(Duration::from_millis(150));
    a.write_all(b"2}\r\n").unwrap();
    b.write_all(b"from b\n").unwrap();
    let lines = receiver.wait_for_lines(3, WAIT).unwrap();
    assert!(lines.contains(&"{\"n\":1}".to_string()), "{lines:?}");
    assert!(lines.contains(&"{\"n\":2}".to_string()), "{lines:?}");
    assert!(lines.contains(&"from b".to_string()), "{lines:?}");
    // A last line without its newline counts when the sender closes.
    b.write_all(b"unterminated").unwrap();
    drop(b);
    let lines = receiver.wait_for_lines(4, WAIT).unwrap();
    assert_eq!(lines[3], "unterminated");
    assert_eq!(receiver.connection_count(), 2);
    let port = receiver.port();
    drop(a);
    drop(receiver);
    assert!(port_is_free(port));
}

#[test]
fn a_service_is_stopped_when_the_test_panics() {
    let mut seen = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let caddy = Caddy::start().unwrap();
        seen = Some((
            caddy.pid(),
            [caddy.admin_port(), caddy.http_port()],
            caddy.dir().to_path_buf(),
        ));
        panic!("a failing assertion while caddy runs");
    }));
    assert!(outcome.is_err());
    let (pid, ports, dir) = seen.unwrap();
    assert_stopped("caddy", pid, &ports, dir);
}

#[test]
fn a_service_is_stopped_when_the_process_that_started_it_dies() {
    // The helper binary starts rsyslog, prints its pid, and aborts: no destructor runs.
    let output = Command::new(env!("CARGO_BIN_EXE_meshroom-service"))
        .args(["rsyslog", "--abort"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success(), "the helper should have aborted");
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let info = &info["rsyslog"];
    let pid = u32::try_from(info["pid"].as_u64().unwrap()).unwrap();
    let port = u16::try_from(info["ports"][0].as_u64().unwrap()).unwrap();
    // The watchdog polls once a second.
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_alive(pid) {
        assert!(
            Instant::now() < deadline,
            "rsyslog (pid {pid}) outlived the process that started it"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_port_free(port, Duration::from_secs(5)).unwrap();
    // … and its folder is deleted.
    let received = PathBuf::from(info["received_log"].as_str().unwrap());
    let dir = received.parent().unwrap();
    while dir.exists() {
        assert!(Instant::now() < deadline, "{} was left", dir.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn http_client_speaks_basic_auth_as_curl_does() {
    // The harness's own client is what the other tests trust: check its header.
    let collector = HttpCollector::start().unwrap();
    http::get(&collector.url())
        .basic_auth("Aladdin", "open sesame")
        .send()
        .unwrap();
    let request = &collector.wait_for_requests(1, WAIT).unwrap()[0];
    assert_eq!(
        request.header("authorization"),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    assert_eq!(
        base64(b"Aladdin:open sesame"),
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}
