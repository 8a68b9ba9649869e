//! CrowdSec's local API (LAPI) alone (`-no-cs`: no log acquisition), with its own
//! config, sqlite database and logs in a temp folder and Prometheus off. Before it
//! starts, `cscli` registers a watcher machine (with a password) and a bouncer
//! (with an API key), the two identities the API knows:
//! watchers log in (`POST /v1/watchers/login` → JWT) to create alerts and delete
//! decisions; bouncers read decisions with `X-Api-Key`. The database survives a
//! `restart()`, so do the credentials and decisions.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use tempfile::TempDir;

use crate::http;
use crate::process::{Launch, ServiceProcess, find_binary, launch_with_retry, run_to_completion};

/// Debian's default profile: a 4 h ban for every alert on an IP that asks for remediation.
const PROFILES: &str = r#"name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
"#;

/// A running CrowdSec local API. Dropping it stops it and deletes its folder.
#[derive(Debug)]
pub struct CrowdSec {
    process: ServiceProcess,
    launch: Launch,
    port: u16,
    machine_id: String,
    password: String,
    bouncer_key: String,
    dir: TempDir,
}

impl CrowdSec {
    /// Starts the local API on a free port with a fresh watcher and bouncer.
    pub fn start() -> Result<Self> {
        let crowdsec = find_binary("crowdsec")?;
        let cscli = find_binary("cscli")?;
        let dir = crate::tempdir("crowdsec")?;
        let d = dir.path();
        for sub in ["data", "hub"] {
            std::fs::create_dir_all(d.join(sub))
                .with_context(|| format!("failed to create `{}`", d.join(sub).display()))?;
        }
        crate::write_file(&d.join("simulation.yaml"), "simulation: off\n")?;
        crate::write_file(&d.join("hub/.index.json"), "{}\n")?;
        crate::write_file(&d.join("profiles.yaml"), PROFILES)?;
        let config = d.join("config.yaml");
        let machine_id = "meshroom-tests".to_string();
        let password = crate::random_hex(16);
        let bouncer_key = crate::random_hex(16);

        let mut bouncer_added = false;
        let (launch, process, ports) = launch_with_retry("crowdsec", 1, |ports| {
            let port = ports[0];
            crate::write_file(&config, &config_text(d, port))?;
            // cscli writes the sqlite database directly: the API need not run yet.
            // The credentials file it writes carries the API's URL (from
            // listen_uri), so it is rewritten on every attempt.
            run_to_completion(
                Command::new(&cscli)
                    .arg("-c")
                    .arg(&config)
                    .args([
                        "machines",
                        "add",
                        &machine_id,
                        "--password",
                        &password,
                        "--force",
                        "-f",
                    ])
                    .arg(d.join("local_api_credentials.yaml")),
                "cscli machines add",
            )?;
            if !bouncer_added {
                run_to_completion(
                    Command::new(&cscli).arg("-c").arg(&config).args([
                        "bouncers",
                        "add",
                        "meshroom-tests-bouncer",
                        "-k",
                        &bouncer_key,
                    ]),
                    "cscli bouncers add",
                )?;
                bouncer_added = true;
            }
            let (crowdsec, config, d) = (crowdsec.clone(), config.clone(), d.to_path_buf());
            Ok(Launch::new(move || {
                let mut cmd = Command::new(&crowdsec);
                cmd.arg("-c").arg(&config).arg("-no-cs");
                let mut process = ServiceProcess::spawn(
                    "crowdsec",
                    cmd,
                    &d.join("crowdsec.out"),
                    &[d.join("crowdsec_api.log"), d.join("crowdsec.log")],
                )?;
                let decisions = format!("http://127.0.0.1:{port}/v1/decisions");
                // Without credentials the API answers 403: it is up and checking auth.
                process.wait_ready(Duration::from_secs(15), |p| {
                    Ok(p.listens_on(port)?
                        && http::status_of(
                            http::get(&decisions).timeout(Duration::from_millis(500)),
                        ) == Some(403))
                })?;
                Ok(process)
            }))
        })?;
        let port = ports[0];
        Ok(Self {
            process,
            launch,
            port,
            machine_id,
            password,
            bouncer_key,
            dir,
        })
    }

