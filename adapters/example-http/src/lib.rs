//! Example meshroom adapter for `example_http`, a product configured through
//! a small REST API at the instance's `url` setting:
//!
//! - setup (consumer, `events`): `POST {url}/webhooks` creates a webhook for
//!   the plug's producer; records the created `webhook_id` (output) and the
//!   webhook's `webhook_token` (secret output).
//! - teardown: `DELETE {url}/webhooks/{webhook_id}` with the token; an
//!   already-deleted webhook is fine (teardown is idempotent). With no
//!   `webhook_id` recorded (meshroom recovering a plug whose `up` was
//!   killed after the webhook was made, before its id was saved), it finds
//!   the plug's webhooks by source, consumer and topic and deletes them.
//! - check: `GET {url}/webhooks/{webhook_id}`.
//! - produce (producer, `events`): `POST {url}/events`, records one per line.
//! - watch (consumer, `events`): pages through `GET {url}/events?after=N`.
//! - trigger (`block_ip`): `POST {url}/commands`.
//! - execute (`block_ip`): answers locally with what it would run.
//! - scaffold, pull, publish: the vendor-workflow hooks, without network.
//! - produce (producer, `logs`): sends records as lines over TCP to the
//!   consumer instance's `address` setting (`host:port`).
//! - execute (`isolate_host`): always `not-supported` (this product cannot).
//!
//! Secrets: `api_key` (instance secret setting) authenticates every call.

use meshroom_sdk::http::Request;
use meshroom_sdk::{
    Adapter, CheckReport, Context, Error, File, Hook, Order, Outcome, PlugState, ProduceReport,
    ProductDefinition, Result, Value, Watch, json, log,
};

struct ExampleHttp;

impl Adapter for ExampleHttp {
    const PRODUCT: &'static str = "example_http";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn hooks() -> Vec<Hook> {
        vec![
            Hook::setup("create_webhook", create_webhook)
                .consumer()
                .topic("events")
                .order(Order::First)
                // The producer only has to post to the webhook: this side
                // sets up both ends of the plug.
                .owns_both()
                .title("Create a webhook receiving the producer's events"),
            Hook::teardown("delete_webhook", delete_webhook)
                .consumer()
                .topic("events")
                .title("Delete the webhook"),
            Hook::check("check_webhook", check_webhook)
                .consumer()
                .topic("events")
                .title("Check the webhook exists"),
            Hook::produce("send_events", send_events)
                .producer()
                .topic("events")
                .title("Send events to the collector"),
            Hook::watch("watch_events", watch_events)
                .consumer()
                .topic("events")
                .title("Page through received events"),
            Hook::trigger("block_ip", block_ip)
                .trigger_role()
                .topic("block_ip")
                .title("Ask the product to block an IP"),
            Hook::execute("explain_block", explain_block)
                .executor()
                .topic("block_ip")
                .title("Describe the block command"),
            Hook::produce("send_lines", send_lines)
                .producer()
                .topic("logs")
                .title("Send records as lines over TCP to the consumer"),
            Hook::execute("isolate_host", isolate_host)
                .executor()
                .topic("isolate_host")
                .title("Isolate a host (not supported by this product)"),
            Hook::scaffold("integration_readme", integration_readme)
                .title("Write the integration's README"),
            Hook::pull("catalog", catalog).title("Import the partner catalog"),
            Hook::publish("submit", submit).title("Submit the integration"),
        ]
    }
}

fn auth(ctx: &Context) -> Result<String> {
    ctx.secret("api_key")
}

fn create_webhook(ctx: &Context) -> Result<Outcome> {
    let url = ctx.setting_str("url")?;
    let plug = ctx.plug()?;
    let body = json!({
        "topic": plug.topic,
        "source": plug.src.name,
        "source_product": plug.src.product,
        "consumer": plug.dst.name,
        "format": plug.format,
    });
    let created: Value = Request::post(format!("{url}/webhooks"))
        .bearer(&auth(ctx)?)
        .json(&body)?
        .send()?
        .error_for_status()?
        .json()?;
    let id = created
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::failed("the API answered without a webhook `id`"))?;
    log::info(&format!("webhook {id} created"));
    let mut outcome = Outcome::new().output("webhook_id", id);
    if let Some(token) = created.get("token").and_then(Value::as_str) {
        outcome = outcome.secret("webhook_token", token);
    }
    Ok(outcome)
}

fn delete_webhook(ctx: &Context) -> Result<Outcome> {
    let url = ctx.setting_str("url")?;
    let ids = match ctx.output("webhook_id").and_then(Value::as_str) {
        Some(id) => vec![id.to_string()],
        None => webhooks_of_plug(ctx, url)?,
    };
    for id in ids {
        let mut req = Request::delete(format!("{url}/webhooks/{id}")).bearer(&auth(ctx)?);
        if let Some(token) = meshroom_sdk::secret("webhook_token") {
            req = req.header("x-webhook-token", token);
        }
        let resp = req.send()?;
        if resp.status != 404 {
            resp.error_for_status()?;
        }
        log::info(&format!("webhook {id} deleted"));
    }
    Ok(Outcome::new().clear_output("webhook_id"))
}

