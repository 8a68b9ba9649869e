//! meshroom adapter for Caddy 2, configured through its admin API
//! (the instance's `admin_url`; every call sends `Content-Type:
//! application/json`). The adapter only ever talks to Caddy: Caddy itself
//! connects to the log collector.
//!
//! - `events` (producer, push, JSON): setup adds a logger writing access logs
//!   as JSON lines to `tcp/<consumer address>` and points the server's
//!   `logs.default_logger_name` at it; it records the `@id`s it created.
//!   Teardown deletes exactly those (`DELETE /id/<@id>`); check reads them
//!   back (`GET /id/<@id>`). The setup owns both ends: the consumer (e.g.
//!   rsyslog) only has to listen.
//! - `deny` (executor, format ip): inserts a route answering 403 to the IP
//!   at `routes/0`, with an `@id` derived from the IP (checked first, since
//!   Caddy accepts duplicate ids silently). `allow` deletes that route.

use std::time::Duration;

use adapter_support::{About, ip_param, parse_ip_or_cidr, sleep};
use meshroom_sdk::http::{Request, Response};
use meshroom_sdk::{
    Adapter, CheckReport, Context, Error, Hook, Mode, Order, Outcome, Plug, PlugState, Result,
    Value, json, log,
};

struct Caddy;

/// Retries of a refused admin call, and the pause between them (~1 s in all).
const REFUSED_RETRIES: u32 = 20;
const REFUSED_PAUSE: Duration = Duration::from_millis(50);

impl Adapter for Caddy {
    const PRODUCT: &'static str = "caddy";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn hooks() -> Vec<Hook> {
        vec![
            Hook::setup("ship_access_logs", ship_access_logs)
                .producer()
                .topic("events")
                .mode(Mode::Push)
                .owns_both()
                .order(Order::First)
                .title("Ship Caddy's access logs as JSON over TCP to the consumer"),
            Hook::teardown("stop_access_logs", stop_access_logs)
                .producer()
                .topic("events")
                .mode(Mode::Push)
                .title("Remove the access-log logger and the server's logging"),
            Hook::check("check_access_logs", check_access_logs)
                .producer()
                .topic("events")
                .mode(Mode::Push)
                .title("Check the access-log logger is configured"),
            Hook::execute("deny_ip", deny_ip)
                .executor()
                .topic("deny")
                .title("Answer 403 to an IP (route at the top of the server)"),
            Hook::execute("allow_ip", allow_ip)
                .executor()
                .topic("allow")
                .title("Remove the 403 route of an IP"),
        ]
    }
}

/// The admin API of the current instance.
struct Admin {
    base: String,
    server: String,
}

impl Admin {
    fn of(ctx: &Context) -> Result<Self> {
        let instance = ctx.instance()?;
        let base = instance
            .setting_str("admin_url")?
            .trim_end_matches('/')
            .to_string();
        let server = match instance.settings.get("server") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => "srv0".to_string(),
        };
        if server.contains(['/', '?', '#']) {
            return Err(Error::invalid_config(format!(
                "setting `server` of instance `{}` must be a server name such as srv0, not `{server}`",
                instance.name
            )));
        }
        Ok(Admin { base, server })
    }

    fn what(&self) -> String {
        format!("caddy admin API at {}", self.base)
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Response> {
        let mut attempt = 0;
        loop {
            let mut req = Request::new(method, format!("{}{path}", self.base))
                .header("content-type", "application/json");
            if let Some(body) = body {
                req = req.json(body)?;
            }
            match req.send() {
                // Caddy restarts its admin endpoint after each config change:
                // a connection refused right then never reached it, so retry.
                Err(Error::Unreachable(m))
                    if m.contains("connection refused") && attempt < REFUSED_RETRIES =>
                {
                    attempt += 1;
                    sleep(REFUSED_PAUSE);
                }
                other => return other.about(&self.what()),
            }
        }
    }

    /// A 2xx answer, else an error naming Caddy, the URL and the status.
    fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Response> {
        self.send(method, path, body)?
            .error_for_status()
            .about(&self.what())
    }

    /// `GET /id/<id>`: the object, or `None` when Caddy has no such id.
    fn get_id(&self, id: &str) -> Result<Option<Value>> {
        let r = self.send("GET", &format!("/id/{id}"), None)?;
        if r.status == 404 {
            return Ok(None);
        }
        Ok(Some(r.error_for_status().about(&self.what())?.json()?))
    }

    /// `DELETE /id/<id>`: true if it existed.
    fn delete_id(&self, id: &str) -> Result<bool> {
        let r = self.send("DELETE", &format!("/id/{id}"), None)?;
        if r.status == 404 {
            return Ok(false);
        }
        r.error_for_status().about(&self.what())?;
        Ok(true)
    }

    /// `GET /config/<path>` of the configured server; an error listing the
    /// servers Caddy has when it has no such server.
    fn get_server_part(&self, part: &str) -> Result<Value> {
        let path = format!("/config/apps/http/servers/{}/{part}", self.server);
        let r = self.send("GET", &path, None)?;
        if r.status == 400 && r.text().contains("invalid traversal path") {
            return Err(self.no_such_server());
        }
        r.error_for_status().about(&self.what())?.json()
    }

    fn no_such_server(&self) -> Error {
        let servers = self
            .send("GET", "/config/apps/http/servers", None)
            .ok()
            .and_then(|r| r.json::<Value>().ok())
            .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()))
            .unwrap_or_default();
        Error::invalid_config(format!(
            "{}: caddy has no HTTP server `{}` (it has: {}): set the instance's `server` setting",
            self.what(),
            self.server,
            if servers.is_empty() {
                "none".to_string()
            } else {
                servers.join(", ")
            }
        ))
    }
}

