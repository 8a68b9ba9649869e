//! meshroom adapter for the CrowdSec local API (LAPI, tested with 1.4.6).
//!
//! Two identities, both from the instance: the watcher (`machine_id` +
//! secret `password`, `POST /v1/watchers/login` → JWT sent as `Bearer`)
//! writes alerts and deletes decisions; the bouncer (secret `bouncer_key`,
//! sent as `X-Api-Key`) reads decisions.
//!
//! - execute `deny` (format ip): posts an alert carrying one ban decision
//!   (fresh `start_at`/`stop_at`: the decision expires at `stop_at` +
//!   duration) and returns the alert and decision ids.
//! - execute `allow` (format ip): `DELETE /v1/decisions?ip=…` (or
//!   `range=…`), never without a filter (that would delete every decision).
//! - a `deny` plug (trigger → crowdsec): setup checks the watcher can log in
//!   and records the scenario its bans carry; teardown deletes the decisions
//!   of that scenario, i.e. the ones the plug created.
//! - watch `decisions`: `/v1/decisions/stream` (`startup=true` first, then
//!   the deltas), one JSON object per decision with `status` new/deleted.
//! - watch `alerts`: the alerts, then each new one as it appears.
//!
//! LAPI refuses a watcher login without a `name/version` User-Agent, so
//! every request sends one.

use std::time::Duration;

use adapter_support::{About, ip_param, long_poll, now_rfc3339, parse_ip_or_cidr, query_escape};
use meshroom_sdk::http::{Request, Response};
use meshroom_sdk::{Adapter, Context, Error, Hook, Mode, Outcome, Result, Value, Watch, json, log};

struct CrowdSec;

impl Adapter for CrowdSec {
    const PRODUCT: &'static str = "crowdsec";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn hooks() -> Vec<Hook> {
        vec![
            Hook::execute("ban_ip", ban_ip)
                .executor()
                .topic("deny")
                .title("Ban an IP through the local API (alert + ban decision)"),
            Hook::execute("unban_ip", unban_ip)
                .executor()
                .topic("allow")
                .title("Delete the decisions on an IP"),
            Hook::setup("accept_deny", accept_deny)
                .executor()
                .topic("deny")
                .owns_both()
                .title("Check the watcher credentials and name the plug's ban scenario"),
            Hook::teardown("remove_plug_decisions", remove_plug_decisions)
                .executor()
                .topic("deny")
                .title("Delete the decisions this plug created"),
            Hook::watch("watch_decisions", watch_decisions)
                .producer()
                .topic("decisions")
                .mode(Mode::Pull)
                .title("Stream new and deleted decisions"),
            Hook::watch("watch_alerts", watch_alerts)
                .producer()
                .topic("alerts")
                .mode(Mode::Pull)
                .title("Read alerts, then each new one"),
        ]
    }
}

const USER_AGENT: &str = concat!("meshroom-crowdsec/", env!("CARGO_PKG_VERSION"));
/// How long one watch `next` call waits for news before returning an empty batch.
const WATCH_WAIT: Duration = Duration::from_secs(5);
const WATCH_POLL: Duration = Duration::from_millis(500);

/// The local API of the current instance.
#[derive(Clone)]
struct Lapi {
    url: String,
    what: String,
}

impl Lapi {
    fn of(ctx: &Context) -> Result<Self> {
        let url = ctx.setting_str("url")?.trim_end_matches('/').to_string();
        let what = format!("crowdsec local API at {url}");
        Ok(Lapi { url, what })
    }

    fn request(&self, method: &str, path: &str) -> Request {
        Request::new(method, format!("{}{path}", self.url)).header("user-agent", USER_AGENT)
    }

    fn send(&self, req: Request) -> Result<Response> {
        req.send().about(&self.what)
    }

    fn ok(&self, req: Request) -> Result<Response> {
        self.send(req)?.error_for_status().about(&self.what)
    }

    /// Logs the watcher in; returns its JWT.
    fn login(&self, ctx: &Context) -> Result<String> {
        let machine_id = ctx.setting_str("machine_id")?;
        let password = ctx.secret("password")?;
        let r = self.send(
            self.request("POST", "/v1/watchers/login")
                .json(&json!({"machine_id": machine_id, "password": password}))?,
        )?;
        if r.status == 401 || r.status == 403 {
            return Err(Error::Unauthorized(format!(
                "{}: watcher `{machine_id}` could not log in (status {}): check `machine_id` and the `password` secret \
                 (`cscli machines add {machine_id} --password …`)",
                self.what, r.status
            )));
        }
        let body: Value = r.error_for_status().about(&self.what)?.json()?;
        body.get("token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                Error::failed(format!(
                    "{}: the watcher login answered without a token",
                    self.what
                ))
            })
    }

    fn bouncer_key(ctx: &Context) -> Result<String> {
        ctx.secret("bouncer_key")
    }
}

