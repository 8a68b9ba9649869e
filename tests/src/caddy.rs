//! Caddy, isolated (own HOME and XDG folders, config never persisted), with its
//! admin API on one port and one HTTP server `srv0` on another. The server's only
//! route answers 200 `ok`; adapters and tests reconfigure Caddy through the admin
//! API (`admin_url()`), as the Caddy adapter does against a real deployment.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use tempfile::TempDir;

use crate::http;
use crate::process::{ServiceProcess, find_binary, start_with_retry};

/// A running Caddy. Dropping it stops it and deletes its folder.
#[derive(Debug)]
pub struct Caddy {
    process: ServiceProcess,
    admin_port: u16,
    http_port: u16,
    dir: TempDir,
}

impl Caddy {
    /// Starts Caddy with the admin API and the `srv0` HTTP server on free ports.
    pub fn start() -> Result<Self> {
        let binary = find_binary("caddy")?;
        let dir = crate::tempdir("caddy")?;
        let config = dir.path().join("caddy.json");
        let (process, admin_port, http_port) = start_with_retry("caddy", 2, |ports| {
            let (admin_port, http_port) = (ports[0], ports[1]);
            let text =
                serde_json::to_string_pretty(&config_json(dir.path(), admin_port, http_port))
                    .context("failed to render the caddy config")?;
            crate::write_file(&config, &text)?;
            let mut cmd = Command::new(&binary);
            cmd.arg("run")
                .arg("--config")
                .arg(&config)
                .env("HOME", dir.path())
                .env("XDG_DATA_HOME", dir.path().join("data"))
                .env("XDG_CONFIG_HOME", dir.path().join("config"));
            let mut process =
                ServiceProcess::spawn("caddy", cmd, &dir.path().join("caddy.log"), &[])?;
            let admin = format!("http://127.0.0.1:{admin_port}/config/");
            process.wait_ready(Duration::from_secs(10), |p| {
                Ok(p.listens_on(admin_port)?
                    && p.listens_on(http_port)?
                    && http::status_of(http::get(&admin).timeout(Duration::from_millis(500)))
                        == Some(200))
            })?;
            Ok((process, admin_port, http_port))
        })?;
        Ok(Self {
            process,
            admin_port,
            http_port,
            dir,
        })
    }

    /// `http://127.0.0.1:ADMIN_PORT`, Caddy's admin API (JSON; send
    /// `Content-Type: application/json`).
    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    /// `http://127.0.0.1:HTTP_PORT`, the `srv0` server.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The admin API's port.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// The `srv0` server's port.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The temp folder of this instance (config, log, storage).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Caddy's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Caddy's own log (access logs are excluded from it).
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// Stops Caddy now (dropping does it too).
    pub fn stop(&mut self) -> Result<()> {
        self.process.stop().context("failed to stop caddy")
    }
}

fn config_json(dir: &Path, admin_port: u16, http_port: u16) -> serde_json::Value {
    json!({
        "admin": {
            "listen": format!("127.0.0.1:{admin_port}"),
            "config": {"persist": false}
        },
        "storage": {"module": "file_system", "root": dir.join("storage")},
        // Access logs go only where a test or adapter sends them, not to Caddy's log.
        "logging": {"logs": {"default": {"exclude": ["http.log.access"]}}},
        "apps": {"http": {"servers": {"srv0": {
            "@id": "srv0",
            "listen": [format!("127.0.0.1:{http_port}")],
            "automatic_https": {"disable": true},
            "routes": [{
                "@id": "srv0-default",
                "handle": [{"handler": "static_response", "status_code": 200, "body": "ok"}]
            }]
        }}}}
    })
}
