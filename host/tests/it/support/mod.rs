//! Shared pieces of the runtime tests: the adapters' build step, a real
//! HTTP API server on 127.0.0.1 that adapters configure, and running the
//! real `meshroom` binary on a temp project.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Builds the adapters once per test binary (cargo makes it a no-op when
/// nothing changed) and returns the path of `<name>.wasm`.
pub fn adapter_wasm(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = BUILT.get_or_init(|| {
        let out = std::process::Command::new("bash")
            .arg(root.join("scripts/build-adapters.sh"))
            .output()
            .map_err(|e| format!("cannot run scripts/build-adapters.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    if let Err(e) = built {
        panic!("building the adapters failed:\n{e}");
    }
    root.join(format!("adapters/target/wasm32-wasip2/release/{name}.wasm"))
}

/// A compiled-code cache shared by the tests of one target dir, so each
/// component is compiled once, not once per test.
pub fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("meshroom-runtime-cache")
}

/// The passphrase of the test projects' secrets.
pub const PASSPHRASE: &str = "meshroom test passphrase";

/// Runs the real `meshroom -p project ARGS` with `stdin` written to it, in
/// a test environment: the shared compiled cache, secrets unlocked by
/// [`PASSPHRASE`], a HOME inside the project, no `RUST_LOG`; scaffolded
/// adapter crates depend on this checkout's SDK and `meshroom build`
/// shares the adapters' target dir (offline, incremental).
pub fn meshroom(project: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run_piped(meshroom_command(project, args), stdin.map(str::as_bytes))
}

/// The command [`meshroom`] runs, to start it and stop it as a test needs.
pub fn meshroom_command(project: &Path, args: &[&str]) -> Command {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshroom"));
    cmd.arg("-p").arg(project).args(args);
    cmd.env("MESHROOM_CACHE", shared_cache())
        .env("MESHROOM_SECRETS_PASSPHRASE", PASSPHRASE)
        .env("MESHROOM_SDK_PATH", root.join("sdk"))
        .env("CARGO_TARGET_DIR", root.join("adapters/target"))
        .env("HOME", project.join(".home"))
        .env_remove("MESHROOM_AGE_IDENTITY")
        .env_remove("MESHROOM_AGE_IDENTITY_FILE")
        .env_remove("RUST_LOG");
    cmd
}

/// Runs `cmd` with its output captured and `stdin` written to it; see
/// [`spawn_piped`].
pub fn run_piped(cmd: Command, stdin: Option<&[u8]>) -> Output {
    spawn_piped(cmd, stdin).wait_with_output().unwrap()
}

/// Starts `cmd` with its output captured and `stdin` written to it from a
/// thread (so a large input cannot deadlock against a full stdout pipe);
/// `None`: stdin is /dev/null.
pub fn spawn_piped(mut cmd: Command, stdin: Option<&[u8]>) -> Child {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
        let input = input.to_vec();
        // The command may fail before reading it.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    child
}

/// Waits for `child`, reading its output meanwhile (a full pipe would
/// stall it); kills it and fails the test with `hung` when it runs past
/// `limit`.
pub fn wait_within(mut child: Child, limit: Duration, hung: &str) -> Output {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{hung}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Runs `cmd` under a reader that stops after the first line (`| head -1`):
/// that line, and the command's output once it ended (within 30 s).
pub fn first_line_then_close(cmd: Command) -> (String, Output) {
    let mut child = spawn_piped(cmd, None);
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    drop(stdout);
    let out = wait_within(
        child,
        Duration::from_secs(30),
        "the command went on after its reader went away",
    );
    (first, out)
}

/// stdout and stderr of a run, for messages and leak checks.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs meshroom, asserts it succeeded, returns its stdout.
pub fn ok(project: &Path, args: &[&str]) -> String {
    let out = meshroom(project, args, None);
    assert!(
        out.status.success(),
        "meshroom {args:?} failed:\n{}",
        output_text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs meshroom, asserts it failed, returns the output and its text.
pub fn fails(project: &Path, args: &[&str]) -> (Output, String) {
    let out = meshroom(project, args, None);
    assert!(!out.status.success(), "meshroom {args:?} should fail");
    let text = output_text(&out);
    (out, text)
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

#[derive(Default)]
pub struct ApiState {
    pub requests: Vec<Seen>,
    pub webhooks: BTreeMap<String, Value>,
    /// Resources of the generic collections, by path (`/api/threats/sources/r-1`).
    pub resources: BTreeMap<String, Value>,
    pub events: Vec<String>,
    /// What the product does wrong, to every request from now on.
    pub fault: Option<ProductFault>,
    next_id: u64,
}

/// A product misbehaving (see [`ApiState::fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductFault {
    /// Answers `500 Internal Server Error`.
    ServerError,
    /// Reads the request, then resets the connection (RST, no answer).
    Reset,
    /// Reads the request and never answers (until the server is dropped).
    Hang,
}

/// A tiny REST API on 127.0.0.1 (a free port), served by a thread until
/// dropped: webhooks (create/get/delete, list by field), events (ingest/page), commands,
/// and any collection `/api/<a>/<b>` (POST creates a resource with an `id`,
/// GET and DELETE `/api/<a>/<b>/<id>`). Everything but events needs
/// `Authorization: Bearer k-123`.
pub struct Api {
    pub addr: String,
    pub state: Arc<Mutex<ApiState>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Api {
    pub fn start() -> Api {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(ApiState::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (st, sp) = (st.clone(), sp.clone());
                thread::spawn(move || {
                    let _ = serve(conn, &st, &sp);
                });
            }
        });
        Api { addr, state, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Wake the accept loop.
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(
    conn: TcpStream,
    state: &Mutex<ApiState>,
    stop: &std::sync::atomic::AtomicBool,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let mut body = Vec::new();
        if headers
            .get("transfer-encoding")
            .is_some_and(|t| t.contains("chunked"))
        {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            let len: usize = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            body = vec![0; len];
            reader.read_exact(&mut body)?;
        }
        let seen = Seen {
            method,
            path,
            headers,
            body,
        };
        let fault = state.lock().unwrap().fault;
        match fault {
            Some(ProductFault::Reset) => {
                state.lock().unwrap().requests.push(seen);
                // SO_LINGER 0: close() sends RST instead of FIN.
                socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO))?;
                return Ok(());
            }
            Some(ProductFault::Hang) => {
                state.lock().unwrap().requests.push(seen);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(50));
                }
                return Ok(());
            }
            Some(ProductFault::ServerError) => {
                state.lock().unwrap().requests.push(seen);
                let body = r#"{"error":"internal error (injected)"}"#;
                write!(
                    conn,
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )?;
                conn.flush()?;
                continue;
            }
            None => {}
        }
        let (status, answer) = route(&seen, state);
        state.lock().unwrap().requests.push(seen);
        let body = answer.map(|v| v.to_string()).unwrap_or_default();
        let reason = match status {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            401 => "Unauthorized",
            _ => "Not Found",
        };
        if status == 204 {
            write!(conn, "HTTP/1.1 204 No Content\r\n\r\n")?;
        } else {
            write!(
                conn,
                "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )?;
        }
        conn.flush()?;
    }
}

fn route(req: &Seen, state: &Mutex<ApiState>) -> (u16, Option<Value>) {
    let mut st = state.lock().unwrap();
    let authorized = req.headers.get("authorization").map(String::as_str) == Some("Bearer k-123");
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("POST", ["events"]) => {
            let text = String::from_utf8_lossy(&req.body).into_owned();
            let lines: Vec<String> = text.lines().map(String::from).collect();
            let n = lines.len();
            st.events.extend(lines);
            (200, Some(json!({"accepted": n})))
        }
        _ if !authorized => (401, Some(json!({"error": "bad api key"}))),
        ("POST", ["webhooks"]) => {
            st.next_id += 1;
            let id = format!("wh-{}", st.next_id);
            let mut hook: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
            hook["id"] = json!(id);
            st.webhooks.insert(id.clone(), hook);
            (201, Some(json!({"id": id, "token": format!("tok-{id}")})))
        }
        ("GET", ["webhooks"]) => {
            // `?source=…&topic=…`: the webhooks with those fields.
            let wanted: Vec<(&str, &str)> = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .collect();
            let found: Vec<Value> = st
                .webhooks
                .values()
                .filter(|h| wanted.iter().all(|(k, v)| h[*k].as_str() == Some(*v)))
                .cloned()
                .collect();
            (200, Some(json!({"webhooks": found})))
        }
        ("GET", ["webhooks", id]) => match st.webhooks.get(*id) {
            Some(h) => (200, Some(h.clone())),
            None => (404, Some(json!({"error": "no such webhook"}))),
        },
        ("DELETE", ["webhooks", id]) => match st.webhooks.remove(*id) {
            Some(_) => (204, None),
            None => (404, Some(json!({"error": "no such webhook"}))),
        },
        ("GET", ["events"]) => {
            let after: usize = query
                .strip_prefix("after=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let page: Vec<String> = st.events.iter().skip(after).take(2).cloned().collect();
            (200, Some(json!({"records": page})))
        }
        ("POST", ["api", _, _]) => {
            st.next_id += 1;
            let id = format!("r-{}", st.next_id);
            let mut resource: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
            resource["id"] = json!(id);
            st.resources
                .insert(format!("/{}/{id}", segments.join("/")), resource.clone());
            (201, Some(resource))
        }
        ("GET", ["api", _, _, _]) => match st.resources.get(&format!("/{}", segments.join("/"))) {
            Some(r) => (200, Some(r.clone())),
            None => (404, Some(json!({"error": "no such resource"}))),
        },
        ("DELETE", ["api", _, _, _]) => {
            match st.resources.remove(&format!("/{}", segments.join("/"))) {
                Some(_) => (204, None),
                None => (404, Some(json!({"error": "no such resource"}))),
            }
        }
        ("POST", ["commands"]) => {
            let cmd: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
            (200, Some(json!({"done": true, "command": cmd})))
        }
        _ => (404, Some(json!({"error": "no route"}))),
    }
}

/// The real `meshroom` binary run on one temporary project, as a user would:
/// its own HOME (where `meshroom secrets init` puts the age identity), the
/// shared compiled-adapter cache, and loopback traffic never sent to a proxy.
/// The folder is deleted on drop.
pub struct Cli {
    root: tempfile::TempDir,
}

/// What a finished `meshroom` run printed, and its exit code.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// stdout and stderr together, for assertions about what a user sees.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl Cli {
    /// `meshroom init` in a new temp folder, then `meshroom secrets init` (an
    /// age key: a passphrase would cost a scrypt run per command).
    pub fn init() -> Cli {
        let cli = Cli {
            root: tempfile::tempdir().unwrap(),
        };
        cli.ok(&["init", cli.project().to_str().unwrap()]);
        cli.ok(&["secrets", "init"]);
        cli
    }

    /// A copy of the project folder `from`, then `meshroom secrets init`.
    pub fn copy_of(from: &Path) -> Cli {
        let cli = Cli {
            root: tempfile::tempdir().unwrap(),
        };
        let status = Command::new("cp")
            .arg("-R")
            .arg(from)
            .arg(cli.project())
            .status()
            .unwrap();
        assert!(status.success(), "cannot copy {}", from.display());
        cli.ok(&["secrets", "init"]);
        cli
    }

    /// The project folder.
    pub fn project(&self) -> PathBuf {
        self.root.path().join("project")
    }

    /// Runs `meshroom -p PROJECT ARGS` with `stdin` piped in (or nothing).
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Ran {
        let out = run_piped(self.command(args), stdin.map(str::as_bytes));
        Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The command [`Cli::run`] runs, to start it yourself (several at once).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshroom"));
        cmd.arg("-p")
            .arg(self.project())
            .args(args)
            .env("MESHROOM_CACHE", shared_cache())
            .env("HOME", self.root.path().join("home"))
            .env("XDG_CONFIG_HOME", self.root.path().join("home/.config"))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env_remove("MESHROOM_AGE_IDENTITY")
            .env_remove("MESHROOM_AGE_IDENTITY_FILE")
            .env_remove("MESHROOM_SECRETS_PASSPHRASE")
            .env_remove("MESHROOM_LOCK_TIMEOUT")
            .env_remove("RUST_LOG");
        cmd
    }

    /// Runs meshroom, which must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None)
    }

    /// [`Cli::ok`] with `stdin` piped in.
    pub fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let ran = self.run(args, stdin);
        assert_eq!(
            ran.code,
            Some(0),
            "meshroom {args:?} failed:\n{}",
            ran.text()
        );
        ran.stdout
    }

    /// Runs meshroom, which must fail; returns what it printed.
    pub fn fails(&self, args: &[&str]) -> Ran {
        let ran = self.run(args, None);
        assert!(
            ran.code.is_some_and(|c| c != 0),
            "meshroom {args:?} should have failed:\n{}",
            ran.text()
        );
        ran
    }
}

