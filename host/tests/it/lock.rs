//! One writer per project, through the real binary: concurrent writers lose
//! nothing, a second writer waits then names the holder, readers never
//! wait, and a writer killed with SIGKILL leaves no obstacle.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, Cli};

/// Writers of each kind started at once.
const N: usize = 16;

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/original_project")
}

/// The original project with instances `my1`…`myN` of `myproduct`, each
/// with no plug yet, a (static) setup hook so that `plug stuff otherproduct
/// myK -m pull` works, and an age identity for its secrets.
fn project_with_instances() -> Cli {
    let cli = Cli::copy_of(&fixture());
    let hooks = cli.project().join("products/myproduct/setup.py");
    let mut text = std::fs::read_to_string(&hooks).unwrap();
    text.push_str(
        "\n\n@setup_consumer(\"stuff\", mode=\"pull\", owns_both=True)\ndef setup_stuff():\n    pass\n",
    );
    std::fs::write(&hooks, text).unwrap();
    for k in 1..=N {
        let dir = cli.project().join(format!("instances/myproduct/my{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.yaml"),
            format!("name: my{k}\nproduct: myproduct\nsettings:\n  region: eu-west-3\n"),
        )
        .unwrap();
    }
    cli
}

/// A `meshroom secrets set` that takes the lock and then waits for its value
/// on stdin, which the test holds open: a writer held as long as needed.
struct HeldWriter {
    child: Child,
}

