//! A throwaway OCI distribution registry (Debian `docker-registry`, CNCF
//! distribution 2.8) with filesystem storage in a temp folder, optionally behind
//! htpasswd basic auth. Plain HTTP on loopback: clients must allow insecure
//! `127.0.0.1:PORT` (oci-client `ClientProtocol::HttpsExcept`, skopeo
//! `--tls-verify=false`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use tempfile::TempDir;

use crate::http;
use crate::process::{ServiceProcess, find_binary, run_to_completion, start_with_retry};

/// A running registry. Dropping it stops the registry and deletes its storage.
#[derive(Debug)]
pub struct DockerRegistry {
    process: ServiceProcess,
    port: u16,
    credentials: Option<(String, String)>,
    dir: TempDir,
}

impl DockerRegistry {
    /// Starts an open registry (no authentication).
    pub fn start() -> Result<Self> {
        Self::start_inner(None)
    }

    /// Starts a registry that requires basic auth with this user and password.
    pub fn start_with_auth(user: &str, password: &str) -> Result<Self> {
        Self::start_inner(Some((user.to_string(), password.to_string())))
    }

    fn start_inner(credentials: Option<(String, String)>) -> Result<Self> {
        let binary = find_binary("docker-registry")?;
        let dir = crate::tempdir("registry")?;
        let config = dir.path().join("config.yml");
        let storage = dir.path().join("data");
        crate::write_file(
            &config,
            &format!(
                "version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: 127.0.0.1:0}}\n",
                storage.display()
            ),
        )?;
        let htpasswd = dir.path().join("htpasswd");
        if let Some((user, password)) = &credentials {
            // bcrypt (-B) is the only hash distribution accepts.
            let line = run_to_completion(
                Command::new(find_binary("htpasswd")?).args(["-Bbn", user, password]),
                "htpasswd",
            )?;
            crate::write_file(&htpasswd, line.trim_end())?;
        }
        let (process, port) = start_with_retry("docker-registry", 1, |ports| {
            let port = ports[0];
            let mut cmd = Command::new(&binary);
            cmd.arg("serve")
                .arg(&config)
                .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
                // An explicit secret silences the "no HTTP secret" warning on every start.
                .env("REGISTRY_HTTP_SECRET", crate::random_hex(16))
                .env("OTEL_TRACES_EXPORTER", "none");
            if credentials.is_some() {
                cmd.env("REGISTRY_AUTH", "htpasswd")
                    .env("REGISTRY_AUTH_HTPASSWD_REALM", "meshroom-tests")
                    .env("REGISTRY_AUTH_HTPASSWD_PATH", &htpasswd);
            }
            let mut process = ServiceProcess::spawn(
                "docker-registry",
                cmd,
                &dir.path().join("registry.log"),
                &[],
            )?;
            let url = format!("http://127.0.0.1:{port}/v2/");
            process.wait_ready(Duration::from_secs(10), |p| {
                Ok(p.listens_on(port)?
                    && matches!(
                        http::status_of(http::get(&url).timeout(Duration::from_millis(500))),
                        Some(200 | 401)
                    ))
            })?;
            Ok((process, port))
        })?;
        Ok(Self {
            process,
            port,
            credentials,
            dir,
        })
    }

    /// `127.0.0.1:PORT`, the registry's host part in image references.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The folder holding the registry's blobs and manifests.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The user and password when started with auth.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The temp folder of this instance (config, logs, storage).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The registry's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The registry's log, for assertions and failure messages.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// Stops the registry now (dropping does it too).
    pub fn stop(&mut self) -> Result<()> {
        self.process
            .stop()
            .context("failed to stop docker-registry")
    }
}
