//! Black-box tests of `meshroom secrets` and the secrets store, through the
//! real binary, with the real `age`/`age-keygen` tools for interoperability.
//! Every run has its own HOME and XDG_CONFIG_HOME, stdin from a pipe or
//! /dev/null, and a deadline so a prompt that waits for a terminal fails the
//! test instead of hanging it.

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "S3cr3t-V4lue-9f1c2e";

/// One user: a home and config folder of their own, plus extra env vars.
struct User {
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl User {
    fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    fn with(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    fn config_dir(&self) -> PathBuf {
        self.home.path().join(".config")
    }

    fn default_identity(&self) -> PathBuf {
        self.config_dir().join("meshroom/identity.txt")
    }

    /// Runs `meshroom -p PROJECT ARGS…` with `stdin` (None: /dev/null).
    fn run(&self, project: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshroom"));
        cmd.arg("-p").arg(project).args(args);
        for var in [
            "MESHROOM_AGE_IDENTITY_FILE",
            "MESHROOM_AGE_IDENTITY",
            "MESHROOM_SECRETS_PASSPHRASE",
            "MESHROOM_PROJECT",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("USER", "tester");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        run_with_deadline(cmd, stdin)
    }

    fn ok(&self, project: &Path, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(project, args, stdin);
        assert!(
            out.status.success(),
            "meshroom {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, project: &Path, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(project, args, stdin);
        assert!(!out.status.success(), "meshroom {args:?} should fail");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("error: "), "{stderr}");
        stderr
    }
}

/// Runs `cmd`, feeding `stdin`, failing the test if it is not done in 60 s
/// (a process waiting for a terminal would never finish).
fn run_with_deadline(cmd: Command, stdin: Option<&str>) -> Output {
    let hung = format!("{cmd:?} hung (waiting for a terminal?)");
    let child = support::spawn_piped(cmd, stdin.map(str::as_bytes));
    support::wait_within(child, Duration::from_secs(60), &hung)
}

/// A fresh project folder (what `meshroom init` creates, for what matters here).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("products")).unwrap();
    std::fs::create_dir(dir.path().join("instances")).unwrap();
    dir
}

/// A key pair made by the real `age-keygen`: (identity file, public key).
fn age_keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = Command::new("age-keygen")
        .arg("-y")
        .arg(&path)
        .output()
        .unwrap();
    (
        path,
        String::from_utf8(public.stdout).unwrap().trim().to_owned(),
    )
}

fn assert_no_plaintext_under(dir: &Path, needle: &str) {
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        let hit = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!hit, "secret found in plaintext in {}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn init_creates_a_private_identity_outside_the_project_and_adds_it_as_recipient() {
    let p = project();
    let alice = User::new();
    let public = alice.ok(p.path(), &["secrets", "init"], None);
    let public = public.trim();
    assert!(public.starts_with("age1"), "{public}");
    let id = alice.default_identity();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&id).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The real age-keygen agrees on the public key of the file we wrote.
    let derived = Command::new("age-keygen")
        .arg("-y")
        .arg(&id)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&derived.stdout).trim(), public);
    let recipients = std::fs::read_to_string(p.path().join("secrets.recipients")).unwrap();
    assert!(recipients.contains(public));
    assert!(recipients.contains("# tester"));

    // Idempotent: same key, listed once.
    let json = alice.ok(p.path(), &["--json", "secrets", "init"], None);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["public_key"], public);
    assert_eq!(doc["created"], false);
    assert_eq!(doc["recipient_added"], false);
    let listed = alice.ok(p.path(), &["secrets", "recipients", "list"], None);
    assert_eq!(listed.trim(), public);
    assert_no_plaintext_under(p.path(), "AGE-SECRET-KEY-1");

    // An identity file inside the project would end up committed: refused.
    let inside = p.path().join("keys/id.txt");
    let careless = User::new().with("MESHROOM_AGE_IDENTITY_FILE", inside.to_str().unwrap());
    let err = careless.fails(p.path(), &["secrets", "init"], None);
    assert!(err.contains("inside the project"), "{err}");
    assert!(!p.path().join("keys").exists());
}

