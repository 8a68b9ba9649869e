//! End-to-end tests of the playground commands (`produce`, `watch`,
//! `trigger`, `execute`) and the vendor workflows (`create integration`
//! scaffolding, catalog `pull`, `publish` hooks), through the real binary,
//! the real adapters built from `adapters/`, and real servers on 127.0.0.1
//! (an HTTP collector scripting the product's API, a TCP line receiver).

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::adapter_wasm;
use meshroom_tests::{HttpCollector, RecordedRequest, Reply, TcpLineReceiver};
use serde_json::{Value, json};

const PASSPHRASE: &str = "exercise tests passphrase";

/// A temp project: products `example_http` (the example adapter), `line_sink`
/// (no adapter, receives lines over TCP) and `hostile` (the hostile adapter).
struct Mesh {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

impl Mesh {
    fn new() -> Mesh {
        let dir = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let p = dir.path();
        write(
            &p.join("products/example_http/definition.yaml"),
            "name: example_http\n\
             description: Example product\n\
             adapter: example_http.wasm\n\
             settings:\n  - name: url\n    type: string\n    required: true\n  - name: api_key\n    type: string\n    secret: true\n\
             egress:\n  http: [\"{{url}}\"]\n\
             produces:\n  events:\n    - mode: push\n  logs:\n    - mode: push\n\
             consumes:\n  events:\n    - mode: push\n\
             triggers:\n  block_ip:\n    - mode: push\n\
             executes:\n  block_ip:\n    - mode: push\n  isolate_host:\n    - mode: push\n",
        );
        std::fs::copy(
            adapter_wasm("example_http"),
            p.join("products/example_http/example_http.wasm"),
        )
        .unwrap();
        write(
            &p.join("products/line_sink/definition.yaml"),
            "name: line_sink\n\
             settings:\n  - name: address\n    type: string\n\
             egress:\n  tcp: [\"{{address}}\"]\n\
             consumes:\n  logs:\n    - mode: push\n",
        );
        write(
            &p.join("products/hostile/definition.yaml"),
            "name: hostile\nadapter: hostile.wasm\nexecutes:\n  panic:\n    - mode: push\n",
        );
        std::fs::copy(
            adapter_wasm("hostile"),
            p.join("products/hostile/hostile.wasm"),
        )
        .unwrap();
        std::fs::create_dir_all(p.join("instances")).unwrap();
        Mesh { dir, home }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn instance(&self, product: &str, name: &str, settings: Value) {
        let yaml = serde_yaml_ng::to_string(&json!({
            "name": name, "product": product, "settings": settings,
        }))
        .unwrap();
        write(
            &self
                .path()
                .join(format!("instances/{product}/{name}/config.yaml")),
            &yaml,
        );
    }

    fn plug(&self, src_product: &str, src: &str, dst: &str, topic: &str, trigger: bool) {
        let yaml = serde_yaml_ng::to_string(&json!({
            "src_instance": src, "dst_instance": dst, "topic": topic, "mode": "push",
            "format": null, "src_config": {}, "dst_config": {}, "status": "down",
            "kind": if trigger { json!("trigger") } else { Value::Null },
            "owner": null, "settings": {},
        }))
        .unwrap();
        write(
            &self.path().join(format!(
                "instances/{src_product}/{src}/plugs/{dst}/{topic}.yaml"
            )),
            &yaml,
        );
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshroom"));
        cmd.arg("-p")
            .arg(self.path())
            .args(args)
            .env_remove("MESHROOM_PROJECT")
            .env_remove("MESHROOM_AGE_IDENTITY")
            .env_remove("MESHROOM_AGE_IDENTITY_FILE")
            .env_remove("RUST_LOG")
            .env("MESHROOM_SECRETS_PASSPHRASE", PASSPHRASE)
            .env("MESHROOM_CACHE", support::shared_cache())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"));
        cmd
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        support::run_piped(self.command(args), stdin)
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "meshroom {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects exit code `code`; returns stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args, None);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "meshroom {args:?}: stdout {}\nstderr {err}",
            String::from_utf8_lossy(&out.stdout)
        );
        err
    }

    fn secret(&self, scope: &str, name: &str, value: &str) {
        self.ok(
            &["secrets", "set", scope, name],
            Some(format!("{value}\n").as_bytes()),
        );
    }