/// Calls the `remember` execute hook of a hostile adapter (`bytes`),
/// which reports what earlier calls left in its memory and then dirties
/// hundreds of separate pages of it, many times in a row and many at once
/// under each memory reset: every call must find a fresh instance. The
/// pool is small (8 calls), so its slots are reused many times over:
/// freed slots wait in a queue until the pool runs short, then are reset
/// and reused. (Breaking the reset of only the regions past the first
/// 32 a scan reports makes it fail: checked once by hand.)
pub async fn assert_every_call_is_fresh(bytes: &[u8], name: &str) {
    use meshroom::runtime::{
        CallPolicy, HookContext, HookKind, MemoryReset, Runtime, RuntimeConfig,
    };
    for reset in [MemoryReset::DirtyPages, MemoryReset::Prefix] {
        let rt = Runtime::new(RuntimeConfig {
            cache_dir: Some(shared_cache()),
            max_instances: 8,
            memory_reset: reset,
            ..RuntimeConfig::default()
        })
        .unwrap();
        let adapter = rt.load(bytes, name).await.unwrap();
        let hook = adapter
            .info()
            .hooks_of(HookKind::Execute)
            .find(|h| h.topic.as_deref() == Some("remember"))
            .unwrap()
            .id
            .clone();
        let call = || {
            let (adapter, hook) = (adapter.clone(), hook.clone());
            async move {
                adapter
                    .execute(
                        &hook,
                        &HookContext::default(),
                        &json!({}),
                        &CallPolicy::deny_all(),
                    )
                    .await
                    .unwrap()
            }
        };
        for i in 0..40 {
            assert_eq!(call().await, json!({"left": 0}), "{reset:?}, call {i}");
        }
        for round in 0..20 {
            let at_once: Vec<_> = (0..2).map(|_| tokio::spawn(call())).collect();
            for joined in at_once {
                let left = joined.await.unwrap();
                assert_eq!(left, json!({"left": 0}), "{reset:?}, round {round}");
            }
        }
    }
}
