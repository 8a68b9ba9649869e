#![allow(clippy::collapsible_if)]
//! `meshroom plan` / `up` / `down` / `check`, black-box, on temp projects:
//! the example adapter configures a real HTTP API on 127.0.0.1 (the test's
//! [`Api`] server), the hostile adapter's endless setup is contained.

use std::path::{Path, PathBuf};

use crate::support::{Api, adapter_wasm, fails, meshroom, meshroom_command, ok, spawn_piped, walk};
use serde_json::Value;

fn write(path: PathBuf, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A project with the example product (its adapter copied in), an `edr`
/// product without adapter, `edr1`, and one example instance per URL.
pub(crate) fn project(instances: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let products = root.join("products");
    let example = products.join("example_http");
    let definition = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../adapters/example-http/definition.yaml"),
    )
    .unwrap();
    write(example.join("definition.yaml"), &definition);
    std::fs::copy(
        adapter_wasm("example_http"),
        example.join("example_http.wasm"),
    )
    .unwrap();
    write(
        products.join("edr/definition.yaml"),
        "name: edr\nproduces:\n  events:\n    - mode: push\n",
    );
    write(
        root.join("instances/edr/edr1/config.yaml"),
        "name: edr1\nproduct: edr\n",
    );
    for (name, url) in instances {
        write(
            root.join(format!("instances/example_http/{name}/config.yaml")),
            &format!("name: {name}\nproduct: example_http\nsettings:\n  url: {url}\n"),
        );
        let out = meshroom(
            root,
            &[
                "secrets",
                "set",
                &format!("instance:example_http/{name}"),
                "api_key",
            ],
            Some("k-123\n"),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ok(root, &["plug", "events", "edr1", name]);
    }
    dir
}

pub(crate) fn plug_file(root: &Path, dst: &str) -> String {
    std::fs::read_to_string(root.join(format!("instances/edr/edr1/plugs/{dst}/events.yaml")))
        .unwrap()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn plan_up_check_drift_down_against_a_real_api() {
    let api = Api::start();
    let dir = project(&[("siem1", &api.url())]);
    let root = dir.path();

    // plan: the consumer's owns-both webhook hook, nothing run.
    let plan = ok(root, &["plan"]);
    assert!(plan.contains("edr1 --[events:push]-> siem1"), "{plan}");
    assert!(plan.contains("create_webhook on siem1"), "{plan}");
    let plan_json = json(&ok(root, &["--json", "plan"]));
    assert_eq!(plan_json["plugs"][0]["steps"][0]["hook"], "create_webhook");
    assert!(api.requests().is_empty(), "plan must not call the product");

    // up: the webhook really exists; its id is recorded, its token is not in plaintext.
    let up = ok(root, &["up"]);
    assert!(up.contains("up") && up.contains("siem1"), "{up}");
    let hooks = api.state.lock().unwrap().webhooks.clone();
    assert_eq!(hooks.len(), 1);
    let (id, hook) = hooks.iter().next().unwrap();
    assert_eq!(hook["source"], "edr1");
    let plug = plug_file(root, "siem1");
    assert!(plug.contains("status: up"), "{plug}");
    assert!(plug.contains(&format!("webhook_id: {id}")), "{plug}");
    for file in walk(root) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&format!("tok-{id}")) && !text.contains("k-123"),
            "plaintext secret in {}",
            file.display()
        );
    }

    // idempotent: a second up calls nothing.
    let before = api.requests().len();
    let again = ok(root, &["up"]);
    assert!(
        again.contains("skipped") && again.contains("already up"),
        "{again}"
    );
    assert_eq!(api.requests().len(), before);

    // check: up; then the webhook is deleted server-side: drift, exit 2.
    let check = ok(root, &["check"]);
    assert!(check.contains("ok") && check.contains("siem1"), "{check}");
    api.state.lock().unwrap().webhooks.clear();
    let (out, text) = fails(root, &["check"]);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("DRIFTED") && text.contains("gone"), "{text}");
    let report = json(&String::from_utf8_lossy(
        &meshroom(root, &["--json", "check"], None).stdout,
    ));
    assert_eq!(report["plugs"][0]["verdict"], "drifted");

    // Recreate it by hand with the recorded id, then down deletes it with the token.
    api.state
        .lock()
        .unwrap()
        .webhooks
        .insert(id.clone(), serde_json::json!({"id": id, "topic": "events"}));
    ok(root, &["down"]);
    assert!(api.state.lock().unwrap().webhooks.is_empty());
    let delete = api
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .expect("teardown deleted the webhook");
    assert_eq!(delete.path, format!("/webhooks/{id}"));
    assert_eq!(
        delete.headers.get("x-webhook-token").map(String::as_str),
        Some(format!("tok-{id}").as_str())
    );
    let plug = plug_file(root, "siem1");
    assert!(
        !plug.contains("status: up") && !plug.contains("webhook_id"),
        "{plug}"
    );
    let again = ok(root, &["down"]);
    assert!(again.contains("already down"), "{again}");
}