/// Keeps ids and logger names to characters Caddy and URLs take as they are.
fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The names setup derives from the plug, so a re-run finds what it made.
struct LogNames {
    logger: String,
    logger_id: String,
    server_logs_id: String,
}

impl LogNames {
    fn of(plug: &Plug) -> Self {
        let logger = format!(
            "meshroom_{}_{}_{}",
            slug(&plug.src.name),
            slug(&plug.dst.name),
            slug(&plug.topic)
        );
        LogNames {
            logger_id: format!("{logger}_logger"),
            server_logs_id: format!("{logger}_server_logs"),
            logger,
        }
    }
}

/// The consumer's `address` setting (host:port), checked.
fn consumer_address(plug: &Plug) -> Result<String> {
    let dst = &plug.dst;
    let address = dst.settings.get("address").and_then(Value::as_str).ok_or_else(|| {
        Error::invalid_config(format!(
            "the consumer instance `{}` of `{}` has no `address` setting: Caddy ships access logs \
             over TCP to a host:port; set it with `meshroom configure {} {}`",
            dst.name, dst.product, dst.product, dst.name
        ))
    })?;
    let valid = address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
    if !valid {
        return Err(Error::invalid_config(format!(
            "the `address` setting of `{}` must be host:port (e.g. 127.0.0.1:514), not `{address}`",
            dst.name
        )));
    }
    Ok(address.to_string())
}

fn ship_access_logs(ctx: &Context) -> Result<Outcome> {
    let admin = Admin::of(ctx)?;
    let plug = ctx.plug()?;
    let address = consumer_address(plug)?;
    let names = LogNames::of(plug);

    // Which access logger the server emits to: ours, unless the operator
    // already configured the server's logging (then we only add a writer).
    let server_logs = admin.get_server_part("logs")?;
    let (include, created_server_logs) = match &server_logs {
        Value::Null => (format!("http.log.access.{}", names.logger), true),
        existing if existing.get("@id").and_then(Value::as_str) == Some(&names.server_logs_id) => {
            (format!("http.log.access.{}", names.logger), true)
        }
        existing => match existing.get("default_logger_name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => (format!("http.log.access.{name}"), false),
            _ => ("http.log.access".to_string(), false),
        },
    };

    let logger = json!({
        "@id": names.logger_id,
        "writer": {"output": "net", "address": format!("tcp/{address}"), "dial_timeout": "2s"},
        "encoder": {"format": "json"},
        "include": [include],
    });
    let logger_path = format!("/config/logging/logs/{}", names.logger);
    let existing = admin.ok("GET", &logger_path, None)?.json::<Value>()?;
    // PUT refuses an existing key; PATCH replaces it (a re-run after the
    // consumer moved).
    let method = if existing.is_null() { "PUT" } else { "PATCH" };
    let r = admin.send(method, &logger_path, Some(&logger))?;
    if r.status == 500 && r.text().contains("dial") {
        return Err(Error::Unreachable(format!(
            "{}: caddy could not connect to the consumer `{}` at tcp/{address} (is it listening?): {}",
            admin.what(),
            plug.dst.name,
            r.text().trim()
        )));
    }
    r.error_for_status().about(&admin.what())?;

    if created_server_logs && server_logs.is_null() {
        let logs = json!({"@id": names.server_logs_id, "default_logger_name": names.logger});
        let path = format!("/config/apps/http/servers/{}/logs", admin.server);
        if let Err(e) = admin.ok("PUT", &path, Some(&logs)) {
            // Leave nothing half-configured.
            let _ = admin.delete_id(&names.logger_id);
            return Err(e);
        }
    }
    log::info(&format!(
        "caddy server `{}` ships access logs to tcp/{address} (logger `{}`)",
        admin.server, names.logger
    ));
    let mut outcome = Outcome::new()
        .output("caddy_logger_id", names.logger_id.as_str())
        .output("caddy_logger_name", names.logger.as_str())
        .output("caddy_server", admin.server.as_str());
    if created_server_logs {
        outcome = outcome.output("caddy_server_logs_id", names.server_logs_id.as_str());
    }
    Ok(outcome)
}