#[test]
fn set_get_list_rm_round_trip() {
    let p = project();
    let alice = User::new();
    alice.ok(p.path(), &["secrets", "init"], None);
    alice.ok(
        p.path(),
        &["secrets", "set", "instance:sekoia/siem1", "api_key"],
        Some(&format!("{SECRET}\n")),
    );
    alice.ok(
        p.path(),
        &["secrets", "set", "plug:edr1/siem1/events", "intake_key"],
        Some("ik-42\n"),
    );
    let armored = std::fs::read_to_string(p.path().join("secrets.age")).unwrap();
    assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));

    let err = alice.fails(
        p.path(),
        &["secrets", "get", "sekoia/siem1", "api_key"],
        None,
    );
    assert!(err.contains("--reveal"), "{err}");
    assert!(!err.contains(SECRET));
    let got = alice.ok(
        p.path(),
        &["secrets", "get", "sekoia/siem1", "api_key", "--reveal"],
        None,
    );
    assert_eq!(got, format!("{SECRET}\n"));

    let table = alice.ok(p.path(), &["secrets", "list"], None);
    let row = |scope: &str, name: &str| {
        table
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == [scope, name])
    };
    assert!(row("instance:sekoia/siem1", "api_key"), "{table}");
    assert!(row("plug:edr1/siem1/events/push", "intake_key"), "{table}");
    assert!(table.contains("plug:edr1/siem1/events/push"), "{table}");
    let json = alice.ok(
        p.path(),
        &["secrets", "list", "instance:sekoia/siem1", "--json"],
        None,
    );
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([{"scope": "instance:sekoia/siem1", "kind": "instance", "name": "api_key"}])
    );

    alice.ok(
        p.path(),
        &["secrets", "rm", "sekoia/siem1", "api_key"],
        None,
    );
    let err = alice.fails(
        p.path(),
        &["secrets", "rm", "sekoia/siem1", "api_key"],
        None,
    );
    assert!(err.contains("no secret `api_key`"), "{err}");
    let json = alice.ok(p.path(), &["--json", "secrets", "list"], None);
    assert!(
        !json.contains("api_key") && json.contains("intake_key"),
        "{json}"
    );
    assert_no_plaintext_under(p.path(), SECRET);
    assert_no_plaintext_under(p.path(), "ik-42");
}

#[test]
fn second_identity_decrypts_after_recipients_add_and_not_after_remove() {
    let p = project();
    let keys = tempfile::tempdir().unwrap();
    let alice = User::new();
    alice.ok(p.path(), &["secrets", "init"], None);
    alice.ok(
        p.path(),
        &["secrets", "set", "a/b", "token"],
        Some(&format!("{SECRET}\n")),
    );

    let (bob_file, bob_public) = age_keygen(keys.path(), "bob.txt");
    let bob = User::new().with("MESHROOM_AGE_IDENTITY_FILE", bob_file.to_str().unwrap());
    let get = ["secrets", "get", "a/b", "token", "--reveal"];
    let err = bob.fails(p.path(), &get, None);
    assert!(
        err.contains(&format!("meshroom secrets recipients add {bob_public}")),
        "{err}"
    );

    alice.ok(
        p.path(),
        &[
            "secrets",
            "recipients",
            "add",
            &bob_public,
            "--label",
            "bob",
        ],
        None,
    );
    assert_eq!(bob.ok(p.path(), &get, None).trim(), SECRET);
    // Bob can now write too, and Alice still reads.
    bob.ok(
        p.path(),
        &["secrets", "set", "a/b", "password"],
        Some("from-bob\n"),
    );
    assert_eq!(
        alice
            .ok(
                p.path(),
                &["secrets", "get", "a/b", "password", "--reveal"],
                None
            )
            .trim(),
        "from-bob"
    );

    let before = std::fs::read(p.path().join("secrets.age")).unwrap();
    alice.ok(
        p.path(),
        &["secrets", "recipients", "remove", &bob_public],
        None,
    );
    assert_ne!(
        before,
        std::fs::read(p.path().join("secrets.age")).unwrap(),
        "re-encrypted"
    );
    bob.fails(p.path(), &get, None);
    assert_eq!(alice.ok(p.path(), &get, None).trim(), SECRET);
    let listed = alice.ok(p.path(), &["--json", "secrets", "recipients", "list"], None);
    assert!(!listed.contains(&bob_public), "{listed}");
}

