//! What an adapter returns is untrusted too: the hostile adapter's answers
//! (secrets in outputs, huge and deep results, errors and outputs, too many
//! host resources, impossible counts, terminal escapes) are masked, cut or
//! refused, through the runtime and through the real `meshroom` binary,
//! and the host's peak memory stays within the guest's cap + 64 MiB.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Cli, adapter_wasm, shared_cache, walk};
use meshroom::runtime::*;
use serde_json::{Value, json};

/// The runtime as the CLI runs it (default memory cap and limits), with
/// shorter time limits.
fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(shared_cache()),
        cpu_limit: Duration::from_secs(20),
        timeout: Duration::from_secs(30),
        max_instances: 16,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn h1() -> InstanceRef {
    InstanceRef {
        name: "h1".into(),
        product: "hostile".into(),
        settings: json!({}),
    }
}

fn on_h1() -> HookContext {
    HookContext {
        instance: Some(h1()),
        ..Default::default()
    }
}

/// The context of the consumer side of a `h1 -> h2` plug on `topic`.
fn plug_ctx(topic: &str) -> HookContext {
    let h2 = InstanceRef {
        name: "h2".into(),
        ..h1()
    };
    HookContext {
        instance: Some(h2.clone()),
        plug: Some(PlugRef {
            src: h1(),
            dst: h2,
            topic: topic.into(),
            mode: Mode::Push,
            format: None,
            is_trigger: false,
            src_config: json!({}),
            dst_config: json!({}),
            outputs: json!({}),
        }),
        integration: None,
    }
}

const KEY: &str = "k3y-s3cr3t-value";
const MINTED: &str = "m1nted-t0ken-value";

fn with_key() -> CallPolicy {
    CallPolicy::deny_all().with_secrets(|name: &str| (name == "api_key").then(|| KEY.to_string()))
}

async fn execute(a: &Adapter, hook: &str, params: Value) -> Result<Value, HookError> {
    a.execute(hook, &on_h1(), &params, &CallPolicy::deny_all())
        .await
}

