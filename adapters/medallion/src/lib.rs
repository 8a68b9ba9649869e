//! meshroom adapter for TAXII 2.1 servers (tested with medallion 3.0).
//!
//! Every request sends HTTP basic auth (`username` + secret `password`) and
//! `Accept: application/taxii+json;version=2.1`; posts also send that
//! content type and a Content-Length (the server refuses chunked bodies).
//! Paths keep their trailing slash.
//!
//! - setup (`threats`, consumer/push or producer/pull): checks the
//!   collection exists and is writable (resp. readable) and records its id
//!   and API root. It owns both ends: the other side only calls TAXII.
//! - produce (consumer, `threats`): posts the batch as one STIX 2.1 bundle;
//!   each record is one STIX object (JSON) or a whole bundle.
//! - watch (`threats`): reads the collection's objects, oldest first,
//!   following `next` while the server has more, then only objects added
//!   after the last one seen (`added_after`).
//! - check: the collection is still there and still allows what the plug needs.

use std::time::Duration;

use adapter_support::{About, base64, long_poll, query_escape, uuid_v4};
use meshroom_sdk::http::{Request, Response};
use meshroom_sdk::{
    Adapter, CheckReport, Context, Error, Hook, Mode, Outcome, PlugState, ProduceReport, Result,
    Value, Watch, json, log,
};

struct Medallion;

impl Adapter for Medallion {
    const PRODUCT: &'static str = "medallion";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn hooks() -> Vec<Hook> {
        vec![
            Hook::setup("check_writable_collection", check_writable_collection)
                .consumer()
                .topic("threats")
                .mode(Mode::Push)
                .owns_both()
                .title("Check the TAXII collection exists and is writable"),
            Hook::setup("check_readable_collection", check_readable_collection)
                .producer()
                .topic("threats")
                .mode(Mode::Pull)
                .owns_both()
                .title("Check the TAXII collection exists and is readable"),
            Hook::teardown("forget_collection", forget_collection)
                .consumer()
                .topic("threats")
                .mode(Mode::Push)
                .title("Forget the recorded collection (TAXII objects stay)"),
            Hook::teardown("forget_read_collection", forget_collection)
                .producer()
                .topic("threats")
                .mode(Mode::Pull)
                .title("Forget the recorded collection"),
            Hook::check("check_collection", check_collection)
                .consumer()
                .topic("threats")
                .mode(Mode::Push)
                .title("Check the TAXII collection is still writable"),
            Hook::check("check_read_collection", check_collection)
                .producer()
                .topic("threats")
                .mode(Mode::Pull)
                .title("Check the TAXII collection is still readable"),
            Hook::produce("post_bundle", post_bundle)
                .consumer()
                .topic("threats")
                .title("Post the batch as a STIX 2.1 bundle"),
            Hook::watch("read_objects", read_objects)
                .consumer()
                .topic("threats")
                .title("Read the objects added to the collection"),
            Hook::watch("read_offered_objects", read_objects)
                .producer()
                .topic("threats")
                .title("Read the objects the collection offers"),
        ]
    }
}

const TAXII: &str = "application/taxii+json;version=2.1";
const PAGE: usize = 100;
/// How long one watch `next` call waits for new objects before returning
/// an empty batch.
const WATCH_WAIT: Duration = Duration::from_secs(5);
const WATCH_POLL: Duration = Duration::from_millis(500);

/// A collection on a TAXII server, with the credentials to reach it.
struct Collection {
    /// `http://host:port/<root>/collections/<id>/`.
    url: String,
    id: String,
    api_root: String,
    auth: String,
}

impl Collection {
    fn of(ctx: &Context) -> Result<Self> {
        let instance = ctx.instance()?;
        let server = instance
            .setting_str("url")?
            .trim_end_matches('/')
            .to_string();
        let id = instance.setting_str("collection_id")?.to_string();
        if id.is_empty() || id.contains(['/', '?', '#']) {
            return Err(Error::invalid_config(format!(
                "`{id}` is not a TAXII collection id"
            )));
        }
        let user = instance.setting_str("username")?;
        let password = ctx.secret("password")?;
        let auth = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
        let api_root = match instance.settings.get("api_root").and_then(Value::as_str) {
            Some(root) if root.starts_with("http://") || root.starts_with("https://") => {
                format!("{}/", root.trim_end_matches('/'))
            }
            Some(root) if !root.trim_matches('/').is_empty() => {
                format!("{server}/{}/", root.trim_matches('/'))
            }
            _ => default_api_root(&server, &auth)?,
        };
        Ok(Collection {
            url: format!("{api_root}collections/{id}/"),
            id,
            api_root,
            auth,
        })
    }

    fn what(&self) -> String {
        format!("TAXII collection {}", self.url)
    }

    fn get(&self, url: &str) -> Result<Response> {
        Request::get(url)
            .header("accept", TAXII)
            .header("authorization", &self.auth)
            .send()
            .about(&self.what())
    }