    /// Every file of the project and its contents (to prove nothing changed).
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                let rel = p.strip_prefix(self.path()).unwrap().to_path_buf();
                // meshroom's own state (the writers' lock), not the project.
                if rel.starts_with(".meshroom") {
                    continue;
                }
                if e.file_type().unwrap().is_dir() {
                    out.insert(rel, Vec::new());
                    stack.push(p);
                } else {
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
        out
    }
}

/// The product API the example adapter talks to: `POST /events` counts
/// records, `POST /commands` answers with an id.
fn product_api() -> HttpCollector {
    let api = HttpCollector::start().unwrap();
    api.respond_with(
        |r: &RecordedRequest| match (r.method.as_str(), r.path.as_str()) {
            ("POST", "/events") => {
                let n = r
                    .body
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count();
                Reply::status(200).json(&json!({ "accepted": n }))
            }
            ("POST", "/commands") => {
                Reply::status(201).json(&json!({ "id": "cmd-1", "status": "queued" }))
            }
            _ => Reply::status(404),
        },
    );
    api
}

/// A mesh with `edr1` and `siem1` (example_http, both at `api`), their
/// api keys, and the plugs `edr1 --events--> siem1`,
/// `edr1 --block_ip--> siem1` (trigger).
fn example_mesh(api: &HttpCollector) -> Mesh {
    let mesh = Mesh::new();
    mesh.instance("example_http", "edr1", json!({ "url": api.url() }));
    mesh.instance("example_http", "siem1", json!({ "url": api.url() }));
    mesh.plug("example_http", "edr1", "siem1", "events", false);
    mesh.plug("example_http", "edr1", "siem1", "block_ip", true);
    mesh.secret("instance:example_http/edr1", "api_key", "edr-key");
    mesh.secret("instance:example_http/siem1", "api_key", "siem-key");
    mesh
}

fn records(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!("{{\"seq\":{i},\"msg\":\"event {i}\"}}\n"));
        if i % 997 == 0 {
            s.push('\n'); // blank lines are skipped
        }
    }
    s.into_bytes()
}

#[test]
fn produce_through_a_plug_posts_ordered_batches_to_the_http_collector() {
    let api = product_api();
    let mesh = example_mesh(&api);
    let input = records(2500);
    let out = mesh.ok(
        &["produce", "events", "edr1", "siem1", "--batch-size", "1000"],
        Some(&input),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "batch 1: 1000 record(s), 1000 accepted",
            "batch 2: 1000 record(s), 1000 accepted",
            "batch 3: 500 record(s), 500 accepted"
        ]
    );
    let posts: Vec<RecordedRequest> = api
        .requests()
        .into_iter()
        .filter(|r| r.path == "/events")
        .collect();
    assert_eq!(posts.len(), 3, "one HTTP request per batch");
    let got: Vec<String> = posts
        .iter()
        .flat_map(|r| r.body_text().lines().map(String::from).collect::<Vec<_>>())
        .collect();
    let want: Vec<String> = (0..2500)
        .map(|i| format!("{{\"seq\":{i},\"msg\":\"event {i}\"}}"))
        .collect();
    assert_eq!(got, want, "every record arrived, in order");

    // --json: one object per batch; --file reads the same records.
    let file = mesh.path().join("records.ndjson");
    std::fs::write(&file, records(30)).unwrap();
    let out = mesh.ok(
        &[
            "--json",
            "produce",
            "events",
            "edr1",
            "siem1",
            "--file",
            file.to_str().unwrap(),
            "--batch-size",
            "20",
        ],
        None,
    );
    let batches: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0]["records"], 20);
    assert_eq!(batches[1]["accepted"], 10);
}

#[test]
fn produce_through_a_tcp_plug_delivers_every_line_in_order() {
    let api = product_api();
    let receiver = TcpLineReceiver::start().unwrap();
    let mesh = example_mesh(&api);
    mesh.instance("line_sink", "sink1", json!({ "address": receiver.addr() }));
    mesh.plug("example_http", "edr1", "sink1", "logs", false);
    let input = records(5000);
    let out = mesh.ok(
        &["produce", "logs", "edr1", "sink1", "--batch-size", "2000"],
        Some(&input),
    );
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.contains(&format!("sent to {}", receiver.addr())),
        "{out}"
    );
    let lines = receiver
        .wait_for_lines(5000, Duration::from_secs(10))
        .unwrap();
    let want: Vec<String> = (0..5000)
        .map(|i| format!("{{\"seq\":{i},\"msg\":\"event {i}\"}}"))
        .collect();
    assert_eq!(lines, want);
    assert_eq!(receiver.connection_count(), 3, "one connection per batch");
}

