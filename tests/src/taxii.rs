//! A TAXII 2.1 server: medallion 3.0.0 (from the venv `scripts/setup.sh` creates at
//! `$MESHROOM_VENV`, default `<workspace>/target/venv`) with its memory backend,
//! one API root and one readable, writable collection. Nothing persists across
//! restarts: a `restart()` brings back the empty collection (same id).
//!
//! Every request needs basic auth ([`Taxii::user`], [`Taxii::password`]) and
//! `Accept: application/taxii+json;version=2.1` ([`ACCEPT`]); POSTs of objects need
//! `Content-Type: application/taxii+json;version=2.1` and a Content-Length. Paths
//! end with a slash. Paging: medallion 3.0.0 answers 500 to `?next=…` unless
//! `limit=` is sent too (see [`Taxii::objects`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::json;
use tempfile::TempDir;

use crate::http;
use crate::process::{Launch, ServiceProcess, launch_with_retry};

/// The media type TAXII 2.1 requests accept and send.
pub const ACCEPT: &str = "application/taxii+json;version=2.1";
/// The name of the one API root.
const API_ROOT: &str = "meshroom";

/// A running medallion. Dropping it stops it and deletes its folder.
#[derive(Debug)]
pub struct Taxii {
    process: ServiceProcess,
    launch: Launch,
    port: u16,
    user: String,
    password: String,
    collection_id: String,
    dir: TempDir,
}

impl Taxii {
    /// Starts medallion on a free port.
    pub fn start() -> Result<Self> {
        let medallion = venv_dir().join("bin/medallion");
        if !medallion.is_file() {
            bail!(
                "medallion is not installed at `{}`: run `bash scripts/setup.sh` \
                 (or point MESHROOM_VENV at a venv with medallion==3.0.0)",
                medallion.display()
            );
        }
        let dir = crate::tempdir("taxii")?;
        let user = "meshroom".to_string();
        let password = crate::random_hex(12);
        let collection_id = crate::random_uuid();
        let config = dir.path().join("config.json");
        let data = dir.path().join("data.json");
        crate::write_file(
            &config,
            &json!({
                "backend": {
                    "module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend",
                    "filename": data,
                },
                "users": {user.as_str(): password.as_str()},
                "taxii": {"max_page_size": 100},
            })
            .to_string(),
        )?;
        let log = dir.path().join("medallion.log");
        let (launch, process, ports) = launch_with_retry("medallion", 1, |ports| {
            let port = ports[0];
            crate::write_file(&data, &data_json(port, &collection_id).to_string())?;
            let (medallion, config, log, user, password) = (
                medallion.clone(),
                config.clone(),
                log.clone(),
                user.clone(),
                password.clone(),
            );
            Ok(Launch::new(move || {
                let mut cmd = Command::new(&medallion);
                cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
                    .arg(&config)
                    .env("PYTHONUNBUFFERED", "1");
                let mut process = ServiceProcess::spawn("medallion", cmd, &log, &[])?;
                let discovery = format!("http://127.0.0.1:{port}/taxii2/");
                process.wait_ready(Duration::from_secs(20), |p| {
                    Ok(p.listens_on(port)?
                        && http::status_of(
                            http::get(&discovery)
                                .basic_auth(&user, &password)
                                .header("Accept", ACCEPT)
                                .timeout(Duration::from_millis(500)),
                        ) == Some(200))
                })?;
                Ok(process)
            }))
        })?;
        let port = ports[0];
        Ok(Self {
            process,
            launch,
            port,
            user,
            password,
            collection_id,
            dir,
        })
    }

    /// `http://127.0.0.1:PORT`, the server's base URL (discovery is `/taxii2/`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The API root's URL, `http://127.0.0.1:PORT/meshroom/`.
    pub fn api_root(&self) -> String {
        format!("{}/{API_ROOT}/", self.url())
    }

    /// The writable collection's id.
    pub fn collection_id(&self) -> &str {
        &self.collection_id
    }

    /// The collection's objects endpoint, `…/collections/<id>/objects/`.
    pub fn objects_url(&self) -> String {
        format!(
            "{}collections/{}/objects/",
            self.api_root(),
            self.collection_id
        )
    }

    /// Every object in the collection (all pages), as the server returns them.
    pub fn objects(&self) -> Result<Vec<serde_json::Value>> {
        let mut objects = Vec::new();
        let mut next: Option<String> = None;
        loop {
            // medallion 3.0.0 answers 500 to `next=` without `limit=` (its memory
            // backend deletes a `limit` it assumes is there): always send both.
            let url = match &next {
                Some(token) => format!("{}?limit=100&next={token}", self.objects_url()),
                None => format!("{}?limit=100", self.objects_url()),
            };
            let response = http::get(&url)
                .basic_auth(&self.user, &self.password)
                .header("Accept", ACCEPT)
                .send()?;
            anyhow::ensure!(
                response.status == 200,
                "medallion answered {} to GET {url}: {}",
                response.status,
                response.text()
            );
            let page = response.json()?;
            if let Some(items) = page["objects"].as_array() {
                objects.extend(items.iter().cloned());
            }
            match (page["more"].as_bool(), page["next"].as_str()) {
                (Some(true), Some(token)) => next = Some(token.to_string()),
                _ => return Ok(objects),
            }
        }
    }

    /// Adds STIX 2.1 objects to the collection (one envelope), failing unless all
    /// were accepted.
    pub fn add_objects(&self, objects: &[serde_json::Value]) -> Result<()> {
        let url = self.objects_url();
        let envelope = json!({ "objects": objects });
        let response = http::post(&url)
            .basic_auth(&self.user, &self.password)
            .header("Accept", ACCEPT)
            .body(ACCEPT, envelope.to_string())
            .send()?;
        anyhow::ensure!(
            response.status == 202,
            "medallion answered {} to POST {url}: {}",
            response.status,
            response.text()
        );
        let status = response.json()?;
        anyhow::ensure!(
            status["success_count"].as_u64() == Some(objects.len() as u64),
            "medallion did not accept every object: {status}"
        );
        Ok(())
    }

    /// The basic-auth user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The basic-auth password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temp folder of this instance.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    lifecycle_methods!("medallion");
}

/// The venv holding medallion: `$MESHROOM_VENV`, else `<workspace>/target/venv`.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("MESHROOM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target/venv"))
}

fn data_json(port: u16, collection_id: &str) -> serde_json::Value {
    let root_url = format!("http://127.0.0.1:{port}/{API_ROOT}/");
    json!({
        "/discovery": {
            "title": "meshroom test TAXII server",
            "description": "Throwaway TAXII 2.1 server started by meshroom's tests",
            "contact": "meshroom tests",
            "default": root_url,
            "api_roots": [root_url],
        },
        API_ROOT: {
            "information": {
                "title": "meshroom test API root",
                "description": "One writable collection",
                "versions": [ACCEPT],
                "max_content_length": 10_485_760,
            },
            "status": [],
            "collections": [{
                "id": collection_id,
                "title": "meshroom test collection",
                "description": "Readable and writable by the test user",
                "can_read": true,
                "can_write": true,
                "media_types": ["application/stix+json;version=2.1"],
                "objects": [],
                "manifest": [],
            }],
        },
    })
}