#[test]
fn the_age_cli_decrypts_our_store() {
    let p = project();
    let alice = User::new();
    alice.ok(p.path(), &["secrets", "init"], None);
    alice.ok(
        p.path(),
        &["secrets", "set", "sekoia/siem1", "api_key"],
        Some(&format!("{SECRET}\n")),
    );
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(alice.default_identity())
        .arg(p.path().join("secrets.age"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["scopes"]["instance:sekoia/siem1"]["api_key"], SECRET);
}

#[test]
fn we_read_stores_written_by_the_age_cli_armored_or_binary() {
    let p = project();
    let keys = tempfile::tempdir().unwrap();
    let (id_file, public) = age_keygen(keys.path(), "carol.txt");
    let carol = User::new().with("MESHROOM_AGE_IDENTITY_FILE", id_file.to_str().unwrap());
    carol.ok(p.path(), &["secrets", "recipients", "add", &public], None);
    let doc = keys.path().join("doc.json");
    let json = format!(
        r#"{{"version": 1, "scopes": {{"plug:a/b/alerts/pull": {{"token": "{SECRET}"}}}}}}"#
    );
    std::fs::write(&doc, json).unwrap();
    for armor in [true, false] {
        let mut age = Command::new("age");
        age.arg("-e");
        if armor {
            age.arg("-a");
        }
        let status = age
            .arg("-R")
            .arg(p.path().join("secrets.recipients"))
            .arg("-o")
            .arg(p.path().join("secrets.age"))
            .arg(&doc)
            .status()
            .unwrap();
        assert!(status.success());
        let got = carol.ok(
            p.path(),
            &[
                "secrets",
                "get",
                "plug:a/b/alerts/pull",
                "token",
                "--reveal",
            ],
            None,
        );
        assert_eq!(got.trim(), SECRET, "armor: {armor}");
    }
    // Written back by meshroom: armored, and still readable by age.
    carol.ok(
        p.path(),
        &["secrets", "set", "x/y", "password"],
        Some("pw\n"),
    );
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&id_file)
        .arg(p.path().join("secrets.age"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(SECRET) && text.contains("\"pw\""), "{text}");
}

#[test]
fn identity_from_the_key_in_an_env_var() {
    let p = project();
    let keys = tempfile::tempdir().unwrap();
    let (id_file, public) = age_keygen(keys.path(), "ci.txt");
    let key = std::fs::read_to_string(&id_file).unwrap();
    let key_line = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    let ci = User::new().with("MESHROOM_AGE_IDENTITY", key_line);
    // `init` with the key in the environment: adds its public key, writes no file.
    let json = ci.ok(p.path(), &["--json", "secrets", "init"], None);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["public_key"], public.as_str());
    assert_eq!(doc["identity_file"], serde_json::Value::Null);
    assert_eq!(doc["recipient_added"], true);
    assert!(!ci.default_identity().exists());
    ci.ok(
        p.path(),
        &["secrets", "set", "a/b", "token"],
        Some(&format!("{SECRET}\n")),
    );
    let got = ci.ok(
        p.path(),
        &["secrets", "get", "a/b", "token", "--reveal"],
        None,
    );
    assert_eq!(got.trim(), SECRET);
    // A bad key in the variable is named, and not echoed.
    let bad = User::new().with("MESHROOM_AGE_IDENTITY", "AGE-SECRET-KEY-1NOTAKEYATALL");
    let err = bad.fails(
        p.path(),
        &["secrets", "get", "a/b", "token", "--reveal"],
        None,
    );
    assert!(err.contains("MESHROOM_AGE_IDENTITY"), "{err}");
    assert!(!err.contains("NOTAKEYATALL"), "{err}");
}

#[test]
fn identity_from_a_passphrase_in_an_env_var() {
    let p = project();
    let ci = User::new().with(
        "MESHROOM_SECRETS_PASSPHRASE",
        "correct horse battery staple",
    );
    ci.ok(
        p.path(),
        &["secrets", "set", "a/b", "token"],
        Some(&format!("{SECRET}\n")),
    );
    let got = ci.ok(
        p.path(),
        &["secrets", "get", "a/b", "token", "--reveal"],
        None,
    );
    assert_eq!(got.trim(), SECRET);
    let before = std::fs::read(p.path().join("secrets.age")).unwrap();
    let wrong = User::new().with("MESHROOM_SECRETS_PASSPHRASE", "wrong");
    let err = wrong.fails(p.path(), &["secrets", "list"], None);
    assert!(err.contains("wrong passphrase"), "{err}");
    let none = User::new();
    let err = none.fails(p.path(), &["secrets", "list"], None);
    assert!(err.contains("MESHROOM_SECRETS_PASSPHRASE"), "{err}");
    assert_eq!(before, std::fs::read(p.path().join("secrets.age")).unwrap());
    assert_no_plaintext_under(p.path(), SECRET);
}