#[test]
fn up_repair_sets_up_again_only_the_plugs_that_drifted() {
    let api = Api::start();
    let gone = Api::start();
    let dir = project(&[
        ("siem1", &api.url()),
        ("siem2", &api.url()),
        ("siem3", &gone.url()),
    ]);
    let root = dir.path();
    ok(root, &["up"]);
    let webhook_of = |dst: &str| {
        let plug = plug_file(root, dst);
        let line = plug.lines().find(|l| l.contains("webhook_id")).unwrap();
        line.rsplit(' ').next().unwrap().to_string()
    };
    let (first, second) = (webhook_of("siem1"), webhook_of("siem2"));
    // siem1's webhook is deleted behind meshroom's back; siem3's API goes away.
    api.state.lock().unwrap().webhooks.remove(&first);
    drop(gone);
    let posts = || api.requests().iter().filter(|r| r.method == "POST").count();
    let posts_before = posts();

    let (out, text) = fails(root, &["up", "--repair"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = |dst: &str| line_of(&text, dst);
    assert!(
        line("siem1").starts_with("up") && line("siem1").contains("set up again: it had drifted"),
        "{text}"
    );
    assert!(line("siem2").starts_with("skipped"), "{text}");
    assert!(
        line("siem3").starts_with("FAILED") && line("siem3").contains("cannot check it"),
        "{text}"
    );
    assert!(text.contains("1 failed"), "{text}");
    // One new webhook, for siem1 only, recorded in its plug; siem2's untouched.
    assert_eq!(posts(), posts_before + 1);
    let webhooks = api.state.lock().unwrap().webhooks.clone();
    assert_eq!(webhooks.len(), 2, "{webhooks:?}");
    let repaired = webhook_of("siem1");
    assert_ne!(repaired, first);
    assert!(webhooks.contains_key(&repaired) && webhooks.contains_key(&second));
    assert_eq!(webhook_of("siem2"), second);
    // siem3 is still up in the project: whether it drifted is unknown.
    assert!(plug_file(root, "siem3").contains("status: up"));
    let (_, check) = fails(root, &["check"]);
    assert!(
        check.contains("ok") && line_of(&check, "siem1").starts_with("ok"),
        "{check}"
    );
    assert!(line_of(&check, "siem2").starts_with("ok"), "{check}");
}

/// The line of a report about the plug towards `dst` (empty when none).
pub(crate) fn line_of<'t>(text: &'t str, dst: &str) -> &'t str {
    text.lines()
        .find(|l| l.contains(&format!("-> {dst}")))
        .unwrap_or("")
}

