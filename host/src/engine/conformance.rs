//! The conformance suite of a product's adapter: the scenarios in
//! `products/<name>/tests/*.yaml`, each one hook call replayed offline
//! from a cassette and checked against what it must return.
//!
//! ```yaml
//! meshroom_scenario: 1
//! name: setup points the logger at the consumer   # default: the file name
//! cassette: cassettes/setup.yaml   # relative to this file
//! # All optional; the defaults come from the cassette:
//! hook: caddy.logs.setup           # the hook id
//! context: {instance: {…}, plug: {…}}   # what the hook is called with
//! secrets: {admin_token: fake}     # what host.secret answers (default: a
//!                                  # fake value for each {{secret:NAME}})
//! params: {ip: 192.0.2.1}          # trigger / execute
//! records: ['{"a": 1}']            # produce
//! match: {order: any, ignore_headers: [x-trace], ignore_json: ['$.id']}
//! expect:                          # default: the result the cassette recorded
//!   outputs: {logger: meshroom}    # each key given must be equal
//!   check: {state: up}
//!   error: unauthorized            # the hook must fail, with this text
//! ```
//!
//! A scenario passes when the hook returns what `expect` says (every
//! field given is compared; others are free), every request matched a
//! recorded one, and every recorded request was made.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use meshroom_cassette::{Cassette, Deck, MatchRules};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::project::{Instance, Product, Project};
use crate::runtime::{Adapter, CallPolicy, HookContext, HookKind};

use super::egress::egress_of;

/// The version of the scenario format.
pub const SCENARIO_VERSION: u32 = 1;

/// A scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The format version ([`SCENARIO_VERSION`]).
    pub meshroom_scenario: u32,
    /// What it proves (default: the file name).
    #[serde(default)]
    pub name: Option<String>,
    /// The cassette, relative to the scenario file.
    pub cassette: PathBuf,
    /// The hook id (default: the cassette's).
    #[serde(default)]
    pub hook: Option<String>,
    /// The hook's context (default: the cassette's).
    #[serde(default)]
    pub context: Option<Value>,
    /// What `host.secret` answers.
    #[serde(default)]
    pub secrets: Option<Map<String, Value>>,
    /// Trigger / execute params (default: the recorded ones).
    #[serde(default)]
    pub params: Option<Value>,
    /// The produce batch (default: the recorded one).
    #[serde(default)]
    pub records: Vec<String>,
    /// How requests match recorded ones.
    #[serde(default, rename = "match")]
    pub rules: MatchRules,
    /// What the hook must return (default: what the cassette recorded).
    #[serde(default)]
    pub expect: Option<Value>,
}

/// How one scenario ended.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// The product.
    pub product: String,
    /// The scenario's name.
    pub scenario: String,
    /// Its file.
    pub file: PathBuf,
    /// Passed or not.
    pub passed: bool,
    /// Why it failed (empty when it passed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// A note that does not fail it (a cassette of another adapter build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Wall time of the scenario, milliseconds.
    pub millis: f64,
}

