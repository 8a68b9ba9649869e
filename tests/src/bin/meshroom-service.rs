//! Starts harness services by hand or from a script, prints how to reach them,
//! then keeps them running until stdin closes (or a line is read):
//!
//! ```sh
//! cargo run -p meshroom-tests --bin meshroom-service -- caddy crowdsec
//! ```
//!
//! Output: one JSON object `{"caddy": {...}, "crowdsec": {...}}` on one line, or
//! with `--env` shell assignments (`CADDY_ADMIN_URL=…`, then
//! `MESHROOM_SERVICES_READY=1`) a script can `source`.
//! Services start in parallel. A script keeps them up by holding stdin open, e.g.
//! `mkfifo ctl; meshroom-service --env caddy <ctl >services.env & exec 3>ctl`, and
//! stops them with `exec 3>&-`. If this process is killed instead, the harness's
//! watchdog stops the services within seconds.
//! With `--abort` it aborts right after printing, which the tests use to prove a
//! service never outlives the process that started it.

use std::any::Any;
use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};
use meshroom_tests::{Caddy, CrowdSec, DockerRegistry, Rsyslog, Taxii};
use serde_json::{Map, Value, json};

const SERVICES: [&str; 6] = [
    "registry",
    "registry-auth",
    "rsyslog",
    "caddy",
    "crowdsec",
    "taxii",
];
const USAGE: &str = "usage: meshroom-service [--env] [--abort] registry|registry-auth|rsyslog|caddy|crowdsec|taxii…";

/// A started service: what to print about it, and the value keeping it alive.
type Started = (Value, Box<dyn Any + Send>);

fn start(name: &str) -> Result<Started> {
    Ok(match name {
        "registry" => {
            let s = DockerRegistry::start()?;
            let info =
                json!({"pid": s.pid(), "ports": [s.port()], "addr": s.addr(), "url": s.url()});
            (info, Box::new(s))
        }
        "registry-auth" => {
            let password = meshroom_tests::random_hex(12);
            let s = DockerRegistry::start_with_auth("meshroom", &password)?;
            let info = json!({"pid": s.pid(), "ports": [s.port()], "addr": s.addr(), "url": s.url(),
                              "user": "meshroom", "password": password});
            (info, Box::new(s))
        }
        "rsyslog" => {
            let s = Rsyslog::start()?;
            let info = json!({"pid": s.pid(), "ports": [s.port()], "addr": s.addr(),
                              "received_log": s.received_log()});
            (info, Box::new(s))
        }
        "caddy" => {
            let s = Caddy::start()?;
            let info = json!({"pid": s.pid(), "ports": [s.admin_port(), s.http_port()],
                              "admin_url": s.admin_url(), "http_url": s.http_url()});
            (info, Box::new(s))
        }
        "crowdsec" => {
            let s = CrowdSec::start()?;
            let info = json!({"pid": s.pid(), "ports": [s.port()], "url": s.url(),
                              "machine_id": s.machine_id(), "password": s.password(),
                              "bouncer_key": s.bouncer_key()});
            (info, Box::new(s))
        }
        "taxii" => {
            let s = Taxii::start()?;
            let info = json!({"pid": s.pid(), "ports": [s.port()], "url": s.url(),
                              "api_root": s.api_root(), "collection_id": s.collection_id(),
                              "user": s.user(), "password": s.password()});
            (info, Box::new(s))
        }
        other => bail!("unknown service `{other}`\n{USAGE}"),
    })
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let abort = args.iter().any(|a| a == "--abort");
    let env = args.iter().any(|a| a == "--env");
    let names: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    if names.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        bail!("{USAGE}");
    }
    if let Some(unknown) = names.iter().find(|n| !SERVICES.contains(n)) {
        bail!("unknown service `{unknown}`\n{USAGE}");
    }
    // Start in parallel; every started service stays alive in `guards` until main ends.
    let results: Vec<(&str, Result<Started>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|&name| (name, scope.spawn(move || start(name))))
            .collect();
        handles
            .into_iter()
            .map(|(name, h)| {
                let result = h
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("starting {name} panicked")));
                (name, result)
            })
            .collect()
    });
    let mut infos = Map::new();
    let mut guards = Vec::new();
    for (name, result) in results {
        let (info, guard) = result.with_context(|| format!("failed to start {name}"))?;
        infos.insert(name.to_string(), info);
        guards.push(guard);
    }
    // One write, so a script polling the output file never sees half of it.
    let mut out = String::new();
    if env {
        for (name, info) in &infos {
            for (key, value) in info.as_object().into_iter().flatten() {
                let value = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let var = format!("{name}_{key}").to_uppercase().replace('-', "_");
                out.push_str(&format!("{var}='{}'\n", value.replace('\'', r"'\''")));
            }
        }
        out.push_str("MESHROOM_SERVICES_READY=1\n");
    } else {
        out.push_str(&format!("{}\n", Value::Object(infos)));
    }
    let mut stdout = std::io::stdout();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    if abort {
        std::process::abort();
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    drop(guards);
    Ok(())
}