#[test]
fn a_failing_plug_is_marked_and_the_others_come_up() {
    let api = Api::start();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        format!("http://{addr}")
    };
    let dir = project(&[
        ("siem1", &api.url()),
        ("siem2", &closed),
        ("siem3", &api.url()),
    ]);
    let root = dir.path();
    let (out, text) = fails(root, &["up", "-j", "4"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAILED") && text.contains("siem2"), "{text}");
    assert!(text.contains("1 of 3 plugs"), "{text}");
    assert_eq!(api.state.lock().unwrap().webhooks.len(), 2);
    assert!(plug_file(root, "siem1").contains("status: up"));
    assert!(plug_file(root, "siem3").contains("status: up"));
    let failed = plug_file(root, "siem2");
    assert!(
        failed.contains("last_error:") && !failed.contains("status: up"),
        "{failed}"
    );
    // Scoped: up of the failed plug alone is retried (and fails again), others untouched.
    let before = api.requests().len();
    let (_, text) = fails(root, &["up", "edr1", "siem2"]);
    assert!(text.contains("1 of 1 plugs"), "{text}");
    assert_eq!(api.requests().len(), before);
}

#[test]
fn the_hostile_adapter_spinning_in_setup_is_contained() {
    let api = Api::start();
    let dir = project(&[("siem1", &api.url())]);
    let root = dir.path();
    let hostile = root.join("products/hostile");
    let definition = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../adapters/hostile/definition.yaml"),
    )
    .unwrap();
    write(hostile.join("definition.yaml"), &definition);
    std::fs::copy(adapter_wasm("hostile"), hostile.join("hostile.wasm")).unwrap();
    write(
        root.join("instances/hostile/bad1/config.yaml"),
        "name: bad1\nproduct: hostile\n",
    );
    ok(root, &["plug", "events", "edr1", "bad1"]);
    let started = std::time::Instant::now();
    let (_, text) = fails(root, &["up", "--hook-timeout", "1"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert!(
        text.contains("FAILED") && text.contains("bad1") && text.contains("spin_setup"),
        "{text}"
    );
    assert!(
        text.contains("CPU") || text.contains("did not finish"),
        "{text}"
    );
    assert!(
        plug_file(root, "siem1").contains("status: up"),
        "the other plug came up: {text}"
    );
    assert_eq!(api.state.lock().unwrap().webhooks.len(), 1);
}

#[test]
fn a_plug_left_pending_is_shown_checked_as_such_and_torn_down_before_its_setup() {
    let api = Api::start();
    let dir = project(&[("siem1", &api.url())]);
    let root = dir.path();
    ok(root, &["up"]);
    // What a run killed mid-`up` leaves: the webhook made, its id not saved.
    let path = root.join("instances/edr/edr1/plugs/siem1/events.yaml");
    write(path.clone(), "pending: up\n");
    let listed = ok(root, &["list", "plugs"]);
    assert!(listed.contains("down, pending up"), "{listed}");
    let (_, text) = fails(root, &["check"]);
    assert!(
        text.contains("pending") && text.contains("meshroom up"),
        "{text}"
    );
    let plan = json(&ok(root, &["--json", "plan"]));
    let steps = &plan["plugs"][0]["steps"];
    assert_eq!(steps[0]["hook"], "delete_webhook");
    assert_eq!(steps[0]["recovery"], true);
    assert_eq!(steps[1]["hook"], "create_webhook");
    assert!(steps[1].get("recovery").is_none());
    // up: the orphan is found by the plug's identity and deleted, one webhook is made.
    let before: Vec<String> = api.state.lock().unwrap().webhooks.keys().cloned().collect();
    ok(root, &["up"]);
    let after: Vec<String> = api.state.lock().unwrap().webhooks.keys().cloned().collect();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(before, after);
    let plug = plug_file(root, "siem1");
    assert!(
        plug.contains(&format!("webhook_id: {}", after[0])) && !plug.contains("pending"),
        "{plug}"
    );
    ok(root, &["check"]);
}

/// How many webhooks the API holds for each consumer instance.
fn webhooks_by_consumer(api: &Api) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut by: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (id, hook) in &api.state.lock().unwrap().webhooks {
        let consumer = hook["consumer"].as_str().unwrap_or("?").to_string();
        by.entry(consumer).or_default().push(id.clone());
    }
    by
}

/// After a killed `command`: every plug file parses, the secrets store
/// decrypts, a re-run finishes and sweeps the killed run's temporary
/// files, and the API holds what one clean run gives: one webhook per
/// plug, the one its file records, after `up`; none after `down`.
fn killed_then_rerun(root: &Path, api: &Api, names: &[String], command: &str, how: &str) {
    let plugs = json(&ok(root, &["list", "plugs", "--json"]));
    let plugs = plugs.as_array().unwrap();
    assert_eq!(plugs.len(), names.len(), "after {how}");
    assert!(
        plugs
            .iter()
            .all(|p| matches!(p["status"].as_str(), Some("up" | "down"))
                && p.get("last_error").is_none()),
        "after {how}: {plugs:?}"
    );
    ok(root, &["secrets", "list", "--json"]);
    ok(root, &[command]);
    let leftovers: Vec<_> = walk(&root.join("instances"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".meshroom-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "after {how}: {leftovers:?}");
    let plugs = json(&ok(root, &["list", "plugs", "--json"]));
    let webhooks = webhooks_by_consumer(api);
    for p in plugs.as_array().unwrap() {
        assert_eq!(p["status"], command, "after {how}: {p}");
        assert!(p.get("pending").is_none(), "after {how}: {p}");
        let consumer = p["dst_instance"].as_str().unwrap();
        let held = webhooks.get(consumer).cloned().unwrap_or_default();
        if command == "up" {
            assert_eq!(
                held,
                vec![p["settings"]["webhook_id"].as_str().unwrap().to_string()],
                "after {how} and a re-run, {consumer}'s webhooks"
            );
        }
    }
    if command == "up" {
        ok(root, &["check"]);
    } else {
        assert!(
            webhooks.is_empty(),
            "after {how} and a re-run: {webhooks:?}"
        );
    }
}

#[test]
fn up_and_down_killed_at_any_point_leave_every_file_whole_and_no_duplicate_on_the_product() {
    let api = Api::start();
    let url = api.url();
    let names: Vec<String> = (0..50).map(|i| format!("siem{i}")).collect();
    let instances: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), url.as_str())).collect();
    let dir = project(&instances);
    let root = dir.path();
    let mut tried = 0;
    // Armed kill points (`MESHROOM_FAULT`): where a crash is hardest to
    // survive. `hook-returned`: the product changed, the plug's outputs not
    // yet on disk (without the `pending:` intent, a re-run made a second
    // webhook); `staged`/`renamed`: around one of the group commit's renames.
    for (command, fault) in [
        ("up", "hook-returned:1"),
        ("down", "hook-returned:1"),
        ("up", "intent-saved:1"),
        ("up", "hook-returned:23"),
        ("down", "staged:7"),
        ("up", "staged:1"),
        ("up", "hook-returned:50"),
        ("down", "renamed:50"),
        ("up", "renamed:75"),
        ("down", "hook-returned:30"),
        ("up", "staged:99"),
        ("down", "intent-saved:1"),
    ] {
        // Each command starts from the other end.
        ok(root, &[if command == "up" { "down" } else { "up" }]);
        let out = meshroom_command(root, &[command])
            .env("MESHROOM_FAULT", fault)
            .output()
            .unwrap();
        assert!(
            !out.status.success()
                && String::from_utf8_lossy(&out.stderr).contains(fault.split(':').next().unwrap()),
            "`{command}` with {fault} was not killed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tried += 1;
        killed_then_rerun(
            root,
            &api,
            &names,
            command,
            &format!("`{command}` killed at {fault}"),
        );
    }
    // SIGKILL from outside, at times spread over the run: `up` on even
    // rounds, `down` on odd ones.
    let mut kills = 0;
    for (round, delay) in [5u64, 20, 40, 70, 100, 150, 220, 320]
        .into_iter()
        .enumerate()
    {
        let command = if round % 2 == 0 { "up" } else { "down" };
        let mut child = spawn_piped(meshroom_command(root, &[command]), None);
        std::thread::sleep(std::time::Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
        tried += 1;
        killed_then_rerun(
            root,
            &api,
            &names,
            command,
            &format!("SIGKILL of `{command}` at {delay} ms"),
        );
    }
    assert!(kills >= 3, "only {kills} runs were still going when killed");
    assert!(tried >= 20);
}
