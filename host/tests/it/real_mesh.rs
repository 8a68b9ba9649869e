//! The real `meshroom` binary on a project holding the four real products
//! (Caddy, rsyslog, CrowdSec, a medallion TAXII server): `plug`, `plan`,
//! `up`, `check`, `down`, `execute`, `produce` and `watch` against the
//! products the harness starts on 127.0.0.1, and the failure paths (a product
//! down during `up`, wrong credentials, a product answering 500). Every effect
//! is verified through the PRODUCT's own API or output, never through what
//! meshroom recorded.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::support::{Cli, adapter_wasm};
use meshroom_tests::{Caddy, CrowdSec, HttpCollector, Reply, Rsyslog, Taxii, http, random_hex};
use serde_json::{Value, json};

// ---------------------------------------------------------------- the mesh

/// The four products of `adapters/`, as `meshroom pull` would install them.
pub(crate) const PRODUCTS: [&str; 4] = ["caddy", "rsyslog", "crowdsec", "medallion"];

/// A new project with the four real products installed: each definition and
/// its built adapter component copied into `products/<name>/`.
pub(crate) fn project() -> Cli {
    let cli = Cli::init();
    for product in PRODUCTS {
        install(&cli.project(), product);
    }
    cli
}

/// Installs the product of `adapters/<folder>` in `project` as `pull`
/// would (its definition and built component in `products/<name>/`);
/// returns the product's name (its definition's).
pub(crate) fn install(project: &std::path::Path, folder: &str) -> String {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../adapters")
        .join(folder);
    let definition = std::fs::read_to_string(source.join("definition.yaml")).unwrap();
    let name = definition
        .lines()
        .find_map(|l| l.strip_prefix("name: "))
        .unwrap()
        .trim()
        .to_string();
    let target = project.join("products").join(&name);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("definition.yaml"), definition).unwrap();
    std::fs::copy(adapter_wasm(&name), target.join(format!("{name}.wasm"))).unwrap();
    name
}

/// `meshroom add caddy NAME` for a Caddy admin API.
fn add_caddy(cli: &Cli, name: &str, admin_url: &str) {
    cli.ok(&[
        "add",
        "caddy",
        name,
        "-c",
        &format!("admin_url={admin_url}"),
    ]);
}

/// `meshroom add rsyslog NAME` for an rsyslog TCP input.
fn add_rsyslog(cli: &Cli, name: &str, rsyslog: &Rsyslog) {
    cli.ok(&[
        "add",
        "rsyslog",
        name,
        "-c",
        &format!("address={}", rsyslog.addr()),
    ]);
}

/// `meshroom add crowdsec NAME`, the watcher password and bouncer key read
/// from stdin (`password` may be a wrong one).
fn add_crowdsec(cli: &Cli, name: &str, crowdsec: &CrowdSec, password: &str) {
    let secrets = format!("{password}\n{}\n", crowdsec.bouncer_key());
    cli.ok_with(
        &[
            "add",
            "crowdsec",
            name,
            "-c",
            &format!("url={}", crowdsec.url()),
            "-c",
            &format!("machine_id={}", crowdsec.machine_id()),
            "-s",
            "password",
            "-s",
            "bouncer_key",
        ],
        Some(&secrets),
    );
}

/// `meshroom add medallion NAME` on the TAXII server's writable collection.
fn add_taxii(cli: &Cli, name: &str, taxii: &Taxii) {
    cli.ok_with(
        &[
            "add",
            "medallion",
            name,
            "-c",
            &format!("url={}", taxii.url()),
            "-c",
            &format!("api_root={}", taxii.api_root()),
            "-c",
            &format!("collection_id={}", taxii.collection_id()),
            "-c",
            &format!("username={}", taxii.user()),
            "-s",
            "password",
        ],
        Some(&format!("{}\n", taxii.password())),
    );
}

/// The example mesh: the four products running, and a project with one
/// instance of each — `edge` (Caddy), `collector` (rsyslog), `ips`
/// (CrowdSec), `tip` (TAXII).
pub(crate) struct Mesh {
    pub cli: Cli,
    pub caddy: Caddy,
    pub rsyslog: Rsyslog,
    pub crowdsec: CrowdSec,
    pub taxii: Taxii,
}