    /// The collection's description; `None` when the server does not know it.
    fn describe(&self) -> Result<Option<Value>> {
        let r = self.get(&self.url)?;
        if r.status == 404 {
            return Ok(None);
        }
        Ok(Some(r.error_for_status().about(&self.what())?.json()?))
    }

    /// The ids the API root does list, for error messages.
    fn known_ids(&self) -> String {
        let ids: Vec<String> = self
            .get(&format!("{}collections/", self.api_root))
            .ok()
            .and_then(|r| r.json::<Value>().ok())
            .and_then(|v| {
                v.get("collections").and_then(Value::as_array).map(|cs| {
                    cs.iter()
                        .filter_map(|c| c.get("id").and_then(Value::as_str).map(str::to_string))
                        .collect()
                })
            })
            .unwrap_or_default();
        if ids.is_empty() {
            "none".into()
        } else {
            ids.join(", ")
        }
    }

    /// Checks the collection exists and allows `access` (`can_write` / `can_read`).
    fn require(&self, access: &str) -> Result<Value> {
        let Some(found) = self.describe()? else {
            return Err(Error::invalid_config(format!(
                "{}: no collection `{}` at API root {} (it has: {}): set the instance's `collection_id`",
                self.what(),
                self.id,
                self.api_root,
                self.known_ids()
            )));
        };
        if found.get(access).and_then(Value::as_bool) != Some(true) {
            return Err(Error::Unauthorized(format!(
                "{}: the collection does not allow this user to {} (`{access}` is false)",
                self.what(),
                if access == "can_write" {
                    "write"
                } else {
                    "read"
                }
            )));
        }
        Ok(found)
    }
}

/// The server's default API root, from discovery (`GET /taxii2/`).
fn default_api_root(server: &str, auth: &str) -> Result<String> {
    let url = format!("{server}/taxii2/");
    let what = format!("TAXII discovery at {url}");
    let discovery: Value = Request::get(&url)
        .header("accept", TAXII)
        .header("authorization", auth)
        .send()
        .about(&what)?
        .error_for_status()
        .about(&what)?
        .json()?;
    let root = discovery
        .get("default")
        .and_then(Value::as_str)
        .or_else(|| {
            discovery
                .get("api_roots")
                .and_then(Value::as_array)?
                .first()?
                .as_str()
        })
        .ok_or_else(|| {
            Error::invalid_config(format!(
                "{what}: the server names no API root: set the instance's `api_root`"
            ))
        })?;
    // Discovery may list roots relative to the server.
    Ok(
        if root.starts_with("http://") || root.starts_with("https://") {
            format!("{}/", root.trim_end_matches('/'))
        } else {
            format!("{server}/{}/", root.trim_matches('/'))
        },
    )
}

fn recorded(c: &Collection) -> Outcome {
    Outcome::new()
        .output("taxii_collection_id", c.id.as_str())
        .output("taxii_api_root", c.api_root.as_str())
}

fn check_writable_collection(ctx: &Context) -> Result<Outcome> {
    let c = Collection::of(ctx)?;
    let found = c.require("can_write")?;
    let title = found.get("title").and_then(Value::as_str).unwrap_or("");
    log::info(&format!("{} (`{title}`) is writable", c.what()));
    Ok(recorded(&c))
}

fn check_readable_collection(ctx: &Context) -> Result<Outcome> {
    let c = Collection::of(ctx)?;
    c.require("can_read")?;
    Ok(recorded(&c))
}

fn forget_collection(_ctx: &Context) -> Result<Outcome> {
    Ok(Outcome::new()
        .clear_output("taxii_collection_id")
        .clear_output("taxii_api_root"))
}

fn check_collection(ctx: &Context) -> Result<CheckReport> {
    let c = Collection::of(ctx)?;
    let Some(found) = c.describe()? else {
        return Ok(CheckReport::new(
            PlugState::Down,
            format!("{}: no such collection", c.what()),
        ));
    };
    let me = &ctx.instance()?.name;
    // On a push plug into this instance, the plug needs to write.
    let writes = ctx
        .plug
        .as_ref()
        .is_some_and(|p| &p.dst.name == me && p.mode == Mode::Push);
    let access = if writes { "can_write" } else { "can_read" };
    if found.get(access).and_then(Value::as_bool) != Some(true) {
        return Ok(CheckReport::new(
            PlugState::Drifted,
            format!("{}: `{access}` is now false", c.what()),
        ));
    }
    if let Some(recorded) = ctx.output("taxii_collection_id").and_then(Value::as_str)
        && recorded != c.id
    {
        return Ok(CheckReport::new(
            PlugState::Drifted,
            format!(
                "set up with collection `{recorded}`, the instance now names `{}`",
                c.id
            ),
        ));
    }
    Ok(CheckReport::new(
        PlugState::Up,
        format!("{} allows {access}", c.what()),
    ))
}