/// The ids of the webhooks made for this plug (its ends and topic), for a
/// teardown that has no id recorded.
fn webhooks_of_plug(ctx: &Context, url: &str) -> Result<Vec<String>> {
    let plug = ctx.plug()?;
    let found: Value = Request::get(format!(
        "{url}/webhooks?source={}&consumer={}&topic={}",
        plug.src.name, plug.dst.name, plug.topic
    ))
    .bearer(&auth(ctx)?)
    .send()?
    .error_for_status()?
    .json()?;
    Ok(found
        .get("webhooks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|h| h.get("id").and_then(Value::as_str).map(String::from))
        .collect())
}

fn check_webhook(ctx: &Context) -> Result<CheckReport> {
    let url = ctx.setting_str("url")?;
    let Some(id) = ctx.output("webhook_id").and_then(Value::as_str) else {
        return Ok(CheckReport::new(PlugState::Down, "no webhook recorded"));
    };
    let resp = Request::get(format!("{url}/webhooks/{id}"))
        .bearer(&auth(ctx)?)
        .send()?;
    Ok(match resp.status {
        200 => {
            let found: Value = resp.json()?;
            let topic = ctx.plug()?.topic.as_str();
            if found.get("topic").and_then(Value::as_str) == Some(topic) {
                CheckReport::new(PlugState::Up, format!("webhook {id} present"))
            } else {
                CheckReport::new(
                    PlugState::Drifted,
                    format!("webhook {id} no longer on topic {topic}"),
                )
            }
        }
        404 => CheckReport::new(PlugState::Down, format!("webhook {id} is gone")),
        _ => {
            return Err(resp
                .error_for_status()
                .err()
                .unwrap_or_else(|| Error::failed("unexpected status")));
        }
    })
}

fn send_events(ctx: &Context, batch: Vec<Vec<u8>>) -> Result<ProduceReport> {
    let plug = ctx.plug()?;
    // The consumer's address: the producer sends to the other side.
    let url = plug.dst.setting_str("url")?;
    let mut body = Vec::new();
    for record in &batch {
        body.extend_from_slice(record);
        body.push(b'\n');
    }
    let answer: Value = Request::post(format!("{url}/events"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()?
        .error_for_status()?
        .json()?;
    let accepted = answer.get("accepted").and_then(Value::as_u64).unwrap_or(0);
    Ok(ProduceReport {
        accepted: u32::try_from(accepted).unwrap_or(u32::MAX),
        detail: String::new(),
    })
}

fn send_lines(ctx: &Context, batch: Vec<Vec<u8>>) -> Result<ProduceReport> {
    let address = ctx.plug()?.dst.setting_str("address")?;
    let mut sender = meshroom_sdk::tcp::TcpLineSender::connect(address)?;
    let sent = sender.send_lines(&batch)?;
    sender.finish()?;
    Ok(ProduceReport {
        accepted: u32::try_from(sent).unwrap_or(u32::MAX),
        detail: format!("sent to {address}"),
    })
}

fn isolate_host(_ctx: &Context, _params: Value) -> Result<Value> {
    Err(Error::NotSupported(
        "example_http cannot isolate hosts".into(),
    ))
}

struct EventPager {
    url: String,
    token: String,
    after: u64,
}

impl Watch for EventPager {
    fn next(&mut self) -> Result<Option<Vec<String>>> {
        let page: Value = Request::get(format!("{}/events?after={}", self.url, self.after))
            .bearer(&self.token)
            .send()?
            .error_for_status()?
            .json()?;
        let records: Vec<String> = page
            .get("records")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|r| r.as_str().map_or_else(|| r.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if records.is_empty() {
            return Ok(None);
        }
        self.after += records.len() as u64;
        Ok(Some(records))
    }
}

fn watch_events(ctx: &Context) -> Result<Box<dyn Watch>> {
    Ok(Box::new(EventPager {
        url: ctx.setting_str("url")?.to_string(),
        token: auth(ctx)?,
        after: 0,
    }))
}

fn block_ip(ctx: &Context, params: Value) -> Result<Value> {
    let url = ctx.setting_str("url")?;
    let ip = params
        .get("ip")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_config("param `ip` is required, e.g. -p ip=10.0.0.1"))?;
    Request::post(format!("{url}/commands"))
        .bearer(&auth(ctx)?)
        .json(&json!({"action": "deny", "ip": ip, "duration": params.get("duration")}))?
        .send()?
        .error_for_status()?
        .json()
}

fn explain_block(ctx: &Context, params: Value) -> Result<Value> {
    Ok(json!({"instance": ctx.instance()?.name, "would_run": "deny", "params": params}))
}

fn integration_readme(ctx: &Context) -> Result<Vec<File>> {
    let i = ctx.integration()?;
    let text = format!(
        "# {} → {} ({})\n\nConfigured by the example_http adapter.\n",
        i.product, i.target_product, i.topic
    );
    Ok(vec![File {
        path: "README.md".into(),
        contents: text.into_bytes(),
    }])
}

fn catalog(_ctx: &Context) -> Result<Vec<ProductDefinition>> {
    Ok(vec![ProductDefinition {
        name: "example_partner".into(),
        definition: "name: example_partner\ndescription: A partner listed in the example catalog\nconsumes:\n  events:\n    - mode: push\n".into(),
    }])
}

fn submit(ctx: &Context) -> Result<String> {
    let i = ctx.integration()?;
    Ok(format!(
        "submitted {} → {} ({})",
        i.product, i.target_product, i.topic
    ))
}

meshroom_sdk::export!(ExampleHttp);