#[test]
fn produce_to_a_consumer_that_is_down_keeps_the_error_kind() {
    let api = product_api();
    let receiver = TcpLineReceiver::start().unwrap();
    let mesh = example_mesh(&api);
    // The consumer is down: nothing listens at its address.
    mesh.instance("line_sink", "sink1", json!({ "address": "127.0.0.1:9" }));
    mesh.plug("example_http", "edr1", "sink1", "logs", false);
    let out = mesh.run(&["produce", "logs", "edr1", "sink1"], Some(b"one\ntwo\n"));
    assert_eq!(
        out.status.code(),
        Some(12),
        "unreachable: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(receiver.lines().is_empty());
    // No plug: a clear error before any hook runs.
    let err = mesh.fails(&["produce", "events", "siem1", "edr1"], 1);
    assert!(
        err.contains("there is no plug siem1 --[events]-> edr1"),
        "{err}"
    );
}

/// Pages of `GET /events?after=N`: `total` records in pages of 3 (`None`:
/// endless), each answered after `delay`.
fn event_source(total: Option<usize>, delay: Duration) -> HttpCollector {
    let api = HttpCollector::start().unwrap();
    api.respond_with(move |r: &RecordedRequest| {
        let after: usize = r
            .path
            .split("after=")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let end = total.map_or(after + 3, |t| (after + 3).min(t));
        let records: Vec<String> = (after..end).map(|i| format!("record {i}")).collect();
        Reply::status(200)
            .json(&json!({ "records": records }))
            .delay(delay)
    });
    api
}

#[test]
fn watch_streams_batches_until_the_end_or_the_count() {
    let api = event_source(Some(8), Duration::ZERO);
    let mesh = example_mesh(&api);
    let out = mesh.ok(&["watch", "events", "edr1", "siem1"], None);
    let want: Vec<String> = (0..8).map(|i| format!("record {i}")).collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
    let pages: Vec<RecordedRequest> = api.requests();
    assert_eq!(pages.len(), 4, "3 pages of records and an empty one");
    // The consumer side's hook ran with the consumer's own key.
    assert_eq!(pages[0].header("authorization"), Some("Bearer siem-key"));

    let out = mesh.ok(
        &["--json", "watch", "events", "edr1", "siem1", "--count", "5"],
        None,
    );
    let got: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        got,
        (0..5)
            .map(|i| json!(format!("record {i}")))
            .collect::<Vec<_>>()
    );
}

#[test]
fn watch_ends_quietly_when_its_reader_goes_away() {
    // An endless source: only the reader closing the pipe (`| head -1`) stops it.
    let api = event_source(None, Duration::ZERO);
    let mesh = example_mesh(&api);
    let (first, out) =
        support::first_line_then_close(mesh.command(&["watch", "events", "edr1", "siem1"]));
    assert_eq!(first, "record 0\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(
        !stderr.contains("error") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn watch_stops_at_the_timeout_on_an_endless_source() {
    let api = event_source(None, Duration::from_millis(200));
    let mesh = example_mesh(&api);
    let started = Instant::now();
    // Generous: on a loaded machine, opening the secrets store alone takes seconds.
    let out = mesh.run(
        &["watch", "events", "edr1", "siem1", "--timeout", "8"],
        None,
    );
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.lines().count() >= 3,
        "several batches arrived: {stdout}"
    );
    assert!(
        took >= Duration::from_secs(8),
        "ran until the timeout, took {took:?}"
    );
    assert!(
        took < Duration::from_secs(40),
        "stopped at the timeout, took {took:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the timeout passed"), "{stderr}");
}

#[test]
fn trigger_sends_typed_params_and_prints_the_json_result() {
    let api = product_api();
    let mesh = example_mesh(&api);
    let out = mesh.ok(
        &[
            "trigger",
            "block_ip",
            "edr1",
            "siem1",
            "-p",
            "ip=10.0.0.1",
            "-p",
            "duration=3600",
        ],
        None,
    );
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result, json!({"id": "cmd-1", "status": "queued"}));
    let sent = api.requests().pop().unwrap();
    assert_eq!(sent.path, "/commands");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer edr-key"),
        "the trigger side's key"
    );
    assert_eq!(
        sent.body_json().unwrap(),
        json!({"action": "deny", "ip": "10.0.0.1", "duration": 3600}),
        "the duration is a number, not a string"
    );

    // --params-json, overridden by -p.
    let params = mesh.path().join("params.json");
    std::fs::write(&params, r#"{"ip": "192.0.2.1", "duration": [1, 2]}"#).unwrap();
    mesh.ok(
        &[
            "trigger",
            "block_ip",
            "edr1",
            "siem1",
            "--params-json",
            params.to_str().unwrap(),
            "-p",
            "duration=true",
        ],
        None,
    );
    let sent = api.requests().pop().unwrap();
    assert_eq!(
        sent.body_json().unwrap(),
        json!({"action": "deny", "ip": "192.0.2.1", "duration": true})
    );
}