impl Mesh {
    pub(crate) fn start() -> Mesh {
        // The products start concurrently (medallion and CrowdSec take the longest).
        let (cli, caddy, rsyslog, crowdsec, taxii) = std::thread::scope(|s| {
            let caddy = s.spawn(|| Caddy::start().unwrap());
            let rsyslog = s.spawn(|| Rsyslog::start().unwrap());
            let crowdsec = s.spawn(|| CrowdSec::start().unwrap());
            let taxii = s.spawn(|| Taxii::start().unwrap());
            let cli = project();
            (
                cli,
                caddy.join().unwrap(),
                rsyslog.join().unwrap(),
                crowdsec.join().unwrap(),
                taxii.join().unwrap(),
            )
        });
        add_caddy(&cli, "edge", &caddy.admin_url());
        add_rsyslog(&cli, "collector", &rsyslog);
        add_crowdsec(&cli, "ips", &crowdsec, crowdsec.password());
        add_taxii(&cli, "tip", &taxii);
        Mesh {
            cli,
            caddy,
            rsyslog,
            crowdsec,
            taxii,
        }
    }
}

// ---------------------------------------------------------------- product views

/// The names of the loggers Caddy's own config has (`logging.logs`).
fn caddy_loggers(caddy: &Caddy) -> Vec<String> {
    let logs = caddy.config("logging/logs").unwrap();
    logs.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The loggers meshroom made in Caddy (their names start with `meshroom_`).
fn meshroom_loggers(caddy: &Caddy) -> Vec<String> {
    caddy_loggers(caddy)
        .into_iter()
        .filter(|n| n.starts_with("meshroom_"))
        .collect()
}

/// GETs `path` on Caddy's site from `source`, retried while Caddy swaps in a
/// new config (a config change can reset a connection opened meanwhile).
fn status_from(caddy: &Caddy, source: Ipv4Addr, path: &str) -> u16 {
    let mut last = None;
    for _ in 0..20 {
        match caddy.status_from(source, path) {
            Ok(status) => return status,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("GET {path} from {source} kept failing: {last:?}");
}

/// `list plugs --json`: the plug from `src`, as meshroom lists it.
fn listed_plug(cli: &Cli, src: &str) -> Value {
    let plugs: Value = serde_json::from_str(&cli.ok(&["list", "plugs", "--json"])).unwrap();
    plugs
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["src_instance"] == src)
        .unwrap_or_else(|| panic!("no plug from {src} in {plugs:#}"))
        .clone()
}

/// The lines rsyslog received that contain `needle`.
fn received_with(rsyslog: &Rsyslog, needle: &str) -> Vec<String> {
    rsyslog
        .received_lines()
        .unwrap()
        .into_iter()
        .filter(|l| l.contains(needle))
        .collect()
}

/// Waits until rsyslog received `n` lines containing `needle`.
fn wait_received(rsyslog: &Rsyslog, needle: &str, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let hits = received_with(rsyslog, needle);
        if hits.len() >= n {
            return hits;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "rsyslog did not receive {n} lines with {needle}: {:#?}",
        rsyslog.received_lines().unwrap()
    );
}

// ---------------------------------------------------------------- up, check, down

#[test]
fn up_ships_caddy_access_logs_to_rsyslog_and_down_removes_exactly_meshroom_s_logger() {
    let mesh = Mesh::start();
    let (cli, caddy) = (&mesh.cli, &mesh.caddy);
    // A logger the operator had before meshroom: it must survive `down`.
    let own = json!({"writer": {"output": "discard"}, "include": ["admin"]});
    let r = http::put(&format!(
        "{}/config/logging/logs/operator",
        caddy.admin_url()
    ))
    .json(&own)
    .send()
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    cli.ok(&["plug", "events", "edge", "collector"]);
    let plan = cli.ok(&["plan"]);
    assert!(
        plan.contains("edge") && plan.contains("collector") && plan.contains("ship_access_logs"),
        "{plan}"
    );
    assert!(meshroom_loggers(caddy).is_empty(), "plan changed Caddy");

    let up = cli.ok(&["up"]);
    assert!(up.contains("up ") && up.contains("edge"), "{up}");
    // Caddy's admin API has the logger, writing to rsyslog's address.
    let loggers = meshroom_loggers(caddy);
    assert_eq!(loggers.len(), 1, "{:?}", caddy_loggers(caddy));
    let logger = caddy
        .config(&format!("logging/logs/{}", loggers[0]))
        .unwrap();
    assert_eq!(
        logger["writer"]["address"],
        format!("tcp/{}", mesh.rsyslog.addr())
    );
    // Requests through Caddy arrive at rsyslog as JSON access lines.
    let probe = format!("/real-mesh-{}", random_hex(6));
    for _ in 0..3 {
        assert_eq!(status_from(caddy, Ipv4Addr::LOCALHOST, &probe), 200);
    }
    let hits = wait_received(&mesh.rsyslog, &probe, 3);
    assert!(hits[0].contains("\"status\":200"), "{}", hits[0]);
    assert_eq!(listed_plug(cli, "edge")["status"], "up");
    let check = cli.ok(&["check"]);
    assert!(check.contains("ok ") && check.contains("edge"), "{check}");
    // `up` again changes nothing in Caddy.
    assert!(cli.ok(&["up"]).contains("skipped"));
    assert_eq!(meshroom_loggers(caddy), loggers);

    let down = cli.ok(&["down"]);
    assert!(down.contains("down ") && down.contains("edge"), "{down}");
    assert!(
        meshroom_loggers(caddy).is_empty(),
        "{:?}",
        caddy_loggers(caddy)
    );
    assert_eq!(caddy.config("logging/logs/operator").unwrap(), own);
    // The server's access logging meshroom enabled is off again.
    assert_eq!(
        caddy.config("apps/http/servers/srv0/logs").unwrap(),
        Value::Null
    );
    assert_eq!(listed_plug(cli, "edge")["status"], "down");
    // Traffic no longer reaches rsyslog.
    let late = format!("/real-mesh-late-{}", random_hex(6));
    assert_eq!(status_from(caddy, Ipv4Addr::LOCALHOST, &late), 200);
    std::thread::sleep(Duration::from_millis(500));
    assert!(received_with(&mesh.rsyslog, &late).is_empty());
}

#[test]
fn a_logger_deleted_behind_meshroom_s_back_is_drift_that_up_repair_puts_back() {
    let mesh = Mesh::start();
    let (cli, caddy) = (&mesh.cli, &mesh.caddy);
    cli.ok(&["plug", "events", "edge", "collector"]);
    cli.ok(&["up"]);
    let loggers = meshroom_loggers(caddy);
    assert_eq!(loggers.len(), 1);

    // Someone deletes it through Caddy's admin API.
    let r = http::delete(&format!(
        "{}/config/logging/logs/{}",
        caddy.admin_url(),
        loggers[0]
    ))
    .send()
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    let check = cli.run(&["check"], None);
    assert_eq!(check.code, Some(2), "{}", check.text());
    assert!(
        check.stdout.contains("DRIFTED") && check.stdout.contains("edge --[events"),
        "{}",
        check.text()
    );
    assert!(check.stdout.contains(&loggers[0]), "{}", check.text());
    assert!(check.stderr.contains("1 drifted"), "{}", check.text());

    // `up` alone skips it (up in the project); `up --repair` checks it
    // and puts the logger back in Caddy.
    assert!(cli.ok(&["up"]).contains("already up"));
    assert!(meshroom_loggers(caddy).is_empty());
    let repair = cli.ok(&["up", "--repair"]);
    assert!(repair.contains("set up again: it had drifted"), "{repair}");
    assert_eq!(meshroom_loggers(caddy), loggers);
    cli.ok(&["check"]);
    // Nothing drifted any more: a second repair changes nothing.
    assert!(cli.ok(&["up", "--repair"]).contains("already up"));
    assert_eq!(meshroom_loggers(caddy), loggers);
}

// ---------------------------------------------------------------- execute

#[test]
fn execute_deny_blocks_on_caddy_and_bans_on_crowdsec_and_allow_undoes_both() {
    let mesh = Mesh::start();
    let (cli, caddy, crowdsec) = (&mesh.cli, &mesh.caddy, &mesh.crowdsec);
    let other = Ipv4Addr::new(127, 0, 0, 2);
    assert_eq!(status_from(caddy, other, "/"), 200);

    let denied: Value =
        serde_json::from_str(&cli.ok(&["execute", "deny", "edge", "-p", "ip=127.0.0.2"])).unwrap();
    assert!(denied["route_id"].is_string(), "{denied}");
    assert_eq!(status_from(caddy, other, "/"), 403);
    assert_eq!(status_from(caddy, Ipv4Addr::LOCALHOST, "/"), 200);
    cli.ok(&["execute", "allow", "edge", "-p", "ip=127.0.0.2"]);
    assert_eq!(status_from(caddy, other, "/"), 200);

    let ip = "203.0.113.9";
    assert!(crowdsec.decisions(Some(ip)).unwrap().is_empty());
    cli.ok(&[
        "execute",
        "deny",
        "ips",
        "-p",
        &format!("ip={ip}"),
        "-p",
        "duration=1h",
    ]);
    let decisions = crowdsec.decisions(Some(ip)).unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:#?}");
    assert_eq!(decisions[0]["value"], ip);
    assert_eq!(decisions[0]["type"], "ban");
    cli.ok(&["execute", "allow", "ips", "-p", &format!("ip={ip}")]);
    assert!(crowdsec.decisions(Some(ip)).unwrap().is_empty());
}

// ---------------------------------------------------------------- produce, watch

#[test]
fn produce_posts_a_stix_indicator_to_taxii_and_watch_reads_it_back() {
    let mesh = Mesh::start();
    let id = format!("indicator--{}", meshroom_tests::random_uuid());
    let indicator = json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "real mesh test", "pattern": "[ipv4-addr:value = '203.0.113.10']",
        "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
    });
    let produced = mesh.cli.ok_with(
        &["produce", "threats", "tip"],
        Some(&format!("{indicator}\n")),
    );
    assert!(produced.contains("1 accepted"), "{produced}");
    // The TAXII server's own API has it.
    let objects = mesh.taxii.objects().unwrap();
    assert!(objects.iter().any(|o| o["id"] == id), "{objects:#?}");

    let watched = mesh
        .cli
        .ok(&["watch", "threats", "tip", "--count", "1", "--timeout", "20"]);
    let record: Value = serde_json::from_str(watched.lines().next().unwrap()).unwrap();
    assert_eq!(record["id"], id);
    assert_eq!(record["pattern"], indicator["pattern"]);
}

