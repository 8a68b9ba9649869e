//! `meshroom ui`, black-box: the real binary serving the dashboard of a
//! project on 127.0.0.1, its JSON API on its own (the example mesh of the
//! four real products, a crawl of every endpoint for every secret, the
//! token, the bounds on hostile clients, live events from another
//! process), then the page in headless Chromium ([`browser`]).

mod browser;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meshroom_tests::http;
use serde_json::Value;

use crate::real_mesh::Mesh;
use crate::support::Cli;

/// A running `meshroom ui`; killed on drop.
pub(crate) struct Ui {
    child: Child,
    /// `http://127.0.0.1:PORT`, without the trailing slash.
    pub base: String,
}

impl Ui {
    /// Starts `meshroom ui --listen 127.0.0.1:0 ARGS` on `cli`'s project and
    /// waits for its address.
    pub(crate) fn start(cli: &Cli, args: &[&str]) -> Ui {
        let mut all = vec!["ui", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut child = cli
            .command(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line.trim().trim_end_matches('/').to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{line:?}");
        Ui { child, base }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub(crate) fn get(&self, path: &str) -> http::Response {
        http::get(&self.url(path))
            .timeout(Duration::from_secs(30))
            .send()
            .unwrap()
    }

    pub(crate) fn json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json().unwrap()
    }

    /// Ctrl-C: the server stops, removing its socket.
    fn interrupt(&mut self) {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let _ = self.child.wait();
    }

    /// The server's resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An open event stream: what it received so far, read by a thread.
pub(crate) struct Events {
    received: Arc<Mutex<String>>,
    status: Arc<Mutex<Option<u16>>>,
}

impl Events {
    /// `GET /api/events` with `headers`.
    pub(crate) fn open(ui: &Ui, headers: &[(&str, &str)]) -> Events {
        let mut stream = TcpStream::connect(("127.0.0.1", ui.port())).unwrap();
        let mut head = format!(
            "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: text/event-stream\r\n",
            ui.port()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        let received = Arc::new(Mutex::new(String::new()));
        let status = Arc::new(Mutex::new(None));
        let (r, s) = (received.clone(), status.clone());
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if s.lock().unwrap().is_none() {
                    *s.lock().unwrap() = line.split(' ').nth(1).and_then(|c| c.parse().ok());
                }
                r.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Events { received, status }
    }

    pub(crate) fn status(&self) -> Option<u16> {
        for _ in 0..100 {
            if let Some(s) = *self.status.lock().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub(crate) fn text(&self) -> String {
        self.received.lock().unwrap().clone()
    }

    /// Waits until the stream received `needle`.
    pub(crate) fn wait_for(&self, needle: &str) -> String {
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "the event stream never carried {needle:?}:\n{}",
            self.text()
        );
    }
}

/// The example mesh with its plug `edge --[events]-> collector` up.
fn example_up() -> Mesh {
    let mesh = Mesh::start();
    mesh.cli.ok(&["plug", "events", "edge", "collector"]);
    mesh.cli.ok(&["up"]);
    mesh
}

fn plug_id(ui: &Ui) -> String {
    let mesh = ui.json("/api/mesh");
    mesh["plugs"][0]["id"].as_str().unwrap().to_string()
}

fn query(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------- the API

#[test]
fn the_api_shows_the_example_mesh_its_plug_and_its_capabilities() {
    let mesh = example_up();
    let ui = Ui::start(&mesh.cli, &[]);

    let m = ui.json("/api/mesh");
    let products: Vec<&str> = m["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in crate::real_mesh::PRODUCTS {
        assert!(products.contains(&p), "{products:?}");
    }
    assert_eq!(m["instances"].as_array().unwrap().len(), 4, "{m:#}");
    let plugs = m["plugs"].as_array().unwrap();
    assert_eq!(plugs.len(), 1, "{m:#}");
    assert_eq!(plugs[0]["src"], "edge");
    assert_eq!(plugs[0]["dst"], "collector");
    assert_eq!(plugs[0]["topic"], "events");
    assert_eq!(plugs[0]["state"], "up");

    let id = plugs[0]["id"].as_str().unwrap();
    let plug = ui.json(&format!("/api/plug?id={}", query(id)));
    assert_eq!(plug["mode"], "push");
    assert_eq!(plug["src_product"], "caddy");
    let outputs: Vec<&str> = plug["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(outputs.contains(&"caddy_logger_id"), "{plug:#}");
    // `plan` skips a plug that is up; `down` and `check` name their hooks.
    assert!(plug["plan"]["up"]["skip"].is_string(), "{plug:#}");
    let down = plug["plan"]["down"]["steps"].to_string();
    assert!(down.contains("stop_access_logs"), "{plug:#}");
    assert!(ui.get("/api/plug?id=nope").status == 404);

    let caps = ui.json("/api/capabilities");
    assert_eq!(caps["nodes"].as_array().unwrap().len(), 4, "{caps:#}");
    assert!(
        caps["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == "caddy" && e["to"] == "rsyslog"),
        "{caps:#}"
    );

    // The "why not" is `plug`'s own refusal, word for word from its list on.
    let why = ui.json("/api/explain?src=rsyslog&dst=medallion&topic=events");
    let answer = &why["topics"][0];
    assert_eq!(answer["pluggable"], false, "{why:#}");
    let text = answer["why_not"].as_str().unwrap();
    let refused = mesh.cli.fails(&["plug", "events", "collector", "tip"]);
    let tail = |t: &str| t[t.find("producers found").unwrap()..].trim().to_string();
    assert_eq!(
        tail(text),
        tail(&refused.stderr),
        "{text}\n---\n{}",
        refused.stderr
    );
    let ok = ui.json("/api/explain?src=caddy&dst=rsyslog&topic=events");
    assert_eq!(ok["topics"][0]["pluggable"], true, "{ok:#}");
    assert_eq!(ui.get("/api/explain?src=caddy&dst=nope").status, 404);
    assert_eq!(
        ui.get("/api/explain?src=caddy&dst=rsyslog&mode=sideways")
            .status,
        400
    );
}

#[test]
fn no_endpoint_ever_serves_a_secret_value_after_a_full_run() {
    let mesh = example_up();
    let cli = &mesh.cli;
    let ui = Ui::start(cli, &[]);
    let events = Events::open(&ui, &[]);
    assert_eq!(events.status(), Some(200));
    // A full run while the page's stream is open: check, down, up again.
    cli.ok(&["check"]);
    cli.ok(&["down"]);
    cli.ok(&["up"]);
    events.wait_for("event: run_finished");
    let secrets = [
        mesh.crowdsec.password().to_string(),
        mesh.crowdsec.bouncer_key().to_string(),
        mesh.taxii.password().to_string(),
    ];
    // Every endpoint, every plug, every product pair.
    let mut bodies = vec![("/api/events".to_string(), events.text())];
    let mut paths = vec![
        "/".to_string(),
        "/api".into(),
        "/api/mesh".into(),
        "/api/capabilities".into(),
        "/assets/app.js".into(),
        "/assets/app.css".into(),
    ];
    let m = ui.json("/api/mesh");
    for p in m["plugs"].as_array().unwrap() {
        paths.push(format!("/api/plug?id={}", query(p["id"].as_str().unwrap())));
    }
    for a in crate::real_mesh::PRODUCTS {
        for b in crate::real_mesh::PRODUCTS {
            paths.push(format!("/api/explain?src={a}&dst={b}"));
        }
    }
    for path in paths {
        let r = ui.get(&path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        bodies.push((path, r.text()));
    }
    assert!(bodies.len() > 20);
    for (path, body) in &bodies {
        for secret in &secrets {
            assert!(!secret.is_empty());
            assert!(
                !body.contains(secret.as_str()),
                "{path} serves a secret value"
            );
        }
    }
    // The stream carried the run, plug by plug.
    let text = events.text();
    for kind in [
        "run_started",
        "plug_started",
        "step_finished",
        "plug_finished",
    ] {
        assert!(text.contains(&format!("event: {kind}")), "{text}");
    }
}

#[test]
fn the_token_is_required_on_every_request_including_the_event_stream() {
    let cli = Cli::init();
    let ui = Ui::start(&cli, &["--token", "t0ken-xyz"]);
    for path in [
        "/",
        "/assets/app.js",
        "/api/mesh",
        "/api/capabilities",
        "/api/events",
    ] {
        let r = ui.get(path);
        assert_eq!(r.status, 401, "GET {path} without the token: {}", r.text());
        let r = http::get(&ui.url(path)).bearer("wrong").send().unwrap();
        assert_eq!(r.status, 401, "GET {path} with a wrong token");
    }
    let r = http::get(&ui.url("/api/mesh"))
        .bearer("t0ken-xyz")
        .send()
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // `?token=` once: a cookie, and the address without the token.
    let r = ui.get("/?token=t0ken-xyz");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/"));
    let cookie = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("meshroom_ui="), "{cookie}");
    let r = http::get(&ui.url("/api/mesh"))
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status, 200);
    let denied = Events::open(&ui, &[]);
    assert_eq!(denied.status(), Some(401));
    let allowed = Events::open(&ui, &[("Cookie", &cookie)]);
    assert_eq!(allowed.status(), Some(200));
}

#[test]
fn another_address_than_the_loopback_needs_a_token_and_a_foreign_host_is_refused() {
    let cli = Cli::init();
    let refused = cli.fails(&["ui", "--listen", "0.0.0.0:0"]);
    assert!(
        refused.stderr.contains("without a token") && refused.stderr.contains("--token"),
        "{}",
        refused.text()
    );
    let empty = cli.fails(&["ui", "--listen", "127.0.0.1:0", "--token", ""]);
    assert!(empty.stderr.contains("token is empty"), "{}", empty.text());
    // Without a token, a page of another site reaching 127.0.0.1 through a
    // rebound DNS name is refused by its Host.
    let ui = Ui::start(&cli, &[]);
    let mut s = TcpStream::connect(("127.0.0.1", ui.port())).unwrap();
    s.write_all(b"GET /api/mesh HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

#[test]
fn slow_clients_huge_addresses_and_many_streams_neither_block_the_server_nor_grow_it() {
    let cli = Cli::init();
    let ui = Ui::start(&cli, &[]);
    assert_eq!(ui.get("/api/mesh").status, 200);
    let rss_before = ui.rss_kib();

    // 200 clients sending half a request head and then nothing.
    let slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", ui.port())).unwrap();
            s.write_all(b"GET /api/mesh HTTP/1.1\r\nHost: 127.0")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    assert_eq!(ui.get("/api/mesh").status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // Huge query strings, 200 times: refused, the server unchanged.
    let huge = "a".repeat(100_000);
    for _ in 0..200 {
        let mut s = TcpStream::connect(("127.0.0.1", ui.port())).unwrap();
        let head = format!("GET /api/mesh?q={huge} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let _ = s.write_all(head.as_bytes());
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(
            !answer.starts_with("HTTP/1.1 200"),
            "{}",
            &answer[..answer.len().min(200)]
        );
    }
    let r = ui.get(&format!("/api/mesh?q={}", "b".repeat(5000)));
    assert_eq!(r.status, 414);

    // More event streams than allowed: the extra ones are refused at once.
    let streams: Vec<Events> = (0..40).map(|_| Events::open(&ui, &[])).collect();
    let statuses: Vec<Option<u16>> = streams.iter().map(Events::status).collect();
    let open = statuses.iter().filter(|s| **s == Some(200)).count();
    let refused = statuses.iter().filter(|s| **s == Some(503)).count();
    assert_eq!((open, refused), (32, 8), "{statuses:?}");
    let started = Instant::now();
    assert_eq!(ui.get("/api/mesh").status, 200);
    assert!(started.elapsed() < Duration::from_secs(3));

    // The slow clients are cut off after the header timeout.
    std::thread::sleep(Duration::from_secs(6));
    let mut cut = 0;
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 256];
        if s.read(&mut buf).is_ok() {
            cut += 1;
        }
    }
    assert_eq!(cut, 200, "slow clients still connected");
    let rss_after = ui.rss_kib();
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    drop(streams);
}

#[test]
fn a_run_in_another_process_streams_its_plugs_live() {
    let mesh = Mesh::start();
    let cli = &mesh.cli;
    cli.ok(&["plug", "events", "edge", "collector"]);
    let mut ui = Ui::start(cli, &[]);
    let events = Events::open(&ui, &[]);
    assert_eq!(events.status(), Some(200));
    cli.ok(&["up"]);
    let text = events.wait_for("event: run_finished");
    let started = text.find("event: plug_started").unwrap();
    let step = text.find("event: step_started").unwrap();
    let finished = text.find("event: plug_finished").unwrap();
    assert!(started < step && step < finished, "{text}");
    assert!(
        text.contains("\"verdict\":\"done\"") && text.contains("\"state\":\"up\""),
        "{text}"
    );
    assert_eq!(ui.json("/api/mesh")["plugs"][0]["state"], "up");

    // Caddy restarted: it lost meshroom's logger; `check` finds the drift,
    // and the dashboard shows it though nothing was saved.
    let mut caddy = mesh.caddy;
    caddy.restart().unwrap();
    let check = cli.run(&["check"], None);
    assert_eq!(check.code, Some(2), "{}", check.text());
    events.wait_for("\"verdict\":\"drifted\"");
    assert_eq!(ui.json("/api/mesh")["plugs"][0]["state"], "drifted");
    let id = plug_id(&ui);
    let plug = ui.json(&format!("/api/plug?id={}", query(&id)));
    assert_eq!(plug["state"], "drifted");
    assert!(
        plug["drift"].as_str().unwrap().contains("caddy"),
        "{plug:#}"
    );
    // The socket is the dashboard's own, and goes with it on Ctrl-C; one
    // left by a dashboard killed outright is swept by the next.
    let sockets = cli.project().join(".meshroom/ui");
    let count = || std::fs::read_dir(&sockets).unwrap().count();
    assert_eq!(count(), 1);
    ui.interrupt();
    assert_eq!(count(), 0);
    drop(ui);
    let killed = Ui::start(cli, &[]);
    drop(killed);
    assert_eq!(count(), 1);
    let next = Ui::start(cli, &[]);
    assert_eq!(count(), 1);
    drop(next);
    // With no dashboard, runs go on as before.
    cli.ok(&["up", "--repair"]);
}