#[test]
fn a_missing_identity_fails_at_once_naming_what_is_needed() {
    let p = project();
    let alice = User::new();
    alice.ok(p.path(), &["secrets", "init"], None);
    alice.ok(
        p.path(),
        &["secrets", "set", "a/b", "token"],
        Some(&format!("{SECRET}\n")),
    );
    let nobody = User::new();
    // stdin is /dev/null and there is no terminal: must fail, not wait.
    for args in [
        &["secrets", "list"][..],
        &["secrets", "get", "a/b", "token", "--reveal"],
        &["secrets", "set", "a/b", "other"],
        &[
            "secrets",
            "recipients",
            "add",
            "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
        ],
    ] {
        let started = Instant::now();
        let err = nobody.fails(p.path(), args, None);
        for needed in [
            "MESHROOM_AGE_IDENTITY_FILE",
            "MESHROOM_AGE_IDENTITY",
            "MESHROOM_SECRETS_PASSPHRASE",
            "meshroom secrets init",
        ] {
            assert!(err.contains(needed), "{args:?}: {err}");
        }
        assert!(started.elapsed() < Duration::from_secs(30));
    }
    // An empty project with no recipient: `set` refuses before reading stdin.
    let empty = project();
    let err = nobody.fails(empty.path(), &["secrets", "set", "a/b", "token"], None);
    assert!(
        err.contains("no recipient") && err.contains("meshroom secrets init"),
        "{err}"
    );
    assert!(!empty.path().join("secrets.age").exists());
    // A set identity variable pointing nowhere is an error, not ignored.
    let typo = User::new().with("MESHROOM_AGE_IDENTITY_FILE", "/nonexistent/id.txt");
    let err = typo.fails(p.path(), &["secrets", "list"], None);
    assert!(err.contains("/nonexistent/id.txt"), "{err}");
}

