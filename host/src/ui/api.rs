//! The dashboard's JSON API (GET only; documented in the README, section
//! `meshroom ui`, and at `GET /api`):
//!
//! | endpoint | answers |
//! |---|---|
//! | `GET /api/mesh` | products (with their instance counts), instances, plugs (id, ends, topic, mode, format, state: up, down, failed or drifted, and what runs on it now), recent runs |
//! | `GET /api/plug?id=PLUG` | one plug (`id` as `/api/mesh` gives it): its ends and products, topic, mode, format, owner, state, last error, recorded outputs, and the hooks `plan` (up), `plan --down` and `check` would run |
//! | `GET /api/capabilities` | products and the edges their capabilities allow (the model of `graph --capabilities`) |
//! | `GET /api/explain?src=P&dst=Q[&topic=T][&mode=M][&format=F]` | for each topic (given, or every topic of the two products), whether an instance of `P` could be plugged into one of `Q`, by which integrations, or the "why not" `plug` prints |
//! | `GET /api/events` | server-sent events: every [`RunEvent`] of a run on the project, as it happens (`event:` is its kind, `data:` its JSON); `lagged` when the page fell behind and should reload |
//!
//! Each request reads the project again (one `stat` per file through the
//! load cache), so the page shows what is on disk now. It must not write
//! the project, and it never serves a secret value: a recorded output whose
//! name looks secret is served by name only, and instance settings are not
//! served at all.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::live::{PlugLive, RunSeen};
use super::server::AppState;
use crate::engine::{Action, PlugPlan, RunEvent, Selection, Step, plan};
use crate::project::graph::{capability_graph, mesh_graph};
use crate::project::{HookIndex, Mode, PlugRequest, Project, ResolveError, SetupBy, looks_secret};

/// An API error: status and a one-line message, as JSON.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CACHE_CONTROL, "no-store")],
            Json(json!({"error": self.1})),
        )
            .into_response()
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// A JSON answer, never cached.
fn answer<T: Serialize>(value: &T) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(value)).into_response()
}

/// How long a request waits for its turn to read the project.
const WORK_WAIT: Duration = Duration::from_secs(10);

/// Reads the project (at most [`super::server::MAX_WORK`] at once), and
/// its hook index when `hooks`.
async fn load(state: &AppState, hooks: bool) -> Result<(Project, HookIndex), ApiError> {
    let _turn = tokio::time::timeout(WORK_WAIT, state.work.acquire())
        .await
        .map_err(|_| ApiError(StatusCode::SERVICE_UNAVAILABLE, "busy: try again".into()))?
        .map_err(internal)?;
    let root = state.root.clone();
    let project = tokio::task::spawn_blocking(move || Project::load(&root))
        .await
        .map_err(internal)?
        .map_err(internal)?;
    let mut index = HookIndex::new();
    if hooks {
        index = crate::engine::hook_index(&state.runtime, &project).await;
        index.extend(project.unbuilt_python_hooks().cloned());
    }
    Ok((project, index))
}

/// `GET /api`: the endpoints.
pub async fn index() -> Response {
    answer(&json!({
        "endpoints": {
            "/api/mesh": "products, instances, plugs with their state (up, down, failed, drifted), recent runs",
            "/api/plug?id=PLUG": "one plug: topic, mode, format, state, last error, recorded outputs (secret-looking ones by name only), the hooks plan/down/check would run",
            "/api/capabilities": "products and the edges their capabilities allow",
            "/api/explain?src=P&dst=Q[&topic=T][&mode=M][&format=F]": "whether instances of P and Q could be plugged, and why not",
            "/api/events": "server-sent events of runs (up, down, check) as they happen",
        }
    }))
}

#[derive(Debug, Serialize)]
struct ProductView {
    name: String,
    vendor: String,
    tags: Vec<String>,
    instances: usize,
}

#[derive(Debug, Serialize)]
struct InstanceView {
    id: String,
    product: String,
}

#[derive(Debug, Serialize)]
struct PlugView {
    id: String,
    src: String,
    dst: String,
    topic: String,
    mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    label: String,
    trigger: bool,
    /// up, down, failed, or drifted (its last check, seen live).
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    running: Option<Action>,
}

#[derive(Debug, Serialize)]
struct MeshView {
    products: Vec<ProductView>,
    instances: Vec<InstanceView>,
    plugs: Vec<PlugView>,
    runs: Vec<RunSeen>,
}

/// A plug's state as the dashboard shows it: drifted when its last check
/// (seen live) found drift, else its state in the project.
fn shown_state(state: &str, live: Option<&PlugLive>) -> String {
    match live.and_then(|l| l.drifted.as_ref()) {
        Some(_) if state == "up" => "drifted".into(),
        _ => state.to_string(),
    }
}

