//! Record and replay against the real products: the example mesh's
//! commands (`up`, `check`, `execute deny/allow`, `produce`, `watch`,
//! `down`) recorded with `--record` against Caddy, CrowdSec and medallion
//! started by the harness; then the products stop, and the same calls
//! replay offline — through `--replay` and as `meshroom test` scenarios.
//! Also: no secret reaches a cassette, a changed byte names the request
//! and the field, and the committed suites of `adapters/*/tests` pass.

use std::path::{Path, PathBuf};

use crate::real_mesh::{Mesh, PRODUCTS, install, project};
use crate::support::{Cli, walk};
use serde_json::{Value, json};

/// Every file below `dir`, as text.
fn texts(dir: &Path) -> Vec<(PathBuf, String)> {
    walk(dir)
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            (p, text)
        })
        .collect()
}

/// Copies every file below `from` to the same place below `to`.
fn copy_tree(from: &Path, to: &Path) {
    for file in walk(from) {
        let target = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
}

/// One scenario per cassette below `recorded/<step>/<product>/…`: copied
/// into `products/<product>/tests/`, expectations from the recording.
fn scenarios_from(cli: &Cli, recorded: &Path) -> usize {
    let mut n = 0;
    for cassette in walk(recorded)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let rel = cassette.strip_prefix(recorded).unwrap();
        let parts: Vec<String> = rel
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        let (step, product) = (&parts[0], &parts[1]);
        let inner: PathBuf = parts[2..].iter().collect();
        let tests = cli.project().join("products").join(product).join("tests");
        let target = tests.join("cassettes").join(step).join(&inner);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&cassette, &target).unwrap();
        let name = format!(
            "{step}_{}",
            inner
                .with_extension("")
                .to_string_lossy()
                .replace(['/', '.'], "_")
        );
        let scenario = format!(
            "meshroom_scenario: 1\nname: {name}\ncassette: cassettes/{step}/{}\n{}",
            inner.display(),
            rules_for(step)
        );
        std::fs::write(tests.join(format!("{name}.yaml")), scenario).unwrap();
        n += 1;
    }
    n
}

/// What a replay of `step` may send differently from the recording: the
/// clock and fresh ids.
fn rules_for(step: &str) -> &'static str {
    match step {
        "deny-ips" => {
            "match:\n  ignore_json: ['$[*].start_at', '$[*].stop_at', '$[*].created_at']\n"
        }
        "produce" => "match:\n  ignore_json: ['$.id']\n",
        _ => "",
    }
}

/// The indicator `produce` sends (fixed, so the replay sends the same).
fn indicator() -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": "indicator--2f1c9f5e-3b59-4f57-9d0e-5a3c1e7b0c11",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "conformance", "pattern": "[ipv4-addr:value = '203.0.113.10']",
        "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
    })
}

/// The example mesh's commands, each with `--record <dir>/<step>`.
fn record_mesh(mesh: &Mesh, dir: &Path) {
    let cli = &mesh.cli;
    let rec = |step: &str| dir.join(step).to_string_lossy().into_owned();
    cli.ok(&["plug", "events", "edge", "collector"]);
    cli.ok(&["up", "--record", &rec("up")]);
    cli.ok(&["check", "--record", &rec("check")]);
    for (instance, ip) in [("edge", "127.0.0.2"), ("ips", "203.0.113.9")] {
        for action in ["deny", "allow"] {
            cli.ok(&[
                "execute",
                action,
                instance,
                "-p",
                &format!("ip={ip}"),
                "--record",
                &rec(&format!("{action}-{instance}")),
            ]);
        }
    }
    let produced = cli.ok_with(
        &["produce", "threats", "tip", "--record", &rec("produce")],
        Some(&format!("{}\n", indicator())),
    );
    assert!(produced.contains("1 accepted"), "{produced}");
    let watched = cli.ok(&[
        "watch",
        "threats",
        "tip",
        "--count",
        "1",
        "--timeout",
        "20",
        "--record",
        &rec("watch"),
    ]);
    assert!(watched.contains("indicator--"), "{watched}");
    cli.ok(&["down", "--record", &rec("down")]);
}