#[test]
fn wrong_identity_and_damaged_files_are_refused_and_left_byte_identical() {
    let p = project();
    let keys = tempfile::tempdir().unwrap();
    let alice = User::new();
    alice.ok(p.path(), &["secrets", "init"], None);
    alice.ok(
        p.path(),
        &["secrets", "set", "a/b", "token"],
        Some(&format!("{SECRET}\n")),
    );
    let store = p.path().join("secrets.age");
    let good = std::fs::read(&store).unwrap();

    let (mallory_file, _) = age_keygen(keys.path(), "mallory.txt");
    let mallory = User::new().with("MESHROOM_AGE_IDENTITY_FILE", mallory_file.to_str().unwrap());
    let err = mallory.fails(
        p.path(),
        &["secrets", "set", "a/b", "token"],
        Some("evil\n"),
    );
    assert!(err.contains("can decrypt"), "{err}");
    assert_eq!(std::fs::read(&store).unwrap(), good);

    let text = String::from_utf8(good.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        (
            "truncated",
            format!("{}\n", lines[..lines.len() - 1].join("\n")).into_bytes(),
        ),
        ("cut in half", good[..good.len() / 2].to_vec()),
        ("one byte changed", {
            let mut b = good.clone();
            let i = b.len() / 2;
            b[i] = if b[i] == b'x' { b'y' } else { b'x' };
            b
        }),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in damaged {
        std::fs::write(&store, &bytes).unwrap();
        let err = alice.fails(p.path(), &["secrets", "set", "a/b", "token"], Some("new\n"));
        assert!(err.contains("corrupted or truncated"), "{what}: {err}");
        assert!(err.contains("git checkout"), "{what}: {err}");
        alice.fails(p.path(), &["secrets", "list"], None);
        assert_eq!(
            std::fs::read(&store).unwrap(),
            bytes,
            "{what}: left untouched"
        );
    }
}

#[test]
fn debug_logs_errors_and_json_never_contain_a_secret() {
    let p = project();
    let alice = User::new().with("RUST_LOG", "trace");
    let mut seen = String::new();
    let mut record = |out: Output| {
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    };
    record(alice.run(p.path(), &["-d", "--json", "secrets", "init"], None));
    record(alice.run(
        p.path(),
        &["-d", "secrets", "set", "sekoia/siem1", "api_key"],
        Some(&format!("{SECRET}\n")),
    ));
    record(alice.run(p.path(), &["-d", "--json", "secrets", "list"], None));
    record(alice.run(
        p.path(),
        &["-d", "secrets", "get", "sekoia/siem1", "api_key"],
        None,
    ));
    record(alice.run(
        p.path(),
        &["-d", "--json", "secrets", "recipients", "list"],
        None,
    ));
    let keys = tempfile::tempdir().unwrap();
    let (_, other) = age_keygen(keys.path(), "o.txt");
    record(alice.run(
        p.path(),
        &["-d", "secrets", "recipients", "add", &other],
        None,
    ));
    // An invalid value (empty) and a failing decrypt, with debug on.
    record(alice.run(
        p.path(),
        &["-d", "secrets", "set", "sekoia/siem1", "token"],
        Some("\n"),
    ));
    let intruder = User::new().with("RUST_LOG", "trace");
    record(intruder.run(p.path(), &["-d", "--json", "secrets", "list"], None));
    assert!(
        seen.contains("secrets store"),
        "trace logs were produced:\n{seen}"
    );
    assert!(!seen.contains(SECRET), "secret leaked:\n{seen}");
    let identity = std::fs::read_to_string(alice.default_identity()).unwrap();
    let key = identity
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    assert!(!seen.contains(key), "identity leaked:\n{seen}");
    assert_no_plaintext_under(p.path(), SECRET);
}

/// Runs `meshroom -p PROJECT ARGS…` on a pseudo-terminal (util-linux
/// `script`), answering each prompt once it appears; returns the exit
/// status and the terminal transcript.
fn run_on_pty(
    user: &User,
    project: &Path,
    args: &[&str],
    answers: &[(&str, &str)],
) -> (bool, String) {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = format!(
        "{} -p {}",
        quote(env!("CARGO_BIN_EXE_meshroom")),
        quote(project.to_str().unwrap())
    );
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"]);
    for var in [
        "MESHROOM_AGE_IDENTITY_FILE",
        "MESHROOM_AGE_IDENTITY",
        "MESHROOM_SECRETS_PASSPHRASE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", user.home.path())
        .env("XDG_CONFIG_HOME", user.config_dir());
    for (k, v) in &user.env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let transcript = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = transcript.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    for (prompt, answer) in answers {
        loop {
            let text = String::from_utf8_lossy(&transcript.lock().unwrap()).into_owned();
            if let Some(at) = text[seen..].find(prompt) {
                seen += at + prompt.len();
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no prompt {prompt:?}; got:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        wait_for_echo_off(child.id(), deadline);
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
    }
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("meshroom {args:?} on a terminal did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let text = String::from_utf8_lossy(&transcript.lock().unwrap()).into_owned();
    (status.success(), text)
}

/// Waits until a descendant of `pid` has its terminal's echo turned off
/// (the prompt is printed just before), so the answer is typed into a
/// hidden prompt and not echoed by a terminal that is still echoing.
fn wait_for_echo_off(pid: u32, deadline: Instant) {
    loop {
        for tty in descendants(pid).iter().filter_map(|p| {
            std::fs::read_link(format!("/proc/{p}/fd/0"))
                .ok()
                .filter(|l| l.starts_with("/dev/pts"))
        }) {
            let out = Command::new("stty")
                .arg("-F")
                .arg(&tty)
                .arg("-a")
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .any(|w| w == "-echo")
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the terminal echo was never turned off"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Process ids below `pid`, from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents = vec![pid];
    let mut found = Vec::new();
    let procs: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((p, ppid))
        })
        .collect();
    while let Some(parent) = parents.pop() {
        for (p, _) in procs.iter().filter(|(_, pp)| *pp == parent) {
            found.push(*p);
            parents.push(*p);
        }
    }
    found
}

#[test]
fn on_a_terminal_values_and_passphrases_are_prompted_without_echo() {
    let p = project();
    let alice = User::new();
    alice.ok(p.path(), &["secrets", "init"], None);
    let (ok, transcript) = run_on_pty(
        &alice,
        p.path(),
        &["secrets", "set", "sekoia/siem1", "api_key"],
        &[("api_key (secret, hidden): ", SECRET)],
    );
    assert!(ok, "{transcript}");
    assert!(
        !transcript.contains(SECRET),
        "the value was echoed:\n{transcript}"
    );
    let got = alice.ok(
        p.path(),
        &["secrets", "get", "sekoia/siem1", "api_key", "--reveal"],
        None,
    );
    assert_eq!(got.trim(), SECRET);

    // A passphrase-protected store: the passphrase is prompted for on a terminal…
    let q = project();
    let ci = User::new().with("MESHROOM_SECRETS_PASSPHRASE", "tty pass");
    ci.ok(
        q.path(),
        &["secrets", "set", "a/b", "token"],
        Some(&format!("{SECRET}\n")),
    );
    let human = User::new();
    let (ok, transcript) = run_on_pty(
        &human,
        q.path(),
        &["secrets", "get", "a/b", "token", "--reveal"],
        &[("Passphrase for ", "tty pass")],
    );
    assert!(ok, "{transcript}");
    assert!(transcript.contains(SECRET), "{transcript}");
    assert!(
        !transcript.contains("tty pass"),
        "the passphrase was echoed:\n{transcript}"
    );
    // …and never without one.
    let err = human.fails(
        q.path(),
        &["secrets", "get", "a/b", "token", "--reveal"],
        None,
    );
    assert!(err.contains("MESHROOM_SECRETS_PASSPHRASE"), "{err}");
}

// ----- the store wired into add / configure / remove / unplug ---------------

/// A project made by `meshroom init`, with a `siem` product whose `api_key`
/// is `secret: true` and whose `bouncer_token` only looks secret.
fn siem_project(user: &User) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    user.ok(dir.path(), &["init"], None);
    let product = dir.path().join("products/siem");
    std::fs::create_dir_all(&product).unwrap();
    std::fs::write(
        product.join("definition.yaml"),
        "name: siem\ndescription: a SIEM\nsettings:\n  - name: url\n    type: string\n    required: true\n  \
         - name: api_key\n    secret: true\n    required: true\n  - name: bouncer_token\n\
         consumes:\n  events:\n    - format: ecs\n",
    )
    .unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn scripted_add_and_configure_keep_secrets_encrypted_and_nowhere_else() {
    let alice = User::new().with("RUST_LOG", "trace").with("NO_COLOR", "1");
    let p = siem_project(&alice);
    alice.ok(p.path(), &["secrets", "init"], None);
    let mut seen = String::new();
    let mut record = |out: Output| -> Output {
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
        out
    };
    // No terminal: one line per -s, in order.
    let out = record(alice.run(
        p.path(),
        &[
            "-d",
            "add",
            "siem",
            "soc1",
            "-c",
            "url=https://127.0.0.1:9",
            "-s",
            "api_key",
            "-s",
            "bouncer_token",
        ],
        Some(&format!("{SECRET}\nTok-7c1d9e\n")),
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = std::fs::read_to_string(p.path().join("instances/siem/soc1/config.yaml")).unwrap();
    assert!(config.contains("url: https://127.0.0.1:9"), "{config}");
    assert!(
        !config.contains("api_key") && !config.contains("bouncer_token"),
        "{config}"
    );
    let get = |name: &str| {
        alice.ok(
            p.path(),
            &["secrets", "get", "instance:siem/soc1", name, "--reveal"],
            None,
        )
    };
    assert_eq!(get("api_key").trim(), SECRET);
    assert_eq!(get("bouncer_token").trim(), "Tok-7c1d9e");

    // configure replaces one secret and keeps the other.
    let out = record(alice.run(
        p.path(),
        &["-d", "configure", "soc1", "-s", "api_key"],
        Some("Rotated-1b2c3d\n"),
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(get("api_key").trim(), "Rotated-1b2c3d");
    assert_eq!(get("bouncer_token").trim(), "Tok-7c1d9e");

    // Listings, with and without --json, and a plain add that only warns.
    for args in [
        &["-d", "--json", "list", "instances"][..],
        &["-d", "list", "instances", "-w"],
        &["-d", "--json", "secrets", "list"],
        &["-d", "--json", "list", "products"],
        &[
            "-d",
            "add",
            "siem",
            "soc2",
            "-c",
            "url=https://127.0.0.1:10",
        ],
    ] {
        let out = record(alice.run(p.path(), args, None));
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        seen.contains("meshroom secrets set instance:siem/soc2 api_key"),
        "{seen}"
    );
    for value in [SECRET, "Tok-7c1d9e", "Rotated-1b2c3d"] {
        assert!(
            !seen.contains(value),
            "{value} leaked in logs or output:\n{seen}"
        );
        assert_no_plaintext_under(p.path(), value); // includes .git
    }

    // remove forgets the instance's secrets.
    alice.ok(p.path(), &["remove", "soc1"], None);
    let json = alice.ok(p.path(), &["--json", "secrets", "list"], None);
    assert_eq!(json.trim(), "[]");
}

#[test]
fn add_with_a_secret_but_no_identity_fails_at_once_and_writes_nothing() {
    let alice = User::new();
    let p = siem_project(&alice);
    alice.ok(p.path(), &["secrets", "init"], None);
    alice.ok(
        p.path(),
        &["secrets", "set", "siem/other", "api_key"],
        Some("x\n"),
    );
    let store = std::fs::read(p.path().join("secrets.age")).unwrap();
    let nobody = User::new();
    let args = [
        "add",
        "siem",
        "soc1",
        "-c",
        "url=https://127.0.0.1:9",
        "-s",
        "api_key",
    ];
    let err = nobody.fails(p.path(), &args, Some(&format!("{SECRET}\n")));
    assert!(err.contains("MESHROOM_AGE_IDENTITY_FILE"), "{err}");
    assert!(!p.path().join("instances/siem/soc1").exists());
    assert_eq!(std::fs::read(p.path().join("secrets.age")).unwrap(), store);
    // stdin ending early names the secret that is missing, and writes nothing.
    let err = alice.fails(
        p.path(),
        &[
            "add",
            "siem",
            "soc1",
            "-c",
            "url=x",
            "-s",
            "api_key",
            "-s",
            "bouncer_token",
        ],
        Some("only-one\n"),
    );
    assert!(err.contains("`bouncer_token`"), "{err}");
    assert!(!err.contains("only-one"), "{err}");
    assert!(!p.path().join("instances/siem/soc1").exists());
}

#[test]
fn unplug_and_remove_forget_the_plug_and_instance_secrets() {
    let alice = User::new();
    let p = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/original_project"),
        p.path(),
    );
    alice.ok(p.path(), &["secrets", "init"], None);
    // `plug -s` on an existing plug stores a plug-scoped secret.
    alice.ok(
        p.path(),
        &[
            "plug",
            "events",
            "otherproduct2",
            "myproduct",
            "-s",
            "intake_key",
        ],
        Some("ik-plug-5e6f\n"),
    );
    let got = alice.ok(
        p.path(),
        &[
            "secrets",
            "get",
            "plug:otherproduct2/myproduct/events/push",
            "intake_key",
            "--reveal",
        ],
        None,
    );
    assert_eq!(got.trim(), "ik-plug-5e6f");
    assert_no_plaintext_under(p.path(), "ik-plug-5e6f");
    alice.ok(
        p.path(),
        &[
            "secrets",
            "set",
            "instance:otherproduct/otherproduct2",
            "api_key",
        ],
        Some("k\n"),
    );
    alice.ok(
        p.path(),
        &["secrets", "set", "instance:myproduct/myproduct", "api_key"],
        Some("k\n"),
    );
    let names = |alice: &User| -> Vec<String> {
        let json = alice.ok(p.path(), &["--json", "secrets", "list"], None);
        let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        rows.iter()
            .map(|r| r["scope"].as_str().unwrap().to_owned())
            .collect()
    };
    alice.ok(
        p.path(),
        &["unplug", "events", "otherproduct2", "myproduct", "--force"],
        None,
    );
    assert_eq!(
        names(&alice),
        [
            "instance:myproduct/myproduct",
            "instance:otherproduct/otherproduct2"
        ]
    );
    alice.ok(p.path(), &["remove", "otherproduct2", "otherproduct"], None);
    assert_eq!(names(&alice), ["instance:myproduct/myproduct"]);
}

#[test]
fn add_on_a_terminal_prompts_secret_settings_hidden() {
    let alice = User::new();
    let p = siem_project(&alice);
    alice.ok(p.path(), &["secrets", "init"], None);
    let (ok, transcript) = run_on_pty(
        &alice,
        p.path(),
        &["add", "siem", "soc1", "-c", "url=https://127.0.0.1:9"],
        &[
            ("api_key (secret, hidden, required): ", SECRET),
            ("bouncer_token (secret, hidden; Enter skips): ", ""),
        ],
    );
    assert!(ok, "{transcript}");
    assert!(!transcript.contains(SECRET), "echoed:\n{transcript}");
    let got = alice.ok(
        p.path(),
        &["secrets", "get", "siem/soc1", "api_key", "--reveal"],
        None,
    );
    assert_eq!(got.trim(), SECRET);
    let json = alice.ok(p.path(), &["--json", "secrets", "list"], None);
    assert!(!json.contains("bouncer_token"), "{json}");
    assert_no_plaintext_under(p.path(), SECRET);
}

/// How a crash test ends a command: an armed kill point (`MESHROOM_FAULT`)
/// or SIGKILL from outside after a delay.
#[derive(Debug, Clone, Copy)]
enum Kill {
    At(&'static str, usize),
    After(u64),
}

impl User {
    /// Runs `args`, ended as `kill` says; whether it was ended before it finished.
    fn killed(&self, project: &Path, args: &[&str], stdin: &str, kill: Kill) -> bool {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshroom"));
        cmd.arg("-p").arg(project).args(args);
        cmd.env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env_remove("RUST_LOG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Kill::At(point, n) = kill {
            cmd.env("MESHROOM_FAULT", format!("{point}:{n}"));
        }
        let mut child = support::spawn_piped(cmd, Some(stdin.as_bytes()));
        if let Kill::After(ms) = kill {
            std::thread::sleep(Duration::from_millis(ms));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
            }
        }
        !child.wait().unwrap().success()
    }
}

/// The secrets the store lists, as `scope name` lines.
fn listed_secrets(user: &User, project: &Path) -> std::collections::BTreeSet<String> {
    let rows: serde_json::Value =
        serde_json::from_str(&user.ok(project, &["--json", "secrets", "list"], None)).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["scope"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn temporaries_under(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".meshroom-tmp-"))
        .collect()
}

#[test]
fn secrets_set_on_a_thousand_entries_and_configure_killed_at_any_point_lose_nothing_saved() {
    let keys = tempfile::tempdir().unwrap();
    let (id_file, public) = age_keygen(keys.path(), "carol.txt");
    let carol = User::new().with("MESHROOM_AGE_IDENTITY_FILE", id_file.to_str().unwrap());
    let p = siem_project(&carol);
    carol.ok(p.path(), &["secrets", "recipients", "add", &public], None);
    // 1,000 entries over 100 instances, written by the age CLI.
    let mut scopes = serde_json::Map::new();
    for i in 0..1000 {
        let scope = format!("instance:siem/inst{}", i / 10);
        let entry = scopes.entry(scope).or_insert_with(|| serde_json::json!({}));
        entry[format!("key{i}")] = serde_json::json!(format!("v-{i}-{SECRET}"));
    }
    let doc = keys.path().join("doc.json");
    std::fs::write(
        &doc,
        serde_json::json!({"version": 1, "scopes": scopes}).to_string(),
    )
    .unwrap();
    let status = Command::new("age")
        .args(["-e", "-a", "-R"])
        .arg(p.path().join("secrets.recipients"))
        .arg("-o")
        .arg(p.path().join("secrets.age"))
        .arg(&doc)
        .status()
        .unwrap();
    assert!(status.success());
    let mut saved = listed_secrets(&carol, p.path());
    assert_eq!(saved.len(), 1000);

    // `secrets set`: at each of its writes' kill points, then SIGKILLs
    // spread over its run (decrypting and encrypting 1,000 entries).
    let mut tried = 0;
    let kills = [
        Kill::At("staged", 1),
        Kill::At("renamed", 1),
        Kill::After(2),
        Kill::After(5),
        Kill::After(8),
        Kill::After(12),
        Kill::After(18),
        Kill::After(25),
    ];
    for (i, kill) in kills.into_iter().enumerate() {
        let name = format!("new{i}");
        let value = format!("n-{i}-{SECRET}");
        let args = ["secrets", "set", "instance:siem/fresh", name.as_str()];
        let ended = carol.killed(p.path(), &args, &format!("{value}\n"), kill);
        tried += usize::from(ended);
        // The store decrypts and holds everything saved before; the killed
        // write is there whole or not at all.
        let now = listed_secrets(&carol, p.path());
        assert!(now.is_superset(&saved), "{kill:?} lost entries");
        let extra: Vec<_> = now.difference(&saved).collect();
        assert!(extra.len() <= 1, "{kill:?}: {extra:?}");
        if !extra.is_empty() {
            let got = carol.ok(
                p.path(),
                &["secrets", "get", "instance:siem/fresh", &name, "--reveal"],
                None,
            );
            assert_eq!(got.trim(), value, "{kill:?}");
        }
        // A re-run completes and sweeps the killed one's temporary file.
        carol.ok(p.path(), &args, Some(&format!("{value}\n")));
        assert!(temporaries_under(p.path()).is_empty(), "{kill:?}");
        saved.insert(format!("instance:siem/fresh {name}"));
        assert_eq!(listed_secrets(&carol, p.path()), saved);
    }
    let sample = carol.ok(
        p.path(),
        &[
            "secrets",
            "get",
            "instance:siem/inst42",
            "key421",
            "--reveal",
        ],
        None,
    );
    assert_eq!(sample.trim(), format!("v-421-{SECRET}"));

    // `configure` writes the instance's config and the store: killed at
    // each of its writes (until one run gets through), the instance reads
    // back with its old settings or its new ones, never without its key.
    carol.ok(
        p.path(),
        &[
            "add",
            "siem",
            "soc1",
            "-c",
            "url=https://127.0.0.1:9",
            "-s",
            "api_key",
        ],
        Some("old-key\n"),
    );
    let mut point = 0;
    for kind in ["staged", "renamed"] {
        for n in 1.. {
            let args = [
                "configure",
                "soc1",
                "-c",
                "url=https://127.0.0.1:10",
                "-s",
                "api_key",
            ];
            if !carol.killed(p.path(), &args, "new-key\n", Kill::At(kind, n)) {
                break; // every write of the run got through
            }
            point += 1;
            let instances: serde_json::Value =
                serde_json::from_str(&carol.ok(p.path(), &["--json", "list", "instances"], None))
                    .unwrap();
            assert!(instances.to_string().contains("soc1"), "{kind}:{n}");
            let key = carol.ok(
                p.path(),
                &[
                    "secrets",
                    "get",
                    "instance:siem/soc1",
                    "api_key",
                    "--reveal",
                ],
                None,
            );
            assert!(matches!(key.trim(), "old-key" | "new-key"), "{kind}:{n}");
            carol.ok(p.path(), &args, Some("new-key\n"));
            assert!(temporaries_under(p.path()).is_empty(), "{kind}:{n}");
            // Back to the old settings for the next kill point.
            carol.ok(
                p.path(),
                &[
                    "configure",
                    "soc1",
                    "-c",
                    "url=https://127.0.0.1:9",
                    "-s",
                    "api_key",
                ],
                Some("old-key\n"),
            );
        }
    }
    let config = std::fs::read_to_string(p.path().join("instances/siem/soc1/config.yaml")).unwrap();
    assert!(config.contains("url: https://127.0.0.1:10"), "{config}");
    assert!(point >= 2, "configure was killed at {point} points");
    assert!(tried >= 4, "set was ended {tried} times");
    assert_eq!(listed_secrets(&carol, p.path()).len(), 1009);
}