#[test]
fn trigger_errors_keep_their_kind_in_the_message_and_exit_code() {
    let api = product_api();
    let mesh = example_mesh(&api);
    let args = ["trigger", "block_ip", "edr1", "siem1", "-p", "ip=10.0.0.1"];

    let err = mesh.fails(&["trigger", "block_ip", "edr1", "siem1"], 10);
    assert!(
        err.contains("(invalid-config)") && err.contains("param `ip` is required"),
        "{err}"
    );

    api.respond_with(|_| Reply::status(401).json(&json!({"error": "bad key"})));
    let err = mesh.fails(&args, 11);
    assert!(err.contains("(unauthorized)"), "{err}");
    assert!(!err.contains("edr-key"), "the key never shows: {err}");

    api.respond_with(|_| Reply::status(500).body("text/plain", "boom"));
    let err = mesh.fails(&args, 14);
    assert!(err.contains("(failed)") && err.contains("boom"), "{err}");

    // The product is down: nothing listens on its port any more.
    let port = api.port();
    drop(api);
    let err = mesh.fails(&args, 12);
    assert!(err.contains("(unreachable)"), "{err}");
    assert!(err.contains(&port.to_string()), "{err}");
}

#[test]
fn execute_runs_the_executor_side_and_reports_every_error_kind() {
    let api = product_api();
    let mesh = example_mesh(&api);
    let out = mesh.ok(
        &[
            "execute",
            "block_ip",
            "edr1",
            "siem1",
            "-p",
            "ip=10.0.0.1",
            "-p",
            "permanent=true",
            "-p",
            "ttl=1.5",
            "-p",
            "tags=[\"a\"]",
        ],
        None,
    );
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        result,
        json!({"instance": "siem1", "would_run": "deny",
               "params": {"ip": "10.0.0.1", "permanent": true, "ttl": 1.5, "tags": ["a"]}})
    );
    let err = mesh.fails(&["execute", "isolate_host", "edr1", "siem1"], 1);
    assert!(err.contains("there is no plug"), "{err}");
    mesh.plug("example_http", "edr1", "siem1", "isolate_host", true);
    let err = mesh.fails(&["execute", "isolate_host", "edr1", "siem1"], 13);
    assert!(
        err.contains("(not-supported)") && err.contains("cannot isolate hosts"),
        "{err}"
    );

    // On an instance alone; a crashing adapter has its own code.
    mesh.instance("hostile", "h1", json!({}));
    let out = mesh.ok(&["execute", "ok", "h1", "-p", "n=1"], None);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["params"],
        json!({"n": 1})
    );
    let err = mesh.fails(&["execute", "panic", "h1"], 20);
    assert!(
        err.contains("(crashed)") && err.contains("panicked"),
        "{err}"
    );
    // No hook for the topic: says what exists.
    let err = mesh.fails(&["execute", "nothing_here", "h1"], 1);
    assert!(
        err.contains("no execute hook") && err.contains("declared execute hooks"),
        "{err}"
    );
}

#[test]
fn create_integration_scaffolds_files_and_keeps_them_unless_forced() {
    let mesh = Mesh::new();
    mesh.ok(
        &[
            "create",
            "integration",
            "example_http",
            "line_sink",
            "logs",
            "producer",
        ],
        None,
    );
    let readme = mesh
        .path()
        .join("products/example_http/integrations/line_sink/README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(text.contains("example_http → line_sink (logs)"), "{text}");
    assert!(
        mesh.path()
            .join("products/example_http/integrations/line_sink/logs_producer.yml")
            .is_file()
    );
    // The same answer again: nothing to do.
    mesh.ok(
        &[
            "create",
            "integration",
            "example_http",
            "line_sink",
            "logs",
            "producer",
        ],
        None,
    );
    // A file changed by hand is kept, unless --force.
    std::fs::write(&readme, "my notes").unwrap();
    let err = mesh.fails(
        &[
            "create",
            "integration",
            "example_http",
            "line_sink",
            "logs",
            "producer",
        ],
        1,
    );
    assert!(
        err.contains("already exist") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), "my notes");
    mesh.ok(
        &[
            "create",
            "integration",
            "example_http",
            "line_sink",
            "logs",
            "producer",
            "--force",
        ],
        None,
    );
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), text);

    // Both products' hooks run: the target side's files go below its own folder.
    mesh.ok(
        &[
            "create",
            "integration",
            "hostile",
            "example_http",
            "events",
            "producer",
        ],
        None,
    );
    let other = mesh
        .path()
        .join("products/example_http/integrations/hostile/README.md");
    assert!(
        std::fs::read_to_string(other)
            .unwrap()
            .contains("example_http → hostile (events)")
    );
}