// ---------------------------------------------------------------- failure paths

#[test]
fn a_caddy_down_during_up_fails_its_plug_and_a_second_up_completes_only_it() {
    let cli = project();
    let (rsyslog, first, mut second) = std::thread::scope(|s| {
        let r = s.spawn(|| Rsyslog::start().unwrap());
        let a = s.spawn(|| Caddy::start().unwrap());
        let b = s.spawn(|| Caddy::start().unwrap());
        (r.join().unwrap(), a.join().unwrap(), b.join().unwrap())
    });
    add_rsyslog(&cli, "collector", &rsyslog);
    add_caddy(&cli, "edge1", &first.admin_url());
    add_caddy(&cli, "edge2", &second.admin_url());
    cli.ok(&["plug", "events", "edge1", "collector"]);
    cli.ok(&["plug", "events", "edge2", "collector"]);
    second.stop().unwrap();

    let up = cli.fails(&["up"]);
    let text = up.text();
    let failed = text
        .lines()
        .find(|l| l.starts_with("FAILED"))
        .unwrap_or_else(|| panic!("no failed plug in:\n{text}"));
    assert!(failed.contains("edge2 --[events"), "{text}");
    assert!(failed.contains("(unreachable)"), "{text}");
    assert!(failed.contains("connection refused"), "{text}");
    // One clear line per failed plug, not a warning per connection attempt.
    assert!(!up.stderr.contains("WARN"), "{text}");
    assert!(
        failed.contains(&format!("127.0.0.1:{}", second.admin_port())),
        "{text}"
    );
    assert!(up.stderr.contains("1 failed"), "{text}");
    // The first plug is really up on Caddy 1; the second is not up.
    assert_eq!(meshroom_loggers(&first).len(), 1);
    assert_eq!(listed_plug(&cli, "edge1")["status"], "up");
    let edge2 = listed_plug(&cli, "edge2");
    assert_eq!(edge2["status"], "down");
    let last_error = edge2["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains("connection refused"), "{edge2:#}");

    second.restart().unwrap();
    let again = cli.ok(&["up"]);
    let line_of = |src: &str| {
        again
            .lines()
            .find(|l| l.contains(&format!("{src} --[")))
            .unwrap_or_else(|| panic!("no {src} in:\n{again}"))
            .to_string()
    };
    assert!(line_of("edge1").starts_with("skipped"), "{again}");
    assert!(line_of("edge2").starts_with("up"), "{again}");
    assert_eq!(
        meshroom_loggers(&first).len(),
        1,
        "{:?}",
        caddy_loggers(&first)
    );
    assert_eq!(meshroom_loggers(&second).len(), 1);
    let edge2 = listed_plug(&cli, "edge2");
    assert_eq!(edge2["status"], "up");
    assert!(edge2.get("last_error").is_none(), "{edge2:#}");
    // Caddy 2 really ships its access logs now.
    let probe = format!("/second-{}", random_hex(6));
    assert_eq!(status_from(&second, Ipv4Addr::LOCALHOST, &probe), 200);
    wait_received(&rsyslog, &probe, 1);
}

#[test]
fn a_wrong_crowdsec_password_is_refused_clearly_and_never_printed() {
    let crowdsec = CrowdSec::start().unwrap();
    let cli = project();
    let wrong = format!("wrong-{}", random_hex(8));
    add_crowdsec(&cli, "ips", &crowdsec, &wrong);
    let ip = "203.0.113.11";

    let ran = cli.fails(&["execute", "deny", "ips", "-p", &format!("ip={ip}")]);
    assert_eq!(ran.code, Some(11), "{}", ran.text());
    assert!(ran.stderr.contains("unauthorized"), "{}", ran.text());
    assert!(ran.stderr.contains(&crowdsec.url()), "{}", ran.text());
    assert!(
        !ran.text().contains(&wrong),
        "the password leaked:\n{}",
        ran.text()
    );
    // Not even in debug logs.
    let debug = cli.fails(&["-d", "execute", "deny", "ips", "-p", &format!("ip={ip}")]);
    assert_eq!(debug.code, Some(11), "{}", debug.text());
    assert!(!debug.text().contains(&wrong), "leaked:\n{}", debug.text());
    assert!(crowdsec.decisions(Some(ip)).unwrap().is_empty());
}

#[test]
fn a_product_answering_500_fails_its_plug_with_the_status_and_not_the_others() {
    let cli = project();
    let (rsyslog, caddy) = std::thread::scope(|s| {
        let r = s.spawn(|| Rsyslog::start().unwrap());
        let c = s.spawn(|| Caddy::start().unwrap());
        (r.join().unwrap(), c.join().unwrap())
    });
    let broken = HttpCollector::start_with(Reply::status(500)).unwrap();
    add_rsyslog(&cli, "collector", &rsyslog);
    add_caddy(&cli, "edge", &caddy.admin_url());
    add_caddy(&cli, "broken", &broken.url());
    cli.ok(&["plug", "events", "edge", "collector"]);
    cli.ok(&["plug", "events", "broken", "collector"]);

    let up = cli.fails(&["up"]);
    let text = up.text();
    let failed = text
        .lines()
        .find(|l| l.starts_with("FAILED"))
        .unwrap_or_else(|| panic!("no failed plug in:\n{text}"));
    assert!(failed.contains("broken --[events"), "{text}");
    assert!(failed.contains("500"), "{text}");
    assert!(failed.contains(&broken.url()), "{text}");
    assert!(!broken.requests().is_empty());
    // The other plug came up, on the real Caddy.
    assert_eq!(meshroom_loggers(&caddy).len(), 1);
    assert_eq!(listed_plug(&cli, "edge")["status"], "up");
    assert_eq!(listed_plug(&cli, "broken")["status"], "down");
}
