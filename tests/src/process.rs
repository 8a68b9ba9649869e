//! One service process: spawned in its own process group with its output in a log
//! file, ready-checked, and stopped on drop (SIGTERM to the group, then SIGKILL).
//!
//! A watchdog shell (its own process group too) stops the service if the test
//! process dies without running destructors (SIGKILL, abort, a service kept in a
//! `static`), so no test ever leaves a service behind.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// How long a service gets to exit after SIGTERM before it is killed.
const TERM_GRACE: Duration = Duration::from_secs(5);
/// How many fresh ports a start is tried on when the port was taken meanwhile.
const START_ATTEMPTS: usize = 5;

/// A running service process. Dropping it stops the process and its children.
#[derive(Debug)]
pub struct ServiceProcess {
    name: String,
    child: Child,
    watchdog: Option<Child>,
    logs: Vec<PathBuf>,
    exited: Option<ExitStatus>,
}

impl ServiceProcess {
    /// Spawns `cmd` in a new process group, stdin from /dev/null, stdout and stderr
    /// to `log` (emptied first), which lies in the instance's temp folder: the
    /// watchdog deletes that folder if the test process dies. `extra_logs` are other files the service writes,
    /// deleted first (a retried start must not see the failed attempt's errors) and
    /// quoted with `log` when it fails.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path, extra_logs: &[PathBuf]) -> Result<Self> {
        for extra in extra_logs {
            let _ = std::fs::remove_file(extra);
        }
        let out = File::options()
            .create(true)
            .write(true)
            .truncate(true)
            .open(log)
            .with_context(|| format!("failed to open the log file `{}`", log.display()))?;
        let err = out
            .try_clone()
            .with_context(|| format!("failed to duplicate the log file `{}`", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        let child = cmd.spawn().with_context(|| {
            format!(
                "failed to start {name} (`{}`): is it installed? run `bash scripts/setup.sh`",
                cmd.get_program().to_string_lossy()
            )
        })?;
        let watchdog = spawn_watchdog(child.id(), log.parent()).ok();
        let mut logs = vec![log.to_path_buf()];
        logs.extend(extra_logs.iter().cloned());
        Ok(Self {
            name: name.to_string(),
            child,
            watchdog,
            logs,
            exited: None,
        })
    }

    /// The service's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `ready` every 20 ms until it returns true, failing with the service's
    /// log when it returns an error, the process exits first or `timeout` passes.
    pub fn wait_ready(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut(&Self) -> Result<bool>,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            match ready(self) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => bail!("{} failed to start: {e:#}\n{}", self.name, self.log_tail()),
            }
            if let Some(status) = self.try_exit_status()? {
                bail!(
                    "{} exited ({status}) before it was ready\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{} was not ready after {timeout:?}\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ready-check helper: true when this service listens on `127.0.0.1:port`
    /// itself, and an "address already in use" error when its log says the port
    /// was taken (some services log it and keep running).
    pub fn listens_on(&self, port: u16) -> Result<bool> {
        if crate::port::listened_by_group(self.pid(), port) {
            return Ok(true);
        }
        for log in &self.logs {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains("Address already in use") || text.contains("address already in use") {
                bail!("127.0.0.1:{port}: address already in use");
            }
        }
        Ok(false)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_exit_status(), Ok(None))
    }

    /// The last lines of each of the service's log files, for error messages.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for path in &self.logs {
            out.push_str(&format!("--- {} (last lines) ---\n", path.display()));
            match tail(path, 40) {
                Ok(text) if text.is_empty() => out.push_str("(empty)\n"),
                Ok(text) => out.push_str(&text),
                Err(e) => out.push_str(&format!("(unreadable: {e})\n")),
            }
        }
        out
    }

    /// Stops the service: SIGTERM to its process group, SIGKILL after a grace
    /// period. Idempotent.
    pub fn stop(&mut self) -> Result<()> {
        let pgid = self.child.id();
        if self.try_exit_status()?.is_none() {
            signal_group(pgid, "TERM");
            let deadline = Instant::now() + TERM_GRACE;
            while self.try_exit_status()?.is_none() {
                if Instant::now() > deadline {
                    note(&format!("{} ignored SIGTERM; killing it", self.name));
                    signal_group(pgid, "KILL");
                    let status = self
                        .child
                        .wait()
                        .with_context(|| format!("failed to wait for {}", self.name))?;
                    self.exited = Some(status);
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // Children the service left in its group go too.
        signal_group(pgid, "KILL");
        if let Some(mut watchdog) = self.watchdog.take() {
            signal_group(watchdog.id(), "KILL"); // the shell and its `sleep`
            let _ = watchdog.wait();
        }
        Ok(())
    }

    fn try_exit_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.exited.is_none() {
            self.exited = self
                .child
                .try_wait()
                .with_context(|| format!("failed to check whether {} runs", self.name))?;
        }
        Ok(self.exited)
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            note(&format!("failed to stop {}: {e:#}", self.name));
        }
    }
}

/// Starts a service on fresh ports, retrying (up to 5 times) when the attempt fails
/// because a port was taken between choosing and binding it.
pub fn start_with_retry<T>(
    name: &str,
    ports: usize,
    mut attempt: impl FnMut(&[u16]) -> Result<T>,
) -> Result<T> {
    let mut last = None;
    for _ in 0..START_ATTEMPTS {
        let chosen = crate::port::free_ports(ports)?;
        match attempt(&chosen) {
            Ok(service) => return Ok(service),
            Err(e) if is_address_in_use(&e) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last
        .unwrap_or_else(|| anyhow!("no attempt made"))
        .context(format!(
            "{name} could not bind a free port in {START_ATTEMPTS} attempts"
        )))
}

fn is_address_in_use(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}").to_ascii_lowercase();
    text.contains("address already in use") || text.contains("address in use")
}

/// Finds an executable on PATH (and in the sbin folders, which a non-root PATH may
/// miss), with an error that says how to install it.
pub fn find_binary(name: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("`{name}` is not installed (not found on PATH): run `bash scripts/setup.sh`")
}

/// Runs a short helper command to completion, failing with its output if it fails.
pub fn run_to_completion(cmd: &mut Command, what: &str) -> Result<String> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to run {what}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// True while a process with this id exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name: "pid (comm) S ...".
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A shell that waits for the test process to disappear, then stops the service's
/// process group and deletes its folder (`dir`). Killed by `stop()` when the
/// service is stopped normally.
fn spawn_watchdog(service_pgid: u32, dir: Option<&Path>) -> std::io::Result<Child> {
    // dash's `kill` takes no `--`; a negative number after the signal is a group.
    let script = r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done
kill -15 "-$2" 2>/dev/null; sleep 3; kill -9 "-$2" 2>/dev/null
[ -n "$3" ] && rm -rf -- "$3""#;
    let dir = match (dir, std::env::var_os("MESHROOM_KEEP_SERVICE_DIRS")) {
        (Some(dir), None) => dir.as_os_str().to_owned(),
        _ => std::ffi::OsString::new(),
    };
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("meshroom-test-watchdog")
        .arg(std::process::id().to_string())
        .arg(service_pgid.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

fn tail(path: &Path, lines: usize) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(16 * 1024);
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    let mut out = all[from..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

fn note(message: &str) {
    eprintln!("meshroom-tests: {message}");
}