/// The ids setup recorded (or, if the record is gone, the ones it derives).
fn recorded_ids(ctx: &Context) -> Result<(String, Option<String>)> {
    let plug = ctx.plug()?;
    let names = LogNames::of(plug);
    let logger_id = plug
        .output("caddy_logger_id")
        .and_then(Value::as_str)
        .map_or(names.logger_id, str::to_string);
    let server_logs_id = match plug.output("caddy_server_logs_id") {
        Some(v) => v.as_str().map(str::to_string),
        None if plug.output("caddy_logger_id").is_none() => Some(names.server_logs_id),
        None => None,
    };
    Ok((logger_id, server_logs_id))
}

fn stop_access_logs(ctx: &Context) -> Result<Outcome> {
    let admin = Admin::of(ctx)?;
    let (logger_id, server_logs_id) = recorded_ids(ctx)?;
    // The server's logging first, so it never names a missing logger.
    if let Some(id) = &server_logs_id
        && admin.delete_id(id)?
    {
        log::info(&format!("removed caddy object `{id}`"));
    }
    if admin.delete_id(&logger_id)? {
        log::info(&format!("removed caddy logger `{logger_id}`"));
    }
    Ok(Outcome::new()
        .clear_output("caddy_logger_id")
        .clear_output("caddy_logger_name")
        .clear_output("caddy_server_logs_id")
        .clear_output("caddy_server"))
}

fn check_access_logs(ctx: &Context) -> Result<CheckReport> {
    let admin = Admin::of(ctx)?;
    let plug = ctx.plug()?;
    let (logger_id, server_logs_id) = recorded_ids(ctx)?;
    let Some(logger) = admin.get_id(&logger_id)? else {
        return Ok(CheckReport::new(
            PlugState::Down,
            format!("caddy has no logger `{logger_id}`"),
        ));
    };
    if let Some(id) = &server_logs_id
        && admin.get_id(id)?.is_none()
    {
        return Ok(CheckReport::new(
            PlugState::Drifted,
            format!(
                "logger `{logger_id}` exists but the server's logging `{id}` is gone: no access log is emitted"
            ),
        ));
    }
    let target = logger
        .pointer("/writer/address")
        .and_then(Value::as_str)
        .unwrap_or("");
    let expected = format!("tcp/{}", consumer_address(plug)?);
    if target != expected {
        return Ok(CheckReport::new(
            PlugState::Drifted,
            format!("logger `{logger_id}` writes to `{target}`, expected `{expected}`"),
        ));
    }
    Ok(CheckReport::new(
        PlugState::Up,
        format!("logger `{logger_id}` ships access logs to {expected}"),
    ))
}

/// The route id a deny of `range` gets.
fn deny_route_id(range: &str) -> String {
    format!("meshroom_deny_{}", slug(range))
}

/// The IP param as a normalised `ip/prefix` range.
fn range_param(params: &Value) -> Result<String> {
    let (ip, prefix) = parse_ip_or_cidr(&ip_param(params)?)?;
    Ok(format!("{ip}/{prefix}"))
}

fn deny_ip(ctx: &Context, params: Value) -> Result<Value> {
    let admin = Admin::of(ctx)?;
    let range = range_param(&params)?;
    let id = deny_route_id(&range);
    if admin.get_id(&id)?.is_some() {
        return Ok(json!({"ip": range, "route_id": id, "created": false}));
    }
    let route = json!({
        "@id": id,
        "match": [{"remote_ip": {"ranges": [range]}}],
        "handle": [{"handler": "static_response", "status_code": 403, "body": "blocked by meshroom\n"}],
        "terminal": true,
    });
    let routes = admin.get_server_part("routes")?;
    let path = format!("/config/apps/http/servers/{}/routes", admin.server);
    if routes.is_null() {
        admin.ok("PUT", &path, Some(&json!([route])))?;
    } else {
        // PUT on an index inserts before it: first route, checked first.
        admin.ok("PUT", &format!("{path}/0"), Some(&route))?;
    }
    log::info(&format!(
        "caddy server `{}` now answers 403 to {range}",
        admin.server
    ));
    Ok(json!({"ip": range, "route_id": id, "created": true}))
}

fn allow_ip(ctx: &Context, params: Value) -> Result<Value> {
    let admin = Admin::of(ctx)?;
    let range = range_param(&params)?;
    let id = deny_route_id(&range);
    let removed = admin.delete_id(&id)?;
    Ok(json!({"ip": range, "route_id": id, "removed": removed}))
}

meshroom_sdk::export!(Caddy);