#[test]
fn the_real_products_recorded_once_replay_offline_green_and_secrets_never_reach_a_cassette() {
    let mesh = Mesh::start();
    let recorded = tempfile::tempdir().unwrap();
    record_mesh(&mesh, recorded.path());
    let secrets = [
        mesh.crowdsec.password().to_string(),
        mesh.crowdsec.bouncer_key().to_string(),
        mesh.taxii.password().to_string(),
    ];
    let files = texts(recorded.path());
    assert!(
        files.len() >= 8,
        "{:#?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (path, text) in &files {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{} holds a secret:\n{text}",
                path.display()
            );
        }
        assert!(
            text.starts_with("# meshroom cassette (format 1)"),
            "{}",
            path.display()
        );
    }
    // The store's secrets were used, and are placeholders.
    let all: String = files.iter().map(|f| f.1.as_str()).collect();
    assert!(all.contains("{{secret:password}}"), "{all}");

    // A second recording into the same folder is refused, nothing lost.
    let again = mesh.cli.fails(&[
        "check",
        "--record",
        &recorded.path().join("check").to_string_lossy(),
    ]);
    assert!(again.stderr.contains("--force"), "{}", again.text());

    // The products stop: nothing to talk to any more.
    let Mesh {
        cli,
        caddy,
        rsyslog,
        crowdsec,
        taxii,
    } = mesh;
    drop((caddy, rsyslog, crowdsec, taxii));

    // `--replay` answers every request of `up` and of `execute` offline.
    let replay = |step: &str| recorded.path().join(step).to_string_lossy().into_owned();
    let up = cli.ok(&["up", "--replay", &replay("up")]);
    assert!(up.contains("up ") && up.contains("edge"), "{up}");
    assert!(
        cli.ok(&["list", "plugs", "--json"]).contains("\"down\""),
        "a replay saves no plug state"
    );
    cli.ok(&[
        "execute",
        "deny",
        "edge",
        "-p",
        "ip=127.0.0.2",
        "--replay",
        &replay("deny-edge"),
    ]);
    // CrowdSec's alert carries the clock: replayed with rules that relax it.
    let scratch = tempfile::tempdir().unwrap();
    let rules = scratch.path().join("rules.yaml");
    std::fs::write(&rules, "ignore_json: ['$[*].start_at', '$[*].stop_at']\n").unwrap();
    cli.ok(&[
        "execute",
        "deny",
        "ips",
        "-p",
        "ip=203.0.113.9",
        "--replay",
        &replay("deny-ips"),
        "--match-rules",
        &rules.to_string_lossy(),
    ]);
    std::fs::write(&rules, "ignore_json: ['$.[']\n").unwrap();
    let bad = cli.fails(&[
        "execute",
        "deny",
        "ips",
        "-p",
        "ip=203.0.113.9",
        "--replay",
        &replay("deny-ips"),
        "--match-rules",
        &rules.to_string_lossy(),
    ]);
    assert!(
        bad.stderr.contains("invalid match rule `$.[`"),
        "{}",
        bad.text()
    );
    // Without the cassette, the product is unreachable (no pass-through).
    let live = cli.fails(&["execute", "deny", "edge", "-p", "ip=127.0.0.2"]);
    assert_ne!(live.code, Some(0), "{}", live.text());

    // Every recorded call as a conformance scenario: all green, offline.
    let n = scenarios_from(&cli, recorded.path());
    assert!(n >= 8, "{n} scenarios");
    let table = cli.ok(&["test"]);
    assert_eq!(table.matches(" ok ").count(), n, "{table}");
    let json: Value = serde_json::from_str(&cli.ok(&["test", "--json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), n);
    assert!(
        json.as_array().unwrap().iter().all(|r| r["passed"] == true),
        "{json:#}"
    );
    for product in ["caddy", "crowdsec", "medallion"] {
        assert!(
            json.as_array()
                .unwrap()
                .iter()
                .any(|r| r["product"] == product),
            "no scenario of {product}: {json:#}"
        );
    }

    // `MESHROOM_WRITE_SUITES=1` keeps these as the adapters' committed
    // suites (adapters/<product>/tests), which the test below replays.
    if std::env::var_os("MESHROOM_WRITE_SUITES").is_some() {
        let adapters = Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters");
        for product in PRODUCTS {
            let from = cli.project().join("products").join(product).join("tests");
            if !from.is_dir() {
                continue;
            }
            let to = adapters.join(product).join("tests");
            let _ = std::fs::remove_dir_all(&to);
            copy_tree(&from, &to);
        }
    }

    // One byte of a recorded request changed: the failure names the
    // request and the field.
    let caddy_tests = cli.project().join("products/caddy/tests/cassettes");
    let setup = walk(&caddy_tests)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("setup."))
        .expect("a caddy setup cassette");
    let text = std::fs::read_to_string(&setup).unwrap();
    let changed = text.replacen("dial_timeout: 2s", "dial_timeout: 3s", 1);
    assert_ne!(
        changed, text,
        "the setup cassette sends the logger:\n{text}"
    );
    std::fs::write(&setup, changed).unwrap();
    let failed = cli.fails(&["test", "caddy"]);
    assert_eq!(failed.code, Some(1), "{}", failed.text());
    assert!(failed.stdout.contains("FAILED"), "{}", failed.text());
    assert!(
        failed.stderr.contains("no recorded request matches")
            && failed
                .stderr
                .contains("dial_timeout: recorded \"3s\", got \"2s\""),
        "{}",
        failed.text()
    );
    std::fs::write(&setup, &text).unwrap();

    // One byte of a recorded response changed: the check now finds drift,
    // and the failure names the field of the result.
    let check = walk(&caddy_tests)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("check."))
        .expect("a caddy check cassette");
    let text = std::fs::read_to_string(&check).unwrap();
    let at = text
        .rfind("tcp/127.0.0.1:")
        .unwrap_or_else(|| panic!("the check cassette holds the consumer's address:\n{text}"))
        + "tcp/127.0.0.1:".len();
    let other = if text[at..].starts_with('1') {
        "2"
    } else {
        "1"
    };
    let mut changed = text.clone();
    changed.replace_range(at..at + 1, other);
    std::fs::write(&check, changed).unwrap();
    let failed = cli.fails(&["test", "caddy"]);
    assert!(
        failed.stderr.contains("$.check.state: expected \"up\""),
        "{}",
        failed.text()
    );
}