/// The scenario files of `product`, sorted.
pub fn scenarios_of(product: &Product) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(product.dir.join("tests")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// Runs one scenario of `product` with `adapter`, offline.
pub async fn run_scenario(
    project: &Project,
    product: &Product,
    adapter: &Adapter,
    file: &Path,
) -> ScenarioReport {
    let started = Instant::now();
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut report = ScenarioReport {
        product: product.name.clone(),
        scenario: stem,
        file: file.to_path_buf(),
        passed: false,
        message: String::new(),
        note: None,
        millis: 0.0,
    };
    match play(project, product, adapter, file, &mut report).await {
        Ok(()) => report.passed = true,
        Err(message) => report.message = message,
    }
    report.millis = started.elapsed().as_secs_f64() * 1e3;
    report
}

async fn play(
    project: &Project,
    product: &Product,
    adapter: &Adapter,
    file: &Path,
    report: &mut ScenarioReport,
) -> Result<(), String> {
    let scenario = load_scenario(file)?;
    if let Some(name) = &scenario.name {
        report.scenario = name.clone();
    }
    let cassette_path = file
        .parent()
        .unwrap_or(Path::new("."))
        .join(&scenario.cassette);
    let cassette = Cassette::load(&cassette_path).map_err(|e| e.to_string())?;
    let hook = scenario.hook.clone().unwrap_or(cassette.call.hook.clone());
    let info = adapter
        .info()
        .hooks
        .iter()
        .find(|h| h.id == hook)
        .ok_or_else(|| format!("the adapter has no hook `{hook}`"))?;
    let kind = info.kind;
    let context: HookContext = serde_json::from_value(
        scenario
            .context
            .clone()
            .unwrap_or(cassette.call.context.clone()),
    )
    .map_err(|e| format!("{}: the context is not a hook context: {e}", file.display()))?;
    let secrets = scenario
        .secrets
        .clone()
        .unwrap_or_else(|| fake_secrets(&cassette, &cassette_path));
    let deck = Deck::replay_one(&cassette_path, &scenario.rules).map_err(|e| e.to_string())?;
    let policy =
        policy_of(project, &context, secrets)?.with_tape(deck.scoped(&[product.name.as_str()]));
    let recorded_input = &cassette.call.input;
    let params = scenario
        .params
        .clone()
        .unwrap_or_else(|| match recorded_input {
            Value::Object(_) => recorded_input.clone(),
            _ => json!({}),
        });
    let records: Vec<String> = if scenario.records.is_empty() {
        recorded_input
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        scenario.records.clone()
    };
    let result = call(adapter, &hook, kind, &context, (&params, &records), &policy).await;
    drop(policy);
    let used = deck.reports();
    report.note = used.iter().find_map(|r| r.other_adapter.clone());
    let expect = scenario
        .expect
        .clone()
        .or(cassette.result.clone())
        .unwrap_or(Value::Null);
    compare(result, &expect)?;
    if let Some(r) = used.iter().find(|r| !r.unused.is_empty()) {
        return Err(format!(
            "{} recorded request(s) were not made: {}",
            r.unused.len(),
            r.unused.join(", ")
        ));
    }
    Ok(())
}

fn load_scenario(file: &Path) -> Result<Scenario, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("failed to read `{}`: {e}", file.display()))?;
    let scenario: Scenario = serde_yaml_ng::from_str(&text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        format!("{}{at}: {e}", file.display())
    })?;
    if scenario.meshroom_scenario != SCENARIO_VERSION {
        return Err(format!(
            "{}: scenario format version {} is not supported (this meshroom reads version {SCENARIO_VERSION})",
            file.display(),
            scenario.meshroom_scenario
        ));
    }
    Ok(scenario)
}

/// A fake value for each secret the recorded call asked for, and each
/// `{{secret:NAME}}` of the cassette: any value does, since requests are
/// compared with secrets scrubbed.
fn fake_secrets(cassette: &Cassette, path: &Path) -> Map<String, Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let placeholders = text
        .split("{{secret:")
        .skip(1)
        .filter_map(|part| part.split("}}").next());
    cassette
        .call
        .secrets
        .iter()
        .map(String::as_str)
        .chain(placeholders)
        .map(|name| {
            (
                name.to_string(),
                Value::String(format!("fake-{name}-value")),
            )
        })
        .collect()
}

/// The policy of a replayed call: the product's egress templated from the
/// context's instance (and the plug's other end), the scenario's secrets.
fn policy_of(
    project: &Project,
    context: &HookContext,
    secrets: Map<String, Value>,
) -> Result<CallPolicy, String> {
    let mut policy = CallPolicy::deny_all().with_secrets(move |name: &str| {
        secrets.get(name).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    });
    let mut ends = Vec::new();
    if let Some(i) = &context.instance {
        ends.push(i.clone());
    }
    if let Some(p) = &context.plug {
        ends.push(p.src.clone());
        ends.push(p.dst.clone());
    }
    for end in ends {
        let Ok(end_product) = project.product(&end.product) else {
            // The other end's product need not be in the project.
            continue;
        };
        let mut instance = Instance::new(Path::new(""), &end.product, &end.name);
        if let Value::Object(settings) = &end.settings {
            instance.config.settings = settings.clone();
        }
        let settings = instance.effective_settings(&end_product.definition);
        let egress = egress_of(end_product, &instance, &settings).map_err(|e| e.to_string())?;
        policy.http.extend(egress.http);
        policy.sockets.extend(egress.sockets);
    }
    Ok(policy)
}

