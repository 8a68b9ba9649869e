//! rsyslog receiving syslog over TCP on loopback and writing every message, one
//! line each, to a file the test reads back. Its own configuration only (no
//! `imuxsock`/`imklog`, its own pid file and work folder): the system's rsyslog is
//! never touched.
//!
//! Each received message becomes one line:
//! `<time received, RFC 3339> app=<APP-NAME> msgid=<MSGID> sd=<STRUCTURED-DATA> msg=<MSG>`.
//! A line that is not syslog (e.g. a JSON access-log line shipped by Caddy) is
//! kept whole: `app=- msgid=- sd=- msg=<the line>`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::process::{Launch, ServiceProcess, find_binary, launch_with_retry, run_to_completion};

/// A running rsyslog. Dropping it stops it and deletes its folder.
#[derive(Debug)]
pub struct Rsyslog {
    process: ServiceProcess,
    launch: Launch,
    port: u16,
    dir: TempDir,
}

impl Rsyslog {
    /// Starts rsyslog with one TCP input (newline-framed or octet-counted) on a
    /// free port.
    pub fn start() -> Result<Self> {
        let binary = find_binary("rsyslogd")?;
        let dir = crate::tempdir("rsyslog")?;
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work)
            .with_context(|| format!("failed to create `{}`", work.display()))?;
        let received = dir.path().join("received.log");
        let config = dir.path().join("rsyslog.conf");
        let pid_file = dir.path().join("rsyslogd.pid");
        let log = dir.path().join("rsyslogd.log");
        let (launch, process, ports) = launch_with_retry("rsyslog", 1, |ports| {
            let port = ports[0];
            crate::write_file(&config, &config_text(&work, port, &received))?;
            // Validate first: a broken config is a clear error, not a silent exit.
            run_to_completion(
                Command::new(&binary).arg("-N1").arg("-f").arg(&config),
                "rsyslogd -N1 (config check)",
            )?;
            let (binary, config, pid_file, log) = (
                binary.clone(),
                config.clone(),
                pid_file.clone(),
                log.clone(),
            );
            Ok(Launch::new(move || {
                let mut cmd = Command::new(&binary);
                cmd.arg("-n")
                    .arg("-f")
                    .arg(&config)
                    .arg("-i")
                    .arg(&pid_file);
                let mut process = ServiceProcess::spawn("rsyslog", cmd, &log, &[])?;
                process.wait_ready(Duration::from_secs(10), |p| p.listens_on(port))?;
                Ok(process)
            }))
        })?;
        Ok(Self {
            process,
            launch,
            port: ports[0],
            dir,
        })
    }

    /// `127.0.0.1:PORT`, where rsyslog accepts syslog over TCP.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The file every received message is written to.
    pub fn received_log(&self) -> PathBuf {
        self.dir.path().join("received.log")
    }

    /// The lines received so far (one per message; see the module doc for the layout).
    pub fn received_lines(&self) -> Result<Vec<String>> {
        let path = self.received_log();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text.lines().map(str::to_string).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("failed to read `{}`", path.display())),
        }
    }

    /// Waits until at least `n` lines were received, returning all of them; fails
    /// after `timeout` with what did arrive and rsyslog's log.
    pub fn wait_for_lines(&self, n: usize, timeout: Duration) -> Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.received_lines()?;
            if lines.len() >= n {
                return Ok(lines);
            }
            if Instant::now() > deadline {
                bail!(
                    "rsyslog received {} line(s) in {timeout:?}, expected {n}:\n{}\n{}",
                    lines.len(),
                    lines.join("\n"),
                    self.process.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The temp folder of this instance.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    lifecycle_methods!("rsyslog");
}

fn config_text(work: &Path, port: u16, received: &Path) -> String {
    format!(
        r#"global(workDirectory="{work}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="received")
template(name="line" type="string" string="%timegenerated:::date-rfc3339% app=%app-name% msgid=%msgid% sd=%structured-data% msg=%msg%\n")
ruleset(name="received") {{
  action(type="omfile" file="{received}" template="line")
}}
"#,
        work = work.display(),
        received = received.display(),
    )
}
