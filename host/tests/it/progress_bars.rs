//! `meshroom pull` draws progress bars (blobs, and bytes per blob) on a
//! terminal and nothing on a pipe, run as the real binary against a real
//! registry (Debian `docker-registry` on 127.0.0.1); the terminal is a pty
//! from util-linux `script`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use meshroom_tests::DockerRegistry;

/// A machine of its own: project, cache, default registry, login store, home.
struct Machine {
    root: tempfile::TempDir,
}

impl Machine {
    fn new() -> Self {
        Machine {
            root: tempfile::tempdir().unwrap(),
        }
    }

    fn project(&self) -> PathBuf {
        self.root.path().join("project")
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("MESHROOM_CACHE", self.root.path().join("cache"))
            .env(
                "MESHROOM_REGISTRY_DIR",
                self.root.path().join("default-registry"),
            )
            .env("MESHROOM_AUTH_FILE", self.root.path().join("auth.json"))
            .env("HOME", self.root.path().join("home"))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("TERM", "xterm")
            .env_remove("RUST_LOG")
            .env_remove("DOCKER_CONFIG")
            .env_remove("MESHROOM_REGISTRY_USER")
            .env_remove("MESHROOM_REGISTRY_PASSWORD");
    }

    /// `meshroom -p project ARGS` with stdout and stderr piped.
    fn piped(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshroom"));
        cmd.arg("-p").arg(self.project()).args(args);
        self.env(&mut cmd);
        let out = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "meshroom {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The same on a terminal: what the pty showed (stdout and stderr).
    fn on_terminal(&self, args: &[&str]) -> String {
        let line = std::iter::once(env!("CARGO_BIN_EXE_meshroom").to_string())
            .chain(["-p".to_string(), self.project().display().to_string()])
            .chain(args.iter().map(|a| a.to_string()))
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = Command::new("script");
        cmd.args(["-qefc", &line, "/dev/null"]);
        self.env(&mut cmd);
        let out = cmd.stdin(Stdio::null()).output().expect("script runs");
        let shown = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "meshroom {args:?} on a pty: {shown}");
        shown
    }
}

/// A component: the header plus a custom section of `size` bytes.
fn component(size: usize) -> Vec<u8> {
    let name = b"meshroom-test";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend((0..size).map(|i| (i % 251) as u8));
    let mut bytes = b"\0asm\x0d\x00\x01\x00".to_vec();
    bytes.push(0);
    let mut len = section.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            bytes.push(byte);
            break;
        }
        bytes.push(byte | 0x80);
    }
    bytes.extend(section);
    bytes
}

fn write_product(project: &Path, name: &str) {
    let dir = project.join("products").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("definition.yaml"),
        format!("name: {name}\ndescription: An IPS\nvendor: Acme\nadapter: adapter.wasm\nconsumes:\n  events:\n  - format: ecs\n"),
    )
    .unwrap();
    std::fs::write(dir.join("adapter.wasm"), component(8 << 20)).unwrap();
}

#[test]
fn pull_draws_bars_on_a_terminal_and_nothing_on_a_pipe() {
    let registry = DockerRegistry::start().unwrap();
    let vendor = Machine::new();
    write_product(&vendor.project(), "acme_ips");
    let reference = format!("{}/acme/ips:1.0.0", registry.addr());
    vendor.piped(&["publish", "acme_ips", "--to", &reference]);

    // A pipe: the confirmation only, no bar, no terminal control.
    let piped = Machine::new();
    std::fs::create_dir_all(piped.project().join("products")).unwrap();
    let out = piped.piped(&["pull", &reference]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b') && !stderr.contains("blobs"),
        "{stderr:?}"
    );

    // A terminal: the blob bar and a byte-level bar of the 8 MiB component.
    let terminal = Machine::new();
    std::fs::create_dir_all(terminal.project().join("products")).unwrap();
    let shown = terminal.on_terminal(&["pull", &reference]);
    assert!(shown.contains("blobs"), "{shown:?}");
    assert!(
        shown.contains("MiB"),
        "a byte count of the component: {shown:?}"
    );
    assert!(
        terminal
            .project()
            .join("products/acme_ips/definition.yaml")
            .is_file(),
        "{shown:?}"
    );
}