/// The STIX objects of a batch: each record is one object or a bundle.
fn objects_of(batch: &[Vec<u8>]) -> Result<Vec<Value>> {
    let mut objects = Vec::new();
    for (i, record) in batch.iter().enumerate() {
        let n = i + 1;
        let value: Value = serde_json::from_slice(record).map_err(|e| {
            Error::invalid_config(format!(
                "record {n} is not JSON (expected a STIX 2.1 object or bundle): {e}"
            ))
        })?;
        match value.get("type").and_then(Value::as_str) {
            Some("bundle") => match value.get("objects") {
                Some(Value::Array(items)) => objects.extend(items.iter().cloned()),
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(Error::invalid_config(format!(
                        "record {n}: the bundle's `objects` is not a list"
                    )));
                }
            },
            Some(_) if value.get("id").and_then(Value::as_str).is_some() => objects.push(value),
            _ => {
                return Err(Error::invalid_config(format!(
                    "record {n} is not a STIX 2.1 object (it needs `type` and `id`) nor a bundle"
                )));
            }
        }
    }
    Ok(objects)
}

fn post_bundle(ctx: &Context, batch: Vec<Vec<u8>>) -> Result<ProduceReport> {
    let c = Collection::of(ctx)?;
    let objects = objects_of(&batch)?;
    if objects.is_empty() {
        return Ok(ProduceReport {
            accepted: 0,
            detail: "no STIX object in the batch: nothing posted".into(),
        });
    }
    let bundle =
        json!({"type": "bundle", "id": format!("bundle--{}", uuid_v4()), "objects": objects});
    let body = serde_json::to_vec(&bundle)?;
    let url = format!("{}objects/", c.url);
    let status: Value = Request::post(&url)
        .header("accept", TAXII)
        .header("authorization", &c.auth)
        .header("content-type", TAXII)
        .header("content-length", body.len().to_string())
        .body(body)
        .send()
        .about(&c.what())?
        .error_for_status()
        .about(&c.what())?
        .json()?;
    let count = |key: &str| status.get(key).and_then(Value::as_u64).unwrap_or(0);
    let (ok, failed, pending) = (
        count("success_count"),
        count("failure_count"),
        count("pending_count"),
    );
    let mut detail = format!(
        "posted {} object(s): {ok} accepted, {failed} failed, {pending} pending",
        objects.len()
    );
    if let Some(failures) = status
        .get("failures")
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
    {
        detail.push_str(&format!("; failures: {}", Value::Array(failures.clone())));
    }
    log::info(&format!("{}: {detail}", c.what()));
    Ok(ProduceReport {
        accepted: u32::try_from(ok).unwrap_or(u32::MAX),
        detail,
    })
}

/// Pages through the collection's objects.
struct ObjectReader {
    collection: Collection,
    /// `next` token while the server has more pages.
    next: Option<String>,
    /// Date the last object seen was added (`X-TAXII-Date-Added-Last`).
    added_after: Option<String>,
    started: bool,
}

impl ObjectReader {
    fn page(&mut self) -> Result<Vec<String>> {
        let mut url = format!("{}objects/?limit={PAGE}", self.collection.url);
        if let Some(next) = &self.next {
            url.push_str(&format!("&next={}", query_escape(next)));
        } else if let Some(after) = &self.added_after {
            url.push_str(&format!("&added_after={}", query_escape(after)));
        }
        let r = self
            .collection
            .get(&url)?
            .error_for_status()
            .about(&self.collection.what())?;
        self.started = true;
        if let Some(last) = r.header("x-taxii-date-added-last") {
            self.added_after = Some(String::from_utf8_lossy(last).into_owned());
        }
        let envelope: Value = if r.body.is_empty() {
            json!({})
        } else {
            r.json()?
        };
        let more = envelope.get("more").and_then(Value::as_bool) == Some(true);
        self.next = if more {
            envelope
                .get("next")
                .and_then(Value::as_str)
                .map(str::to_string)
        } else {
            None
        };
        Ok(envelope
            .get("objects")
            .and_then(Value::as_array)
            .map(|objects| objects.iter().map(Value::to_string).collect())
            .unwrap_or_default())
    }
}

impl Watch for ObjectReader {
    fn next(&mut self) -> Result<Option<Vec<String>>> {
        if !self.started || self.next.is_some() {
            return self.page().map(Some);
        }
        long_poll(WATCH_WAIT, WATCH_POLL, || self.page()).map(Some)
    }
}

fn read_objects(ctx: &Context) -> Result<Box<dyn Watch>> {
    let collection = Collection::of(ctx)?;
    collection.require("can_read")?;
    Ok(Box::new(ObjectReader {
        collection,
        next: None,
        added_after: None,
        started: false,
    }))
}

meshroom_sdk::export!(Medallion);