async fn still_ok(a: &Adapter) {
    let out = execute(a, "ok", json!({})).await.unwrap();
    assert_eq!(out["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_never_carry_a_secret_into_plain_outputs() {
    let rt = runtime();
    let hostile = rt.load_file(&adapter_wasm("hostile")).await.unwrap();

    // Its own secret in a non-secret output: refused, naming the output and
    // the secret, never the value.
    let err = hostile
        .setup("leaky", &plug_ctx("leaky"), &with_key())
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Failed, "{err}");
    let text = err.to_string();
    assert!(!text.contains(KEY), "{text}");
    assert!(
        text.contains("`api_key`") && text.contains("`token`") && text.contains("secret output"),
        "{text}"
    );

    // A secret output of the same outcome copied into a plain one.
    let err = hostile
        .setup("mint", &plug_ctx("mint"), &with_key())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(!text.contains(MINTED), "{text}");
    assert!(
        text.contains("`minted`") && text.contains("`debug`"),
        "{text}"
    );

    // A long error holding the secret: masked, then cut and marked.
    let err = hostile
        .setup("longerr", &plug_ctx("longerr"), &with_key())
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Failed);
    assert!(!err.message.contains(KEY));
    assert!(
        err.message.contains("the key *** was refused"),
        "{}",
        &err.message[..200]
    );
    assert!(err.message.len() <= 8 * 1024 + 40, "{}", err.message.len());
    assert!(
        err.message.ends_with("bytes cut)"),
        "{}",
        &err.message[8000..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_deep_answers_are_refused_before_parsing() {
    let rt = runtime();
    let hostile = rt.load_file(&adapter_wasm("hostile")).await.unwrap();
    let over = |r: Result<Value, HookError>, what: &str| {
        let err = r.unwrap_err();
        assert_eq!(err.kind, HookErrorKind::OverLimit, "{err}");
        assert!(err.message.contains(what), "{err}");
    };

    // Outputs over 64 KiB (1 MiB, 24 MiB): refused, nothing returned.
    for (hook, what) in [("bigout", "outputs_bytes"), ("hugeout", "outputs_bytes")] {
        let err = hostile
            .setup(hook, &plug_ctx(hook), &CallPolicy::deny_all())
            .await
            .unwrap_err();
        assert_eq!(err.kind, HookErrorKind::OverLimit, "{err}");
        assert!(
            err.message.contains(what) && err.message.contains("nothing was stored"),
            "{err}"
        );
    }

    // A 30 MiB result and a million-value result: over `result_bytes`,
    // never parsed.
    over(
        execute(&hostile, "huge_result", json!({})).await,
        "result_bytes",
    );
    over(
        execute(&hostile, "many_values", json!({})).await,
        "result_bytes",
    );
    // 2,000 levels deep: refused by the pre-scan.
    let err = execute(&hostile, "deep_result", json!({}))
        .await
        .unwrap_err();
    assert!(err.message.contains("64 levels"), "{err}");
    // A 60 MiB error: more than `answer_bytes`, never copied out.
    over(
        execute(&hostile, "huge_error", json!({})).await,
        "answer_bytes",
    );
    // A million wasi:http fields kept alive: stopped at 256 resources.
    over(
        execute(&hostile, "fields", json!({"count": 1_000_000})).await,
        "resources",
    );
    // A header of 100 KB: over the 16 KiB of one fields resource.
    over(
        execute(&hostile, "fields", json!({"count": 10, "size": 100_000})).await,
        "header_bytes",
    );
    // A few small ones are fine.
    let out = execute(&hostile, "fields", json!({"count": 10, "size": 100}))
        .await
        .unwrap();
    assert_eq!(out, json!({"fields": 10, "refused_headers": 0}));
    // 100 log lines of 100 KB: logged within the bounds, the call completes.
    let out = execute(&hostile, "loud", json!({"lines": 100, "size": 100_000}))
        .await
        .unwrap();
    assert_eq!(out["logged"], 100);
    still_ok(&hostile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_checked_against_what_happened() {
    let rt = runtime();
    let hostile = rt.load_file(&adapter_wasm("hostile")).await.unwrap();
    let batch = vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()];
    let err = hostile
        .produce("overclaim", &on_h1(), &batch, &CallPolicy::deny_all())
        .await
        .unwrap_err();
    assert_eq!(err.kind, HookErrorKind::Failed);
    assert!(
        err.message
            .contains("reported 4294967295 records accepted of a batch of 3"),
        "{err}"
    );

    // A watcher's batch over `watch_batch` is cut; the stream goes on.
    let mut w = hostile
        .watch("burst", &on_h1(), &CallPolicy::deny_all())
        .await
        .unwrap();
    let first = w.next().await.unwrap().unwrap();
    assert_eq!(first.len(), Limits::default().watch_batch);
    assert!(first[0].starts_with("record 0 "));
    assert_eq!(w.next().await.unwrap(), None);

    // A product's own limits (`CallPolicy::limits`) replace the defaults.
    let mut tight = Limits::default();
    tight.set("watch_batch", "5").unwrap();
    let policy = CallPolicy {
        limits: Some(tight),
        ..CallPolicy::deny_all()
    };
    let mut w = hostile.watch("burst", &on_h1(), &policy).await.unwrap();
    assert_eq!(w.next().await.unwrap().unwrap().len(), 5);
}

// ---------------------------------------------------------------------
// Through the `meshroom` binary.

/// A project with the hostile product and two instances, `h1` and `h2`,
/// whose `api_key` secret is [`KEY`].
fn hostile_project() -> Cli {
    let cli = Cli::init();
    let product = cli.project().join("products/hostile");
    std::fs::create_dir_all(&product).unwrap();
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../adapters/hostile/definition.yaml"),
        product.join("definition.yaml"),
    )
    .unwrap();
    std::fs::copy(adapter_wasm("hostile"), product.join("hostile.wasm")).unwrap();
    for name in ["h1", "h2"] {
        cli.ok_with(
            &["add", "hostile", name, "-s", "api_key"],
            Some(&format!("{KEY}\n")),
        );
    }
    cli
}

/// Every file of the project that holds `needle` in plain text (but the
/// hostile adapter's own code, which holds its literals).
fn files_holding(root: &Path, needle: &str) -> Vec<PathBuf> {
    walk(root)
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "wasm"))
        .filter(|p| {
            std::fs::read(p)
                .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn up_keeps_secrets_out_of_the_project_logs_and_json() {
    let cli = hostile_project();
    for topic in ["leaky", "mint", "longerr", "bigout"] {
        cli.ok(&["plug", topic, "h1", "h2"]);
    }
    let ran = cli.fails(&["-d", "--json", "up"]);
    let report: Value = serde_json::from_str(&ran.stdout).unwrap();
    let text = ran.text();
    for secret in [KEY, MINTED] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        let leaks = files_holding(&cli.project(), secret);
        assert!(leaks.is_empty(), "{secret} in plain text in {leaks:?}");
    }
    let plugs = report["plugs"].as_array().unwrap();
    assert_eq!(plugs.len(), 4, "{report}");
    assert!(plugs.iter().all(|p| p["verdict"] == "failed"), "{report}");
    let message = |topic: &str| {
        plugs
            .iter()
            .find(|p| p["plug"].as_str().unwrap().contains(topic))
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(message("leaky").contains("`token`"), "{}", message("leaky"));
    assert!(message("mint").contains("`minted`"), "{}", message("mint"));
    // The long error is stored cut, as printed.
    let plug_file = cli
        .project()
        .join("instances/hostile/h1/plugs/h2/longerr.yaml");
    let stored = std::fs::read_to_string(&plug_file).unwrap();
    assert!(
        stored.contains("last_error:") && stored.contains("bytes cut)"),
        "{stored}"
    );
    assert!(
        stored.len() < 12 * 1024,
        "plug file of {} bytes",
        stored.len()
    );
    assert!(message("longerr").len() < 9 * 1024);
    // Oversized outputs: not stored, the plug file stays small.
    let stored = std::fs::read_to_string(
        cli.project()
            .join("instances/hostile/h1/plugs/h2/bigout.yaml"),
    )
    .unwrap();
    assert!(stored.len() < 4096 && !stored.contains("xxxx"), "{stored}");
}

#[test]
fn a_deep_pulled_definition_is_refused_before_parsing() {
    let cli = hostile_project();
    let ran = cli.run(&["--json", "pull", "hostile"], None);
    let text = ran.text();
    assert!(text.contains("deep"), "{text}");
    assert!(text.contains("64 levels"), "{text}");
    assert!(!cli.project().join("products/deep").exists());
}

/// Runs `child` and writes its peak RSS (`ru_maxrss` from `wait4`, KiB)
/// to the file `argv[1]`. A small Python parent, because Linux keeps in
/// `ru_maxrss` the peak of the memory a child was forked (or vforked) from,
/// and the test process itself holds far more than meshroom does.
const MAXRSS: &str = r#"
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// Runs `meshroom ARGS` on `cli`'s project and returns its exit code, its
/// output and its peak resident memory, in MiB.
fn peak_rss(cli: &Cli, args: &[&str]) -> (Option<i32>, String, f64) {
    let rss_file = cli.project().join("../maxrss");
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(MAXRSS)
        .arg(&rss_file)
        .arg(env!("CARGO_BIN_EXE_meshroom"))
        .arg("-p")
        .arg(cli.project())
        .args(args)
        .env("MESHROOM_CACHE", shared_cache())
        .env("HOME", cli.project().join("../home"))
        .env("XDG_CONFIG_HOME", cli.project().join("../home/.config"))
        .env_remove("MESHROOM_AGE_IDENTITY")
        .env_remove("MESHROOM_AGE_IDENTITY_FILE")
        .env_remove("MESHROOM_SECRETS_PASSPHRASE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    let kib: f64 = std::fs::read_to_string(&rss_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (out.status.code(), support::output_text(&out), kib / 1024.0)
}

#[test]
fn host_memory_stays_within_the_guest_cap_plus_64_mib_under_each_attack() {
    let cli = hostile_project();
    for topic in ["hugeout", "longerr"] {
        cli.ok(&["plug", topic, "h1", "h2"]);
    }
    let cap_mib = (RuntimeConfig::default().memory_cap >> 20) as f64;
    let (code, text, baseline) = peak_rss(&cli, &["execute", "ok", "h1"]);
    assert_eq!(code, Some(0), "{text}");
    let attacks: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "30 MiB result",
            vec!["execute", "huge_result", "h1"],
            "result_bytes",
        ),
        (
            "a million values",
            vec!["execute", "many_values", "h1"],
            "result_bytes",
        ),
        (
            "60 MiB error",
            vec!["execute", "huge_error", "h1"],
            "answer_bytes",
        ),
        (
            "1M fields resources",
            vec!["execute", "fields", "h1", "-p", "count=1000000"],
            "resources",
        ),
        ("24 MiB outputs, 1 MiB error", vec!["up"], "outputs_bytes"),
        (
            "10,000 log lines of 100 KB",
            vec!["execute", "loud", "h1", "-p", "lines=10000"],
            "",
        ),
    ];
    let mut figures = vec![format!("baseline (execute ok): {baseline:.1} MiB")];
    for (what, args, expect) in attacks {
        let (code, text, peak) = peak_rss(&cli, &args);
        figures.push(format!("{what}: {peak:.1} MiB"));
        if !expect.is_empty() {
            assert_ne!(code, Some(0), "{what} must fail:\n{text}");
            assert!(text.contains(expect), "{what}:\n{text}");
        }
        assert!(
            peak <= cap_mib + 64.0,
            "{what}: peak RSS {peak:.1} MiB > {cap_mib} + 64 MiB ({figures:?})"
        );
    }
    // Shown with `--nocapture`: the figures the README quotes.
    eprintln!("peak RSS of the meshroom process: {}", figures.join("; "));
}

// ---------------------------------------------------------------------
// Terminal injection: every output path, on a real terminal (a pty made
// by `script`, from util-linux) and through a pipe.

/// Raw sequences the hostile adapter sends (`ESCAPES` in its source):
/// clear screen (CSI), cursor up, OSC 52 clipboard write, BEL, backspace,
/// and `\r` overprinting. None may reach a terminal.
const RAW: &[&str] = &[
    "\x1b[2J",
    "\x1b[1A",
    "\x1b]52;",
    "\x07",
    "\x08",
    "\rplug is UP",
];
/// How they must be shown instead.
const SHOWN: &[&str] = &[
    "\\u{1b}[2J",
    "\\u{1b}[1A",
    "\\u{1b}]52;c;cHduZWQ=\\u{7}",
    "evil\\u{8}\\u{8}\\u{8}\\u{8}\\u{d}plug is UP",
];

/// Runs `meshroom ARGS` on `cli`'s project with stdout and stderr on a
/// pseudo-terminal; returns what the terminal received.
fn on_terminal(cli: &Cli, args: &[&str]) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = vec![
        quote(env!("CARGO_BIN_EXE_meshroom")),
        "-p".into(),
        quote(cli.project().to_str().unwrap()),
    ];
    line.extend(args.iter().map(|a| quote(a)));
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &line.join(" "), "/dev/null"])
        .env("MESHROOM_CACHE", shared_cache())
        .env("HOME", cli.project().join("../home"))
        .env("XDG_CONFIG_HOME", cli.project().join("../home/.config"))
        .env_remove("MESHROOM_AGE_IDENTITY")
        .env_remove("MESHROOM_AGE_IDENTITY_FILE")
        .env_remove("MESHROOM_SECRETS_PASSPHRASE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_escaped(what: &str, text: &str, shown: &[&str]) {
    for raw in RAW {
        assert!(
            !text.contains(raw),
            "{what}: raw {raw:?} reached the terminal:\n{text:?}"
        );
    }
    for s in shown {
        assert!(text.contains(s), "{what}: {s} not shown:\n{text}");
    }
}

#[test]
fn adapter_text_is_escaped_on_terminals_and_exact_in_json_and_pipes() {
    let cli = hostile_project();
    cli.ok(&["plug", "ansi", "h1", "h2"]);

    // plan: the hook title.
    assert_escaped("plan title", &on_terminal(&cli, &["plan"]), SHOWN);
    // up: the error in the report (stdout) and the log line (stderr).
    let up = on_terminal(&cli, &["up"]);
    assert_escaped("up error", &up, SHOWN);
    assert!(up.contains("log \\u{1b}[2J"), "the log line:\n{up}");
    assert!(up.contains("error \\u{1b}[2J"), "the error:\n{up}");
    // The same run piped is raw on stdout (the exact text), but the log
    // line on stderr is escaped wherever it goes.
    let piped = cli.run(&["up"], None);
    assert!(piped.stdout.contains("error \x1b[2J"), "{}", piped.stdout);
    assert!(piped.stderr.contains("log \\u{1b}[2J"), "{}", piped.stderr);
    // --json is exact: JSON escapes, never raw bytes.
    let json = cli.run(&["--json", "up"], None);
    assert!(!json.stdout.contains('\x1b') && json.stdout.contains("\\u001b[2J"));
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        report["plugs"][0]["message"]
            .as_str()
            .unwrap()
            .contains("error \x1b[2J\x1b[1A"),
        "{report}"
    );

    // check: the detail of a plug the project says is up.
    let plug = cli
        .project()
        .join("instances/hostile/h1/plugs/h2/ansi.yaml");
    let text = std::fs::read_to_string(&plug).unwrap();
    let mut up_now: String = text
        .lines()
        .filter(|l| !l.starts_with("last_error") && !l.starts_with("status:"))
        .map(|l| format!("{l}\n"))
        .collect();
    up_now.push_str("status: up\n");
    std::fs::write(&plug, up_now).unwrap();
    assert_escaped("check detail", &on_terminal(&cli, &["check"]), SHOWN);

    // execute: the error (stderr) and the log line.
    let ex = on_terminal(&cli, &["execute", "ansi", "h1"]);
    assert_escaped("execute error", &ex, SHOWN);
    assert!(
        ex.contains("log \\u{1b}") && ex.contains("error \\u{1b}"),
        "{ex}"
    );

    // produce: the detail, in the error an impossible count makes.
    let pr = on_terminal(
        &cli,
        &["produce", "overclaim", "h1", "--file", "/etc/hostname"],
    );
    assert_escaped("produce detail", &pr, SHOWN);
    assert!(pr.contains("records accepted of a batch of 1"), "{pr}");

    // watch: records escaped on a terminal...
    let w = on_terminal(&cli, &["watch", "burst", "h1", "--count", "3"]);
    assert_escaped("watch records", &w, SHOWN);
    assert!(w.contains("record 2 \\u{1b}"), "{w}");
    // ...raw bytes through a pipe (the user's data)...
    let piped = cli.run(&["watch", "burst", "h1", "--count", "3"], None);
    assert_eq!(piped.stdout.lines().count(), 3, "{}", piped.stdout);
    assert!(
        piped
            .stdout
            .starts_with("record 0 \x1b[2J\x1b[1A\x1b]52;c;cHduZWQ=\x07evil\x08")
    );
    // ...and exact in JSON.
    let json = cli.run(&["--json", "watch", "burst", "h1", "--count", "1"], None);
    let record: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert!(
        record.as_str().unwrap().contains("\rplug is UP"),
        "{record}"
    );
}