#[test]
fn hostile_scaffold_answers_are_refused_and_the_project_is_untouched() {
    let mesh = Mesh::new();
    let before = mesh.snapshot();
    for (topic, expect) in [
        ("escape", "`..` component"),
        ("absolute", "it is absolute"),
        ("huge", "more than the limit"),
        ("many", "5000 files, more than the limit"),
        ("sneaky", "refused the path"),
    ] {
        let err = mesh.fails(
            &[
                "create",
                "integration",
                "hostile",
                "example_http",
                topic,
                "producer",
            ],
            1,
        );
        assert!(err.contains(expect), "{topic}: {err}");
        assert!(err.contains("nothing was written"), "{topic}: {err}");
        assert_eq!(mesh.snapshot(), before, "{topic}: the project is untouched");
    }
    assert!(!Path::new("/tmp/meshroom-hostile-absolute.txt").exists());
    assert!(!mesh.path().parent().unwrap().join("escaped.txt").exists());
}

#[test]
fn pull_writes_catalog_products_and_refuses_hostile_ones() {
    let mesh = Mesh::new();
    let out = mesh.ok(&["pull", "example_http"], None);
    assert!(
        out.contains("products/example_partner/definition.yaml"),
        "{out}"
    );
    let def = std::fs::read_to_string(mesh.path().join("products/example_partner/definition.yaml"))
        .unwrap();
    assert!(def.contains("name: example_partner"));
    let listed = mesh.ok(&["--json", "list", "products"], None);
    assert!(listed.contains("example_partner"), "{listed}");

    let before = mesh.snapshot();
    let out = mesh.run(&["pull", "hostile"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for expect in [
        "skipped `../../evil`",
        "skipped `/tmp/meshroom-hostile-evil`",
        "skipped `huge`",
        "refused the answer of pull hook `pull_many`",
        "skipped `broken`",
        "skipped `mismatch`",
        "skipped `with_adapter`",
    ] {
        assert!(err.contains(expect), "{expect}: {err}");
    }
    let after = mesh.snapshot();
    let added: Vec<&PathBuf> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert_eq!(
        added,
        [
            &PathBuf::from("products/hostile_ok"),
            &PathBuf::from("products/hostile_ok/definition.yaml")
        ],
        "only the valid definition was written"
    );
    assert!(!Path::new("/tmp/meshroom-hostile-evil").exists());
    // An existing product is not replaced without --force.
    let err = mesh.fails(&["pull", "example_http"], 1);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    mesh.ok(&["pull", "example_http", "--force"], None);
}

#[test]
fn publish_runs_the_hooks_of_matching_integrations() {
    let mesh = Mesh::new();
    mesh.ok(
        &[
            "create",
            "integration",
            "example_http",
            "line_sink",
            "logs",
            "producer",
        ],
        None,
    );
    mesh.ok(
        &[
            "create",
            "integration",
            "line_sink",
            "example_http",
            "logs",
            "consumer",
        ],
        None,
    );
    let out = mesh.ok(&["publish", "example_http"], None);
    assert!(
        out.contains("submit: submitted example_http → line_sink (logs)"),
        "{out}"
    );
    let out = mesh.ok(
        &[
            "--json",
            "publish",
            "example_http",
            "line_sink",
            "logs",
            "producer",
        ],
        None,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["published"][0]["hooks"][0]["hook"], "submit");
    let out = mesh.run(&["publish", "line_sink"], None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no publish hook, nothing to do"));
    let err = mesh.fails(&["publish", "example_http", "nobody"], 1);
    assert!(
        err.contains("no integration of `example_http` matches"),
        "{err}"
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let mesh = Mesh::new();
    for cmd in ["produce", "watch", "trigger", "execute"] {
        let help = mesh.ok(&[cmd, "--help"], None);
        assert!(
            help.contains("11  the adapter reported unauthorized"),
            "{cmd}: {help}"
        );
    }
}