/// What a ban targets: one IP or a range.
struct Target {
    scope: &'static str,
    value: String,
    /// The query filter that selects its decisions.
    filter: String,
}

fn target(params: &Value) -> Result<Target> {
    let (ip, prefix) = parse_ip_or_cidr(&ip_param(params)?)?;
    let full = if ip.is_ipv4() { 32 } else { 128 };
    Ok(if prefix == full {
        let value = ip.to_string();
        Target {
            scope: "Ip",
            filter: format!("ip={}", query_escape(&value)),
            value,
        }
    } else {
        let value = format!("{ip}/{prefix}");
        Target {
            scope: "Range",
            filter: format!("range={}", query_escape(&value)),
            value,
        }
    })
}

/// The scenario bans carry: per trigger instance on a plug, so teardown
/// finds exactly that plug's decisions.
fn scenario(ctx: &Context) -> String {
    match &ctx.plug {
        Some(plug) => format!("meshroom/deny/{}", plug.src.name),
        None => "meshroom/deny".to_string(),
    }
}

fn ban_ip(ctx: &Context, params: Value) -> Result<Value> {
    let lapi = Lapi::of(ctx)?;
    let target = target(&params)?;
    let duration = match params.get("duration").and_then(Value::as_str) {
        Some(d) => d.to_string(),
        None => ctx
            .instance()?
            .settings
            .get("ban_duration")
            .and_then(Value::as_str)
            .unwrap_or("4h")
            .to_string(),
    };
    if duration.is_empty()
        || !duration
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.')
    {
        return Err(Error::invalid_config(format!(
            "duration `{duration}` is not a Go duration such as 4h or 30m"
        )));
    }
    let scenario = scenario(ctx);
    let reason = params
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("denied by meshroom");
    let now = now_rfc3339();
    // All twelve top-level fields are required by LAPI's validation.
    let alert = json!([{
        "scenario": scenario,
        "scenario_hash": "",
        "scenario_version": "",
        "message": reason,
        "events_count": 1,
        "start_at": now,
        "stop_at": now,
        "capacity": 0,
        "leakspeed": "0",
        "simulated": false,
        "events": [],
        "source": {"scope": target.scope, "value": target.value},
        "decisions": [{
            "type": "ban",
            "scope": target.scope,
            "value": target.value,
            "duration": duration,
            "origin": "meshroom",
            "scenario": scenario,
        }],
    }]);
    let jwt = lapi.login(ctx)?;
    let alert_ids: Vec<String> = lapi
        .ok(lapi
            .request("POST", "/v1/alerts")
            .bearer(&jwt)
            .json(&alert)?)?
        .json()?;
    let mut decision_ids = Vec::new();
    for id in &alert_ids {
        if !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::failed(format!(
                "{}: unexpected alert id `{id}`",
                lapi.what
            )));
        }
        let created: Value = lapi
            .ok(lapi
                .request("GET", &format!("/v1/alerts/{id}"))
                .bearer(&jwt))?
            .json()?;
        if let Some(decisions) = created.get("decisions").and_then(Value::as_array) {
            decision_ids.extend(decisions.iter().filter_map(|d| d.get("id").cloned()));
        }
    }
    log::info(&format!(
        "crowdsec bans {} {} for {duration}",
        target.scope, target.value
    ));
    Ok(json!({
        "ip": target.value,
        "scope": target.scope,
        "duration": duration,
        "scenario": scenario,
        "alert_ids": alert_ids,
        "decision_ids": decision_ids,
    }))
}

fn unban_ip(ctx: &Context, params: Value) -> Result<Value> {
    let lapi = Lapi::of(ctx)?;
    let target = target(&params)?;
    let jwt = lapi.login(ctx)?;
    // Always with a filter: without one, LAPI deletes every decision.
    let answer: Value = lapi
        .ok(lapi
            .request("DELETE", &format!("/v1/decisions?{}", target.filter))
            .bearer(&jwt))?
        .json()?;
    let deleted = deleted_count(&answer);
    log::info(&format!(
        "crowdsec deleted {deleted} decision(s) on {}",
        target.value
    ));
    Ok(json!({"ip": target.value, "scope": target.scope, "deleted": deleted}))
}