/// `GET /api/mesh`.
pub async fn mesh(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (project, _) = load(&state, false).await?;
    let (live, runs) = state.live.snapshot();
    let graph = mesh_graph(&project);
    let mut instances_of = std::collections::HashMap::<&str, usize>::new();
    for n in &graph.nodes {
        *instances_of.entry(n.group.as_str()).or_default() += 1;
    }
    let products = project
        .products()
        .iter()
        .map(|p| ProductView {
            name: p.name.clone(),
            vendor: p.definition.vendor.clone(),
            tags: p.definition.tags.clone(),
            instances: instances_of.get(p.name.as_str()).copied().unwrap_or(0),
        })
        .collect();
    let instances = graph
        .nodes
        .iter()
        .map(|n| InstanceView {
            id: n.id.clone(),
            product: n.group.clone(),
        })
        .collect();
    // The mesh graph has one edge per plug, in the project's order.
    let plugs = project
        .plugs()
        .iter()
        .zip(&graph.edges)
        .map(|(p, e)| {
            let id = p.to_string();
            let l = live.get(&id);
            PlugView {
                state: shown_state(&e.status, l),
                running: l.and_then(|l| l.running),
                src: e.from.clone(),
                dst: e.to.clone(),
                topic: p.topic.clone(),
                mode: p.mode,
                format: p.format.clone(),
                label: e.label.clone(),
                trigger: e.trigger,
                id,
            }
        })
        .collect();
    Ok(answer(&MeshView {
        products,
        instances,
        plugs,
        runs,
    }))
}

#[derive(Debug, Deserialize)]
pub struct PlugQuery {
    id: String,
}

#[derive(Debug, Serialize)]
struct OutputView {
    name: String,
    /// Absent when the name looks secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
}

#[derive(Debug, Serialize)]
struct PlanView {
    steps: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl From<PlugPlan> for PlanView {
    fn from(p: PlugPlan) -> Self {
        PlanView {
            steps: p.steps,
            skip: p.skip,
            error: p.error,
        }
    }
}

#[derive(Debug, Serialize)]
struct PlugDetail {
    id: String,
    src: String,
    dst: String,
    src_product: String,
    dst_product: String,
    topic: String,
    mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    trigger: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    status: &'static str,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    running: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    outputs: Vec<OutputView>,
    /// The hooks `plan` (up), `plan --down` and `check` would run.
    plan: std::collections::BTreeMap<&'static str, PlanView>,
}

/// `GET /api/plug?id=PLUG`.
pub async fn plug(
    State(state): State<AppState>,
    Query(q): Query<PlugQuery>,
) -> Result<Response, ApiError> {
    let (project, hooks) = load(&state, true).await?;
    let Some(p) = project.plugs().iter().find(|p| p.to_string() == q.id) else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no plug `{}` in the project", q.id),
        ));
    };
    let (src, dst) = project.plug_ends(p).map_err(internal)?;
    let live = state.live.plug(&q.id);
    let selection = Selection {
        instance: Some(p.src_instance.clone()),
        target: Some(p.dst_instance.clone()),
        topic: Some(p.topic.clone()),
        mode: Some(p.mode),
    };
    let mut plans = std::collections::BTreeMap::new();
    for (name, action) in [
        ("up", Action::Up),
        ("down", Action::Down),
        ("check", Action::Check),
    ] {
        let planned = plan(&project, &hooks, &selection, action, &|_| None, &|_| false);
        if let Some(pp) = planned.plugs.into_iter().find(|pp| pp.plug == q.id) {
            plans.insert(name, PlanView::from(pp));
        }
    }
    let outputs = p
        .settings
        .iter()
        .map(|(name, value)| OutputView {
            name: name.clone(),
            value: (!looks_secret(name)).then(|| value.clone()),
        })
        .collect();
    let status = p.state().as_str();
    Ok(answer(&PlugDetail {
        id: q.id.clone(),
        src: p.src_instance.clone(),
        dst: p.dst_instance.clone(),
        src_product: src.product.clone(),
        dst_product: dst.product.clone(),
        topic: p.topic.clone(),
        mode: p.mode,
        format: p.format.clone(),
        trigger: p.is_trigger(),
        owner: p.owner.as_ref().map(|o| o.to_string()),
        status: p.status.as_str(),
        state: shown_state(status, live.as_ref()),
        drift: live.as_ref().and_then(|l| l.drifted.clone()),
        running: live.as_ref().and_then(|l| l.running),
        step: live.as_ref().and_then(|l| l.step.clone()),
        last_error: p.last_error.clone(),
        outputs,
        plan: plans,
    }))
}

