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
use crate::process::{Launch, ServiceProcess, find_binary, launch_with_retry};

/// A running Caddy. Dropping it stops it and deletes its folder.
#[derive(Debug)]
pub struct Caddy {
    process: ServiceProcess,
    launch: Launch,
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
        let log = dir.path().join("caddy.log");
        let home = dir.path().to_path_buf();
        let (launch, process, ports) = launch_with_retry("caddy", 2, |ports| {
            let (admin_port, http_port) = (ports[0], ports[1]);
            let text = serde_json::to_string_pretty(&config_json(&home, admin_port, http_port))
                .context("failed to render the caddy config")?;
            crate::write_file(&config, &text)?;
            let (binary, config, home, log) =
                (binary.clone(), config.clone(), home.clone(), log.clone());
            Ok(Launch::new(move || {
                let mut cmd = Command::new(&binary);
                cmd.arg("run")
                    .arg("--config")
                    .arg(&config)
                    .env("HOME", &home)
                    .env("XDG_DATA_HOME", home.join("data"))
                    .env("XDG_CONFIG_HOME", home.join("config"));
                let mut process = ServiceProcess::spawn("caddy", cmd, &log, &[])?;
                let admin = format!("http://127.0.0.1:{admin_port}/config/");
                process.wait_ready(Duration::from_secs(10), |p| {
                    Ok(p.listens_on(admin_port)?
                        && p.listens_on(http_port)?
                        && http::status_of(http::get(&admin).timeout(Duration::from_millis(500)))
                            == Some(200))
                })?;
                Ok(process)
            }))
        })?;
        let (admin_port, http_port) = (ports[0], ports[1]);
        Ok(Self {
            process,
            launch,
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

    /// `GET /config/<path>` on the admin API: the JSON at that path, `null` when the
    /// last key is absent (e.g. `apps/http/servers/srv0/logs`).
    pub fn config(&self, path: &str) -> Result<serde_json::Value> {
        let url = format!(
            "{}/config/{}",
            self.admin_url(),
            path.trim_start_matches('/')
        );
        let response = http::get(&url).send()?;
        anyhow::ensure!(
            response.status == 200,
            "caddy answered {} to GET {url}: {}",
            response.status,
            response.text()
        );
        response.json()
    }

    /// `GET /id/<id>` on the admin API: the object carrying this `@id`, or None.
    pub fn object(&self, id: &str) -> Result<Option<serde_json::Value>> {
        let url = format!("{}/id/{id}", self.admin_url());
        let response = http::get(&url).send()?;
        match response.status {
            200 => response.json().map(Some),
            404 => Ok(None),
            status => anyhow::bail!("caddy answered {status} to GET {url}: {}", response.text()),
        }
    }

    /// The status `srv0` answers to `GET <path>` sent from `source` (any 127.x.y.z
    /// address), to check a block on one client address.
    pub fn status_from(&self, source: std::net::Ipv4Addr, path: &str) -> Result<u16> {
        Ok(http::get(&format!("{}{path}", self.http_url()))
            .source_ip(source)
            .send()?
            .status)
    }

    /// The temp folder of this instance (config, log, storage).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    lifecycle_methods!("caddy");
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
