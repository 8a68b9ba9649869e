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
    /// Sizes of the logs when this run started.
    log_offsets: Vec<u64>,
    exited: Option<ExitStatus>,
    term_grace: Duration,
    /// Set once `stop()` completed: its pid may be reused afterwards, so the group
    /// is never signalled again.
    stopped: bool,
}

impl ServiceProcess {
    /// Spawns `cmd` in a new process group, stdin from /dev/null, stdout and stderr
    /// appended to `log`, which lies in the instance's temp folder: the watchdog
    /// deletes that folder if the test process dies. `extra_logs` are other files
    /// the service writes, quoted with `log` when it fails.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path, extra_logs: &[PathBuf]) -> Result<Self> {
        let mut logs = vec![log.to_path_buf()];
        logs.extend(extra_logs.iter().cloned());
        // Only what this run writes counts in ready-checks (a restart or a retried
        // start appends to the same files).
        let log_offsets = logs
            .iter()
            .map(|path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
            .collect();
        let out = File::options()
            .create(true)
            .append(true)
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
        Ok(Self {
            name: name.to_string(),
            child,
            watchdog,
            logs,
            log_offsets,
            exited: None,
            term_grace: TERM_GRACE,
            stopped: false,
        })
    }

    /// How long `stop()` waits after SIGTERM before SIGKILL (default 5 s).
    pub fn set_term_grace(&mut self, grace: Duration) {
        self.term_grace = grace;
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
        for (log, &offset) in self.logs.iter().zip(&self.log_offsets) {
            let text = read_from(log, offset).unwrap_or_default();
            if text.contains("Address already in use") || text.contains("address already in use") {
                bail!("127.0.0.1:{port}: address already in use");
            }
        }
        Ok(false)
    }

    /// Freezes the service's processes (SIGSTOP): the kernel still accepts
    /// connections but nothing answers, as with a hung product.
    pub fn pause(&mut self) {
        if !self.stopped {
            signal_group(self.pid(), "STOP");
            wait_until_stopped(self.pid(), Duration::from_secs(2));
        }
    }

    /// Lets a paused service run again (SIGCONT).
    pub fn resume(&mut self) {
        if !self.stopped {
            signal_group(self.pid(), "CONT");
        }
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
        if self.stopped {
            return Ok(());
        }
        let pgid = self.child.id();
        if self.try_exit_status()?.is_none() {
            signal_group(pgid, "15");
            signal_group(pgid, "CONT"); // a paused service must run to exit
            let deadline = Instant::now() + self.term_grace;
            while self.try_exit_status()?.is_none() {
                if Instant::now() > deadline {
                    note(&format!("{} ignored SIGTERM; killing it", self.name));
                    signal_group(pgid, "9");
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
        signal_group(pgid, "9");
        if let Some(mut watchdog) = self.watchdog.take() {
            signal_group(watchdog.id(), "9"); // the shell and its `sleep`
            let _ = watchdog.wait();
        }
        self.stopped = true;
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

/// Spawns a service on its fixed ports and waits until it is ready; kept by each
/// service so `restart()` brings it back on the same ports.
pub struct Launch(Box<dyn Fn() -> Result<ServiceProcess> + Send + Sync>);

impl Launch {
    pub fn new(launch: impl Fn() -> Result<ServiceProcess> + Send + Sync + 'static) -> Self {
        Self(Box::new(launch))
    }

    /// Spawns the service and waits until it is ready.
    pub fn run(&self) -> Result<ServiceProcess> {
        (self.0)()
    }
}

impl std::fmt::Debug for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Launch")
    }
}

/// Starts a service on fresh ports, retrying on a taken port: `prepare` gets the
/// ports, writes what depends on them and returns the launcher for them.
pub fn launch_with_retry(
    name: &str,
    ports: usize,
    mut prepare: impl FnMut(&[u16]) -> Result<Launch>,
) -> Result<(Launch, ServiceProcess, Vec<u16>)> {
    start_with_retry(name, ports, |chosen| {
        let launch = prepare(chosen)?;
        let process = launch.run()?;
        Ok((launch, process, chosen.to_vec()))
    })
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

/// Signals a whole process group through the shell's `kill` builtin (no `kill`
/// binary needed; `unsafe` libc calls are denied in this workspace).
/// SIGSTOP is delivered asynchronously: wait until every thread of `pid` is
/// really stopped (state `T` in `/proc/<pid>/task/*/stat`), so a request sent
/// next cannot be answered by a thread that had not stopped yet.
fn wait_until_stopped(pid: u32, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    let all_stopped = || -> bool {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return true;
        };
        tasks.flatten().all(|task| {
            std::fs::read_to_string(task.path().join("stat"))
                .ok()
                .and_then(|stat| {
                    let after = stat.rsplit_once(") ")?.1;
                    after.chars().next()
                })
                .is_none_or(|state| state == 'T' || state == 't')
        })
    };
    while !all_stopped() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("sh")
        .args(["-c", &format!("kill -{signal} -{pgid}")])
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

fn read_from(path: &Path, offset: u64) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_is_retried_on_a_fresh_port_when_the_port_was_taken() {
        let mut tried = Vec::new();
        let port = start_with_retry("probe", 1, |ports| {
            tried.push(ports[0]);
            if tried.len() < 3 {
                bail!(
                    "listen tcp 127.0.0.1:{}: bind: address already in use",
                    ports[0]
                );
            }
            Ok(ports[0])
        })
        .unwrap();
        assert_eq!(tried.len(), 3);
        assert_eq!(Some(&port), tried.last());
        assert_ne!(tried[0], tried[1], "each attempt gets a fresh port");
        // Other errors are not retried.
        let mut attempts = 0;
        let err = start_with_retry("probe", 1, |_| -> Result<()> {
            attempts += 1;
            bail!("config is invalid")
        })
        .unwrap_err();
        assert_eq!(attempts, 1);
        assert!(format!("{err:#}").contains("config is invalid"));
    }

    #[test]
    fn a_port_held_by_another_process_is_not_mistaken_for_the_service() {
        let foreign = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = foreign.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let mut process =
            ServiceProcess::spawn("sleep", cmd, &dir.path().join("log"), &[]).unwrap();
        assert!(!process.listens_on(port).unwrap());
        let err = process
            .wait_ready(Duration::from_millis(200), |p| p.listens_on(port))
            .unwrap_err();
        assert!(format!("{err:#}").contains("was not ready"), "{err:#}");
        let pid = process.pid();
        drop(process);
        assert!(!process_alive(pid));
    }

    #[test]
    fn a_service_that_exits_early_fails_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'fatal: no config' >&2; exit 3"]);
        let mut process =
            ServiceProcess::spawn("broken", cmd, &dir.path().join("log"), &[]).unwrap();
        let err = process
            .wait_ready(Duration::from_secs(5), |_| Ok(false))
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("broken exited"), "{text}");
        assert!(text.contains("fatal: no config"), "{text}");
    }

    #[test]
    fn a_service_ignoring_sigterm_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "trap '' TERM; while :; do sleep 0.1; done"]);
        let mut process =
            ServiceProcess::spawn("stubborn", cmd, &dir.path().join("log"), &[]).unwrap();
        process.set_term_grace(Duration::from_millis(300));
        std::thread::sleep(Duration::from_millis(100));
        let pid = process.pid();
        process.stop().unwrap();
        assert!(!process_alive(pid));
        assert!(!process.is_running());
    }
}