    /// `http://127.0.0.1:PORT`, the local API's base URL (paths start with `/v1/`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The API's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The watcher machine's id (for `POST /v1/watchers/login`).
    pub fn machine_id(&self) -> &str {
        &self.machine_id
    }

    /// The watcher machine's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The bouncer's API key (`X-Api-Key` header).
    pub fn bouncer_key(&self) -> &str {
        &self.bouncer_key
    }

    /// Logs the watcher in and returns its JWT.
    pub fn login(&self) -> Result<String> {
        let response = http::post(&format!("{}/v1/watchers/login", self.url()))
            .json(&serde_json::json!({"machine_id": self.machine_id, "password": self.password}))
            .send()?;
        anyhow::ensure!(
            response.status == 200,
            "crowdsec watcher login answered {}: {}",
            response.status,
            response.text()
        );
        response.json()?["token"]
            .as_str()
            .map(str::to_string)
            .context("crowdsec watcher login answered without a token")
    }

    /// The active decisions, all or for one IP, as the bouncer sees them
    /// (`GET /v1/decisions`; the API's `null` becomes an empty list).
    pub fn decisions(&self, ip: Option<&str>) -> Result<Vec<serde_json::Value>> {
        let url = match ip {
            Some(ip) => format!("{}/v1/decisions?ip={ip}", self.url()),
            None => format!("{}/v1/decisions", self.url()),
        };
        let response = http::get(&url)
            .header("X-Api-Key", &self.bouncer_key)
            .send()?;
        anyhow::ensure!(
            response.status == 200,
            "crowdsec answered {} to GET {url}: {}",
            response.status,
            response.text()
        );
        match response.json()? {
            serde_json::Value::Null => Ok(Vec::new()),
            serde_json::Value::Array(items) => Ok(items),
            other => anyhow::bail!("crowdsec answered GET {url} with {other}"),
        }
    }

    /// Bans an IP (an alert carrying one `ban` decision, origin `meshroom-tests`),
    /// e.g. to give a watch or pull hook something to read.
    pub fn ban(&self, ip: &str, duration: &str) -> Result<()> {
        let token = self.login()?;
        let now = crate::utc_now_rfc3339();
        let scenario = "meshroom-tests/ban";
        let alert = serde_json::json!([{
            "scenario": scenario, "scenario_hash": "", "scenario_version": "",
            "message": format!("test ban of {ip}"), "events_count": 1,
            "start_at": now, "stop_at": now, "capacity": 0, "leakspeed": "0",
            "simulated": false, "events": [],
            "source": {"scope": "Ip", "value": ip},
            "decisions": [{"type": "ban", "scope": "Ip", "value": ip, "duration": duration,
                           "origin": "meshroom-tests", "scenario": scenario}],
        }]);
        let url = format!("{}/v1/alerts", self.url());
        let response = http::post(&url).bearer(&token).json(&alert).send()?;
        anyhow::ensure!(
            response.status == 201,
            "crowdsec answered {} to POST {url}: {}",
            response.status,
            response.text()
        );
        Ok(())
    }

    /// Runs `cscli ARGS` against this instance (e.g. `["decisions", "list", "-o", "json"]`)
    /// and returns its stdout.
    pub fn cscli(&self, args: &[&str]) -> Result<String> {
        run_to_completion(
            Command::new(find_binary("cscli")?)
                .arg("-c")
                .arg(self.config_path())
                .args(args),
            &format!("cscli {}", args.join(" ")),
        )
    }

    /// The instance's `config.yaml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }

    /// The temp folder of this instance (config, database, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    lifecycle_methods!("crowdsec");
}

fn config_text(d: &Path, port: u16) -> String {
    let d = d.display();
    format!(
        r#"common:
  daemonize: false
  log_media: file
  log_level: info
  log_dir: {d}/
config_paths:
  config_dir: {d}/
  data_dir: {d}/data/
  simulation_path: {d}/simulation.yaml
  hub_dir: {d}/hub/
  index_path: {d}/hub/.index.json
db_config:
  type: sqlite
  db_path: {d}/data/crowdsec.db
  use_wal: true
api:
  client:
    credentials_path: {d}/local_api_credentials.yaml
  server:
    listen_uri: 127.0.0.1:{port}
    profiles_path: {d}/profiles.yaml
    trusted_ips: [127.0.0.1, "::1"]
prometheus:
  enabled: false
"#
    )
}