impl HeldWriter {
    fn start(cli: &Cli) -> HeldWriter {
        let mut cmd = cli.command(&["secrets", "set", "instance:myproduct/myproduct", "held"]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        let writer = HeldWriter { child };
        let lock = cli.project().join(".meshroom/lock");
        let mine = format!("\"pid\":{}", writer.child.id());
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains(&mine)) {
            assert!(Instant::now() < deadline, "the writer never took the lock");
            std::thread::sleep(Duration::from_millis(10));
        }
        writer
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Gives the value: the writer saves it and ends.
    fn finish(mut self, value: &str) -> std::process::Output {
        use std::io::Write;
        let mut stdin = self.child.stdin.take().unwrap();
        writeln!(stdin, "{value}").unwrap();
        drop(stdin);
        support::wait_within(self.child, Duration::from_secs(30), "the writer hung")
    }
}

#[test]
fn concurrent_writers_each_succeed_and_persist_or_fail_clearly() {
    let cli = project_with_instances();
    let start = Instant::now();
    let mut runs: Vec<(String, Child)> = Vec::new();
    for k in 1..=N {
        let set = format!("secrets set k{k}");
        let cmd = cli.command(&[
            "secrets",
            "set",
            "instance:myproduct/myproduct",
            &format!("k{k}"),
        ]);
        runs.push((
            set,
            support::spawn_piped(cmd, Some(format!("value-{k}\n").as_bytes())),
        ));
        let dst = format!("my{k}");
        let cmd = cli.command(&["plug", "stuff", "otherproduct", &dst, "-m", "pull"]);
        runs.push((format!("plug {dst}"), support::spawn_piped(cmd, None)));
        let region = format!("region=r{k}");
        let cmd = cli.command(&["configure", &dst, "-c", &region]);
        runs.push((format!("configure {dst}"), support::spawn_piped(cmd, None)));
    }
    let outcomes: Vec<(String, std::process::Output)> = runs
        .into_iter()
        .map(|(what, child)| {
            let out = support::wait_within(child, Duration::from_secs(120), "a writer hung");
            (what, out)
        })
        .collect();
    let elapsed = start.elapsed();

    let listed = cli.ok(&["secrets", "list", "--json"]);
    let secrets: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    let has_secret = |name: &str| secrets.iter().any(|s| s["name"] == name);
    let value_of = |name: &str| {
        cli.ok(&[
            "secrets",
            "get",
            "instance:myproduct/myproduct",
            name,
            "--reveal",
        ])
        .trim()
        .to_string()
    };
    let mut succeeded = 0;
    for (k, chunk) in (1..=N).zip(outcomes.chunks(3)) {
        for (what, out) in chunk {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let persisted = match what.split(' ').next().unwrap() {
                "secrets" => has_secret(&format!("k{k}")),
                "plug" => cli
                    .project()
                    .join(format!(
                        "instances/otherproduct/otherproduct/plugs/my{k}/stuff_pull.yaml"
                    ))
                    .is_file(),
                _ => std::fs::read_to_string(
                    cli.project()
                        .join(format!("instances/myproduct/my{k}/config.yaml")),
                )
                .unwrap()
                .contains(&format!("region: r{k}\n")),
            };
            if out.status.success() {
                succeeded += 1;
                assert!(
                    persisted,
                    "`{what}` said it succeeded but its change is lost:\n{stderr}"
                );
            } else {
                // A failure is the lock's, says who holds it, and changed nothing.
                assert!(
                    stderr
                        .contains("another meshroom command is changing this project: `meshroom "),
                    "`{what}` failed unclearly:\n{stderr}"
                );
                assert!(!persisted, "`{what}` failed but its change is there");
            }
        }
        if has_secret(&format!("k{k}")) {
            assert_eq!(value_of(&format!("k{k}")), format!("value-{k}"));
        }
    }
    eprintln!(
        "{succeeded} of {} concurrent writers succeeded in {elapsed:?}",
        outcomes.len()
    );
    assert!(succeeded > 0, "no writer got the lock within its timeout");
}

#[test]
fn a_longer_lock_timeout_lets_every_concurrent_secrets_set_through() {
    let cli = Cli::copy_of(&fixture());
    let children: Vec<Child> = (1..=N)
        .map(|k| {
            let name = format!("k{k}");
            let cmd = cli.command(&[
                "--lock-timeout",
                "2m",
                "secrets",
                "set",
                "instance:x/y",
                &name,
            ]);
            support::spawn_piped(cmd, Some(format!("v{k}\n").as_bytes()))
        })
        .collect();
    for child in children {
        let out = support::wait_within(child, Duration::from_secs(150), "a writer hung");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = cli.ok(&["secrets", "list", "instance:x/y", "--json"]);
    let names: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(names.len(), N, "every saved secret is kept: {listed}");
}

#[test]
fn a_second_writer_waits_then_names_the_holder_and_readers_never_wait() {
    let cli = project_with_instances();
    let held = HeldWriter::start(&cli);
    let pid = held.pid();

    let start = Instant::now();
    let ran = cli.run(
        &[
            "--lock-timeout",
            "400ms",
            "plug",
            "stuff",
            "otherproduct",
            "my1",
            "-m",
            "pull",
        ],
        None,
    );
    let waited = start.elapsed();
    assert_eq!(ran.code, Some(1), "{}", ran.text());
    assert!(
        waited >= Duration::from_millis(400),
        "gave up after {waited:?}"
    );
    let holder = format!("`meshroom secrets set` (PID {pid}, since ");
    assert!(
        ran.stderr.contains("waiting up to 400ms for "),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains(&holder), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("--lock-timeout DURATION"),
        "{}",
        ran.stderr
    );
    assert!(
        !cli.project()
            .join("instances/otherproduct/otherproduct/plugs/my1")
            .exists(),
        "a writer that did not get the lock wrote nothing"
    );

    // `up` and `down` fail at once by default.
    for cmd in ["up", "down"] {
        let start = Instant::now();
        let ran = cli.run(&[cmd], None);
        assert_eq!(ran.code, Some(1), "{}", ran.text());
        assert!(ran.stderr.contains(&holder), "{}", ran.stderr);
        assert!(!ran.stderr.contains("waiting"), "{}", ran.stderr);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "`{cmd}` waited {:?}",
            start.elapsed()
        );
    }

    // Readers never take the lock.
    for args in [
        &["list", "instances"][..],
        &["list", "plugs"],
        &["graph"],
        &["plan"],
        &["secrets", "list"],
        &["secrets", "recipients", "list"],
        &["--lock-timeout", "0", "check"],
    ] {
        let start = Instant::now();
        let ran = cli.run(args, None);
        assert!(
            !ran.stderr.contains("another meshroom command"),
            "{args:?} waited for the lock:\n{}",
            ran.text()
        );
        assert!(start.elapsed() < Duration::from_secs(10), "{args:?}");
        if args[0] != "--lock-timeout" {
            assert_eq!(ran.code, Some(0), "{args:?}:\n{}", ran.text());
        }
    }

    let out = held.finish("held-value");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = cli.ok(&[
        "secrets",
        "get",
        "instance:myproduct/myproduct",
        "held",
        "--reveal",
    ]);
    assert_eq!(value.trim(), "held-value");
    cli.ok(&["plug", "stuff", "otherproduct", "my1", "-m", "pull"]);
}

#[test]
fn a_writer_killed_with_sigkill_never_blocks_the_next() {
    let cli = project_with_instances();
    let mut held = HeldWriter::start(&cli);
    let pid = held.pid();
    // Child::kill is SIGKILL on Unix: no destructor, no cleanup runs.
    held.child.kill().unwrap();
    held.child.wait().unwrap();
    let lock = std::fs::read_to_string(cli.project().join(".meshroom/lock")).unwrap();
    assert!(
        lock.contains(&format!("\"pid\":{pid}")),
        "the killed writer's line is still there: {lock}"
    );

    let start = Instant::now();
    let ran = cli.run(
        &[
            "--lock-timeout",
            "0",
            "plug",
            "stuff",
            "otherproduct",
            "my2",
            "-m",
            "pull",
        ],
        None,
    );
    let took = start.elapsed();
    assert_eq!(ran.code, Some(0), "{}", ran.text());
    assert!(
        cli.project()
            .join("instances/otherproduct/otherproduct/plugs/my2/stuff_pull.yaml")
            .is_file()
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    eprintln!("the next writer after a SIGKILL ran in {took:?}");
}

#[test]
fn outside_a_project_nothing_is_locked_nor_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meshroom"))
        .arg("-p")
        .arg(dir.path())
        .args(["add", "myproduct"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("is not a meshroom project"), "{stderr}");
    assert!(!dir.path().join(".meshroom").exists());
}