#[test]
fn bad_cassettes_and_flags_are_refused_with_the_file_line_or_version() {
    let cli = project();
    let dir = tempfile::tempdir().unwrap();
    let tests = cli.project().join("products/caddy/tests");
    std::fs::create_dir_all(tests.join("cassettes")).unwrap();
    let scenario = |name: &str, cassette: &str| {
        std::fs::write(
            tests.join(format!("{name}.yaml")),
            format!("meshroom_scenario: 1\ncassette: cassettes/{name}.yaml\n"),
        )
        .unwrap();
        std::fs::write(
            tests.join("cassettes").join(format!("{name}.yaml")),
            cassette,
        )
        .unwrap();
    };
    scenario(
        "malformed",
        "meshroom_cassette: 1\nadapter: {product: caddy\n",
    );
    scenario("future", "meshroom_cassette: 7\n");
    scenario(
        "other_build",
        "meshroom_cassette: 1\nadapter: {product: caddy, version: 0.0.1, digest: 'sha256:0000'}\ncall: {hook: nope, kind: setup}\n",
    );
    let out = cli.fails(&["test", "caddy"]);
    assert_eq!(out.code, Some(1), "{}", out.text());
    assert!(out.stderr.contains("malformed.yaml:3:"), "{}", out.text());
    assert!(
        out.stderr.contains("format version 7 is not supported"),
        "{}",
        out.text()
    );
    assert!(out.stderr.contains("has no hook `nope`"), "{}", out.text());

    let both = cli.fails(&[
        "up",
        "--record",
        &dir.path().to_string_lossy(),
        "--replay",
        &dir.path().to_string_lossy(),
    ]);
    assert_eq!(both.code, Some(2), "{}", both.text());
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.text()
    );
    let missing = cli.fails(&["up", "--replay", "/nonexistent/cassettes"]);
    assert!(
        missing.stderr.contains("not a folder of cassettes"),
        "{}",
        missing.text()
    );
}

#[test]
fn the_committed_conformance_suites_of_the_adapters_pass_offline() {
    let cli = project();
    let adapters = Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters");
    let mut products = 0;
    for folder in PRODUCTS.iter().chain(&["example-http"]) {
        let suite = adapters.join(folder).join("tests");
        if !suite.is_dir() {
            continue;
        }
        products += 1;
        let name = install(&cli.project(), folder);
        copy_tree(
            &suite,
            &cli.project().join("products").join(name).join("tests"),
        );
    }
    assert!(products >= 1, "no committed suite in adapters/*/tests");
    let json: Value = serde_json::from_str(&cli.ok(&["test", "--json"])).unwrap();
    let reports = json.as_array().unwrap();
    assert!(!reports.is_empty());
    assert!(reports.iter().all(|r| r["passed"] == true), "{json:#}");
    for product in ["caddy", "crowdsec", "medallion", "example_http"] {
        assert!(
            reports.iter().any(|r| r["product"] == product),
            "no committed scenario of {product}: {json:#}"
        );
    }
}

#[test]
fn a_pulled_product_carries_its_conformance_suite_and_passes_it_before_up() {
    let vendor = crate::registry_cli::Machine::new();
    let name = install(&vendor.project(), "example-http");
    let adapters = Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters/example-http");
    copy_tree(
        &adapters.join("tests"),
        &vendor.project().join("products").join(name).join("tests"),
    );
    vendor.ok(&["publish", "example_http", "--to", "acme/example:1.0.0"]);

    // The operator's side: a new project, the product pulled, tested offline.
    std::fs::remove_dir_all(vendor.project()).unwrap();
    vendor.ok(&["pull", "acme/example:1.0.0"]);
    let pulled = vendor.project().join("products/example_http/tests");
    assert!(pulled.join("create_webhook.yaml").is_file());
    assert!(pulled.join("cassettes/create_webhook.yaml").is_file());
    let report: Value =
        serde_json::from_str(&vendor.ok(&["--json", "test", "example_http"])).unwrap();
    let reports = report.as_array().unwrap();
    assert_eq!(reports.len(), 1, "{report:#}");
    assert_eq!(reports[0]["passed"], true, "{report:#}");
}