/// `GET /api/capabilities`.
pub async fn capabilities(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (project, hooks) = load(&state, true).await?;
    let graph = capability_graph(&project, &hooks);
    Ok(answer(&graph))
}

#[derive(Debug, Deserialize)]
pub struct ExplainQuery {
    src: String,
    dst: String,
    topic: Option<String>,
    mode: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Serialize)]
struct TopicAnswer {
    topic: String,
    pluggable: bool,
    /// Who would set it up: `each own side`, or the product that owns both.
    #[serde(skip_serializing_if = "Option::is_none")]
    setup_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<String>,
    /// `plug`'s refusal, word for word, when it cannot be plugged.
    #[serde(skip_serializing_if = "Option::is_none")]
    why_not: Option<String>,
}

/// Every topic of `src`'s and `dst`'s capabilities, in order of appearance.
fn topics_of(project: &Project, src: &str, dst: &str) -> Vec<String> {
    let mut topics: Vec<String> = Vec::new();
    for product in [src, dst] {
        let Some(p) = project.find_product(product) else {
            continue;
        };
        let d = &p.definition;
        for map in [&d.produces, &d.consumes, &d.triggers, &d.executes] {
            for topic in map.keys() {
                if !topics.contains(topic) {
                    topics.push(topic.clone());
                }
            }
        }
    }
    topics
}

/// `GET /api/explain?src=P&dst=Q[&topic=T][&mode=M][&format=F]`.
pub async fn explain(
    State(state): State<AppState>,
    Query(q): Query<ExplainQuery>,
) -> Result<Response, ApiError> {
    let mode = match q.mode.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => Some(m.parse::<Mode>().map_err(bad_request)?),
        None => None,
    };
    let (project, hooks) = load(&state, true).await?;
    for p in [&q.src, &q.dst] {
        project
            .product(p)
            .map_err(|e| ApiError(StatusCode::NOT_FOUND, e.to_string()))?;
    }
    let topics = match q.topic.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => vec![t.to_string()],
        None => topics_of(&project, &q.src, &q.dst),
    };
    let mut answers = Vec::new();
    for topic in topics {
        let request = PlugRequest {
            topic: topic.clone(),
            mode,
            format: q.format.clone().filter(|f| !f.is_empty()),
            ..PlugRequest::default()
        };
        let answer = match project.resolve_products(&hooks, &q.src, &q.dst, &request) {
            Ok(r) => TopicAnswer {
                topic,
                pluggable: true,
                setup_by: Some(match r.setup_by {
                    SetupBy::EachOwnSide => "each own side".into(),
                    SetupBy::Source => q.src.clone(),
                    SetupBy::Destination => q.dst.clone(),
                }),
                source: Some(r.source.to_string()),
                destination: Some(r.destination.to_string()),
                why_not: None,
            },
            Err(ResolveError::Refused(refusal)) => TopicAnswer {
                topic,
                pluggable: false,
                setup_by: None,
                source: None,
                destination: None,
                why_not: Some(refusal.to_string().trim_end().to_string()),
            },
            Err(ResolveError::Project(e)) => return Err(bad_request(e.to_string())),
        };
        answers.push(answer);
    }
    Ok(answer(&json!({
        "src": q.src,
        "dst": q.dst,
        "topics": answers,
    })))
}

/// `GET /api/events`: the run events, as server-sent events, while fewer
/// than [`super::server::MAX_STREAMS`] streams are open.
pub async fn events(State(state): State<AppState>) -> Response {
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        return ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many event streams open: close a dashboard tab".into(),
        )
        .into_response();
    };
    let receiver = state.live.subscribe();
    let stream = stream::unfold((receiver, permit), |(mut receiver, permit)| async move {
        let event = match receiver.recv().await {
            Ok(e) => to_sse(&e),
            Err(RecvError::Lagged(n)) => Event::default()
                .event("lagged")
                .data(format!("{{\"missed\":{n}}}")),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok::<_, Infallible>(event), (receiver, permit)))
    });
    sse(stream).into_response()
}

fn sse<S: Stream<Item = Result<Event, Infallible>> + Send + 'static>(s: S) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    )
}

/// One run event as a server-sent event (`event:` its kind).
fn to_sse(e: &RunEvent) -> Event {
    let kind = match e {
        RunEvent::RunStarted { .. } => "run_started",
        RunEvent::PlugStarted { .. } => "plug_started",
        RunEvent::StepStarted { .. } => "step_started",
        RunEvent::StepFinished { .. } => "step_finished",
        RunEvent::PlugFinished { .. } => "plug_finished",
        RunEvent::RunFinished { .. } => "run_finished",
    };
    let data = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    Event::default().event(kind).data(data)
}