/// `{"nbDeleted":"1"}` → 1.
fn deleted_count(answer: &Value) -> u64 {
    match answer.get("nbDeleted") {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

fn accept_deny(ctx: &Context) -> Result<Outcome> {
    let lapi = Lapi::of(ctx)?;
    lapi.login(ctx)?;
    Ok(Outcome::new().output("crowdsec_scenario", scenario(ctx)))
}

fn remove_plug_decisions(ctx: &Context) -> Result<Outcome> {
    let lapi = Lapi::of(ctx)?;
    let scenario = ctx
        .output("crowdsec_scenario")
        .and_then(Value::as_str)
        .map_or_else(|| scenario(ctx), str::to_string);
    let jwt = lapi.login(ctx)?;
    let alerts: Value = lapi
        .ok(lapi
            .request(
                "GET",
                &format!("/v1/alerts?scenario={}", query_escape(&scenario)),
            )
            .bearer(&jwt))?
        .json()?;
    let mut ids: Vec<u64> = alerts
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| {
            a.get("decisions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|d| d.get("id").and_then(Value::as_u64))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut deleted = 0;
    for id in &ids {
        let r = lapi.send(
            lapi.request("DELETE", &format!("/v1/decisions/{id}"))
                .bearer(&jwt),
        )?;
        // Already expired or deleted by someone else: nothing to undo.
        if r.status == 404 {
            continue;
        }
        deleted += deleted_count(&r.error_for_status().about(&lapi.what)?.json()?);
    }
    log::info(&format!(
        "crowdsec: deleted {deleted} decision(s) of scenario `{scenario}`"
    ));
    Ok(Outcome::new().clear_output("crowdsec_scenario"))
}

/// Streams decisions through `/v1/decisions/stream`.
struct DecisionStream {
    lapi: Lapi,
    key: String,
    started: bool,
}

impl DecisionStream {
    fn pull(&mut self) -> Result<Vec<String>> {
        let path = if self.started {
            "/v1/decisions/stream"
        } else {
            "/v1/decisions/stream?startup=true"
        };
        let r = self.lapi.send(
            self.lapi
                .request("GET", path)
                .header("x-api-key", &self.key),
        )?;
        if r.status == 401 || r.status == 403 {
            return Err(Error::Unauthorized(format!(
                "{}: the bouncer key was refused (status {}): check the `bouncer_key` secret (`cscli bouncers add NAME`)",
                self.lapi.what, r.status
            )));
        }
        let delta: Value = r.error_for_status().about(&self.lapi.what)?.json()?;
        self.started = true;
        let mut records = Vec::new();
        for status in ["new", "deleted"] {
            // "No decision" is `null`, not `[]`.
            for decision in delta
                .get(status)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let mut d = decision.clone();
                if let Some(obj) = d.as_object_mut() {
                    obj.insert("status".into(), json!(status));
                }
                records.push(d.to_string());
            }
        }
        Ok(records)
    }
}

impl Watch for DecisionStream {
    fn next(&mut self) -> Result<Option<Vec<String>>> {
        if !self.started {
            return self.pull().map(Some);
        }
        long_poll(WATCH_WAIT, WATCH_POLL, || self.pull()).map(Some)
    }
}

fn watch_decisions(ctx: &Context) -> Result<Box<dyn Watch>> {
    Ok(Box::new(DecisionStream {
        lapi: Lapi::of(ctx)?,
        key: Lapi::bouncer_key(ctx)?,
        started: false,
    }))
}

/// Reads alerts, remembering the highest id seen.
struct AlertReader {
    lapi: Lapi,
    ctx: Context,
    jwt: String,
    last_id: Option<u64>,
}

impl AlertReader {
    fn pull(&mut self) -> Result<Vec<String>> {
        let mut r = self
            .lapi
            .send(self.lapi.request("GET", "/v1/alerts").bearer(&self.jwt))?;
        if r.status == 401 {
            // The JWT lasts an hour: log in again once.
            self.jwt = self.lapi.login(&self.ctx)?;
            r = self
                .lapi
                .send(self.lapi.request("GET", "/v1/alerts").bearer(&self.jwt))?;
        }
        let alerts: Value = r.error_for_status().about(&self.lapi.what)?.json()?;
        let mut fresh: Vec<(u64, &Value)> = alerts
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("id").and_then(Value::as_u64).map(|id| (id, a)))
            .filter(|(id, _)| self.last_id.is_none_or(|last| *id > last))
            .collect();
        fresh.sort_by_key(|(id, _)| *id);
        let first_pull = self.last_id.is_none();
        if let Some((id, _)) = fresh.last() {
            self.last_id = Some(*id);
        } else if first_pull {
            self.last_id = Some(0);
        }
        Ok(fresh.into_iter().map(|(_, a)| a.to_string()).collect())
    }
}

impl Watch for AlertReader {
    fn next(&mut self) -> Result<Option<Vec<String>>> {
        if self.last_id.is_none() {
            return self.pull().map(Some);
        }
        long_poll(WATCH_WAIT, WATCH_POLL, || self.pull()).map(Some)
    }
}

fn watch_alerts(ctx: &Context) -> Result<Box<dyn Watch>> {
    let lapi = Lapi::of(ctx)?;
    let jwt = lapi.login(ctx)?;
    Ok(Box::new(AlertReader {
        lapi,
        ctx: ctx.clone(),
        jwt,
        last_id: None,
    }))
}

meshroom_sdk::export!(CrowdSec);