async fn call(
    adapter: &Adapter,
    hook: &str,
    kind: HookKind,
    ctx: &HookContext,
    (params, records): (&Value, &[String]),
    policy: &CallPolicy,
) -> Result<Value, String> {
    let fail = |e: crate::runtime::HookError| e.to_string();
    match kind {
        HookKind::Setup | HookKind::Teardown => {
            let outcome = if kind == HookKind::Setup {
                adapter.setup(hook, ctx, policy).await
            } else {
                adapter.teardown(hook, ctx, policy).await
            }
            .map_err(fail)?;
            Ok(outcome.summary())
        }
        HookKind::Check => {
            let r = adapter.check(hook, ctx, policy).await.map_err(fail)?;
            Ok(json!({ "check": r }))
        }
        HookKind::Produce => {
            let batch: Vec<Vec<u8>> = records.iter().map(|r| r.clone().into_bytes()).collect();
            let r = adapter
                .produce(hook, ctx, &batch, policy)
                .await
                .map_err(fail)?;
            Ok(json!({ "produce": r }))
        }
        HookKind::Trigger => {
            let r = adapter
                .trigger(hook, ctx, params, policy)
                .await
                .map_err(fail)?;
            Ok(json!({ "trigger": r }))
        }
        HookKind::Execute => {
            let r = adapter
                .execute(hook, ctx, params, policy)
                .await
                .map_err(fail)?;
            Ok(json!({ "execute": r }))
        }
        HookKind::Watch => {
            let mut watcher = adapter.watch(hook, ctx, policy).await.map_err(fail)?;
            let mut batches = Vec::new();
            // A replayed stream ends when the cassette runs out; a bound
            // keeps a misbehaving adapter from looping.
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                match watcher.next().await {
                    Ok(Some(batch)) => batches.push(batch),
                    Ok(None) => break,
                    Err(e) if batches.is_empty() => return Err(fail(e)),
                    // The recorded stream stopped here (the recording
                    // ended the watch); what came before is the result.
                    Err(_) => break,
                }
            }
            Ok(json!({ "watch": batches }))
        }
        other => Err(format!(
            "{other:?} hooks have no conformance scenarios (setup, teardown, check, produce, watch, trigger, execute do)"
        )),
    }
}

/// Compares what the hook did with `expect` (`{"error": text}`: it must
/// fail with that text).
fn compare(result: Result<Value, String>, expect: &Value) -> Result<(), String> {
    if let Some(Value::String(want)) = expect.get("error") {
        return match result {
            Ok(got) => Err(format!(
                "expected the hook to fail with `{want}`, it returned {got}"
            )),
            Err(e) if e.contains(want.as_str()) => Ok(()),
            Err(e) => Err(format!("expected an error with `{want}`, got: {e}")),
        };
    }
    let got = result?;
    let mut diffs = Vec::new();
    contains("$", expect, &got, &mut diffs);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!("unexpected result: {}", diffs.join("; ")))
    }
}

/// Every field `want` gives must be in `got`, equal (objects are compared
/// by the keys `want` has; anything else exactly).
fn contains(path: &str, want: &Value, got: &Value, diffs: &mut Vec<String>) {
    match (want, got) {
        (Value::Null, _) => {}
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}.{k}");
                match g.get(k) {
                    Some(gv) => contains(&p, wv, gv, diffs),
                    None => diffs.push(format!("{p}: expected {wv}, missing")),
                }
            }
        }
        (w, g) if w != g => diffs.push(format!("{path}: expected {w}, got {g}")),
        _ => {}
    }
}

/// Runs every scenario of the products named (all when empty), one
/// product's adapter loaded once.
pub async fn run_suite(
    project: &Project,
    session: &super::Session,
    products: &[String],
) -> anyhow::Result<Vec<ScenarioReport>> {
    let mut reports = Vec::new();
    for product in project.products() {
        if !products.is_empty() && !products.contains(&product.name) {
            continue;
        }
        let files = scenarios_of(product);
        if files.is_empty() {
            continue;
        }
        let adapter = match session.adapter(&product.name) {
            Ok(Some(a)) => a.clone(),
            Ok(None) => anyhow::bail!(
                "product `{}` has scenarios in {} but no adapter to test",
                product.name,
                product.dir.join("tests").display()
            ),
            Err(e) => return Err(e.into()),
        };
        for file in files {
            reports.push(run_scenario(project, product, &adapter, &file).await);
        }
    }
    Ok(reports)
}
