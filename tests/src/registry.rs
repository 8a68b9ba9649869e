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
use crate::process::{Launch, ServiceProcess, find_binary, launch_with_retry, run_to_completion};

/// One line of the registry's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRequest {
    pub method: String,
    /// Path and query, e.g. `/v2/acme/crowdsec/blobs/sha256:…`.
    pub path: String,
    pub status: u16,
}

impl RegistryRequest {
    /// Parses a combined-log-format line: `IP - - [date] "GET /v2/ HTTP/1.1" 200 2 "" "ua"`.
    fn parse(line: &str) -> Option<Self> {
        let (_, rest) = line.split_once("] \"")?;
        let (request, rest) = rest.split_once('"')?;
        let mut parts = request.split_whitespace();
        let method = parts.next()?.to_string();
        let path = parts.next()?.to_string();
        let status = rest.split_whitespace().next()?.parse().ok()?;
        Some(Self {
            method,
            path,
            status,
        })
    }
}

/// A running registry. Dropping it stops the registry and deletes its storage.
#[derive(Debug)]
pub struct DockerRegistry {
    process: ServiceProcess,
    launch: Launch,
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
        let log = dir.path().join("registry.log");
        let auth = credentials.is_some();
        let (launch, process, ports) = launch_with_retry("docker-registry", 1, |ports| {
            let port = ports[0];
            let (binary, config, htpasswd, log) = (
                binary.clone(),
                config.clone(),
                htpasswd.clone(),
                log.clone(),
            );
            Ok(Launch::new(move || {
                let mut cmd = Command::new(&binary);
                cmd.arg("serve")
                    .arg(&config)
                    .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
                    // An explicit secret silences the "no HTTP secret" warning.
                    .env("REGISTRY_HTTP_SECRET", crate::random_hex(16))
                    .env("OTEL_TRACES_EXPORTER", "none");
                if auth {
                    cmd.env("REGISTRY_AUTH", "htpasswd")
                        .env("REGISTRY_AUTH_HTPASSWD_REALM", "meshroom-tests")
                        .env("REGISTRY_AUTH_HTPASSWD_PATH", &htpasswd);
                }
                let mut process = ServiceProcess::spawn("docker-registry", cmd, &log, &[])?;
                let url = format!("http://127.0.0.1:{port}/v2/");
                process.wait_ready(Duration::from_secs(10), |p| {
                    Ok(p.listens_on(port)?
                        && matches!(
                            http::status_of(http::get(&url).timeout(Duration::from_millis(500))),
                            Some(200 | 401)
                        ))
                })?;
                Ok(process)
            }))
        })?;
        let port = ports[0];
        Ok(Self {
            process,
            launch,
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

    /// Where the registry keeps the blob with this digest (`sha256:<hex>`), e.g. to
    /// tamper with it in a test.
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .with_context(|| format!("`{digest}` is not a sha256 digest"))?;
        Ok(self
            .storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data"))
    }

    /// Every request the registry served so far, from its access log, in order:
    /// to prove that a cached blob was not downloaded again.
    pub fn requests(&self) -> Result<Vec<RegistryRequest>> {
        let log = self.dir.path().join("registry.log");
        let text = std::fs::read_to_string(&log)
            .with_context(|| format!("failed to read `{}`", log.display()))?;
        Ok(text.lines().filter_map(RegistryRequest::parse).collect())
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

    lifecycle_methods!("docker-registry");
}
