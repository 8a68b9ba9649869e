//! Starts one harness service by hand and prints how to reach it as one JSON line,
//! then keeps it running until stdin closes (or Enter is pressed):
//! `cargo run -p meshroom-tests --bin meshroom-service -- caddy`.
//! With `--abort` it aborts right after printing, which the tests use to prove a
//! service never outlives the process that started it.

use std::io::{BufRead, Write};

use anyhow::{Result, bail};
use meshroom_tests::{Caddy, CrowdSec, DockerRegistry, Rsyslog, Taxii};
use serde_json::json;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let abort = args.iter().any(|a| a == "--abort");
    let Some(name) = args.iter().find(|a| !a.starts_with("--")) else {
        bail!(
            "usage: meshroom-service registry|registry-auth|rsyslog|caddy|crowdsec|taxii [--abort]"
        );
    };
    // Each arm keeps its service alive in `_guard` until the end of main.
    let (info, _guard): (serde_json::Value, Box<dyn std::any::Any>) = match name.as_str() {
        "registry" => {
            let s = DockerRegistry::start()?;
            (
                json!({"pid": s.pid(), "ports": [s.port()], "url": s.url()}),
                Box::new(s),
            )
        }
        "registry-auth" => {
            let s = DockerRegistry::start_with_auth("meshroom", "meshroom-password")?;
            (
                json!({"pid": s.pid(), "ports": [s.port()], "url": s.url(),
                       "user": "meshroom", "password": "meshroom-password"}),
                Box::new(s),
            )
        }
        "rsyslog" => {
            let s = Rsyslog::start()?;
            (
                json!({"pid": s.pid(), "ports": [s.port()], "addr": s.addr(),
                       "received_log": s.received_log()}),
                Box::new(s),
            )
        }
        "caddy" => {
            let s = Caddy::start()?;
            (
                json!({"pid": s.pid(), "ports": [s.admin_port(), s.http_port()],
                       "admin_url": s.admin_url(), "http_url": s.http_url()}),
                Box::new(s),
            )
        }
        "crowdsec" => {
            let s = CrowdSec::start()?;
            (
                json!({"pid": s.pid(), "ports": [s.port()], "url": s.url(),
                       "machine_id": s.machine_id(), "password": s.password(),
                       "bouncer_key": s.bouncer_key()}),
                Box::new(s),
            )
        }
        "taxii" => {
            let s = Taxii::start()?;
            (
                json!({"pid": s.pid(), "ports": [s.port()], "url": s.url(),
                       "api_root": s.api_root(), "collection_id": s.collection_id(),
                       "user": s.user(), "password": s.password()}),
                Box::new(s),
            )
        }
        other => bail!("unknown service `{other}`"),
    };
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{info}")?;
    stdout.flush()?;
    if abort {
        std::process::abort();
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(())
}
