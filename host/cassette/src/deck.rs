//! [`Deck`]: the tapes of one command, recording into a folder or
//! replaying from one.
//!
//! - Each hook call gets one cassette, named from the scope the caller
//!   gives (the instance, and the plug) and the hook:
//!   `<scope>/<kind>.<hook>.yaml`, then `.2.yaml`, `.3.yaml`… when the same
//!   hook runs again in the same command. The same command over the same
//!   project names the same files, so a replay finds what was recorded.
//! - A recording keeps the exchanges in memory and writes nothing until
//!   [`Deck::save`], when every secret the calls learnt is known (a
//!   response may hold a key that becomes a secret output only at the end
//!   of the call).
//! - A replay answers from the cassette of each call and never passes a
//!   request through; [`Deck::reports`] tells what each call used.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use meshroom_runtime::{Exchange, Tape, TapeCall, TapeDeck, TapeRequest, TapeResponse};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::CassetteError;
use crate::format::{
    AdapterStamp, BODIES_DIR, Body, CallStamp, Cassette, FORMAT_VERSION, HeaderValue, Interaction,
    Request, Response, cassettes_in,
};
use crate::matching::{MatchRules, Matcher, Order, Shape};
use crate::redact::Secrets;

/// The longest explanation of a miss handed to the hook's error.
const MAX_MISS: usize = 2048;

/// The tapes of one command.
#[derive(Clone)]
pub struct Deck {
    inner: Arc<DeckInner>,
}

struct DeckInner {
    dir: PathBuf,
    mode: Mode,
    /// Calls per cassette name, for naming repeats.
    counters: Mutex<HashMap<PathBuf, usize>>,
    /// Writes each recorded call's cassette as soon as the call ends (so
    /// the flushes overlap the run); joined by [`Deck::save`].
    writer: Mutex<Option<Writer>>,
    /// Recorded calls that ended after [`Deck::save`], written by the next.
    finished: Mutex<Vec<Finished>>,
    /// What each replayed call used.
    reports: Mutex<Vec<CallReport>>,
    /// Cassettes read for replay, by path.
    loaded: Mutex<HashMap<PathBuf, Result<Arc<Loaded>, String>>>,
}

/// The cassette writers of a recording.
struct Writer {
    tx: std::sync::mpsc::Sender<Finished>,
    threads: Vec<std::thread::JoinHandle<Vec<Result<PathBuf, CassetteError>>>>,
}

impl Writer {
    /// A few threads, so that each cassette's flush to disk overlaps the
    /// others'. They hold the folder, not the deck.
    fn start(dir: &Path) -> Writer {
        let (tx, rx) = std::sync::mpsc::channel::<Finished>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..3)
            .map(|_| {
                let (rx, dir) = (rx.clone(), dir.to_path_buf());
                std::thread::spawn(move || {
                    let mut written = Vec::new();
                    loop {
                        let next = lock(&rx).recv();
                        let Ok(call) = next else {
                            return written;
                        };
                        written.push(write_cassette(&dir, call));
                    }
                })
            })
            .collect();
        Writer { tx, threads }
    }
}

enum Mode {
    Record,
    Replay {
        matcher: Matcher,
        /// Every call plays this one cassette (`meshroom test`).
        one: Option<PathBuf>,
    },
}

/// What one replayed call used of its cassette.
#[derive(Debug, Clone)]
pub struct CallReport {
    /// The cassette.
    pub cassette: PathBuf,
    /// Whether it exists and loaded.
    pub loaded: bool,
    /// Requests answered from it.
    pub replayed: usize,
    /// The recorded requests never made, as `METHOD URL`.
    pub unused: Vec<String>,
    /// Requests nothing answered.
    pub misses: usize,
    /// Set when the cassette was recorded by another adapter build.
    pub other_adapter: Option<String>,
}

struct Finished {
    path: PathBuf,
    adapter: AdapterStamp,
    call: CallStamp,
    secrets: Secrets,
    exchanges: Vec<Exchange>,
    result: Option<Value>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Deck {
    /// A recording into `dir`. Refused when `dir` already holds cassettes,
    /// unless `force`.
    pub fn record(dir: &Path, force: bool) -> Result<Deck, CassetteError> {
        let existing = cassettes_in(dir).len();
        if existing > 0 && !force {
            return Err(CassetteError::Exists {
                dir: dir.to_path_buf(),
                count: existing,
            });
        }
        let deck = Self::new(dir, Mode::Record);
        *lock(&deck.inner.writer) = Some(Writer::start(dir));
        Ok(deck)
    }

    /// A replay from the cassettes in `dir`.
    pub fn replay(dir: &Path, rules: &MatchRules) -> Result<Deck, CassetteError> {
        let matcher = rules.compile()?;
        Ok(Self::new(dir, Mode::Replay { matcher, one: None }))
    }

    /// A replay where every call plays the cassette `path`.
    pub fn replay_one(path: &Path, rules: &MatchRules) -> Result<Deck, CassetteError> {
        let matcher = rules.compile()?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(Self::new(
            &dir,
            Mode::Replay {
                matcher,
                one: Some(path.to_path_buf()),
            },
        ))
    }

    fn new(dir: &Path, mode: Mode) -> Deck {
        Deck {
            inner: Arc::new(DeckInner {
                dir: dir.to_path_buf(),
                mode,
                counters: Mutex::default(),
                writer: Mutex::default(),
                finished: Mutex::default(),
                reports: Mutex::default(),
                loaded: Mutex::default(),
            }),
        }
    }

    /// True for a replay.
    pub fn replaying(&self) -> bool {
        matches!(self.inner.mode, Mode::Replay { .. })
    }

    /// The folder recorded into or replayed from.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The deck the calls of `scope` (path segments such as an instance
    /// and a plug) use.
    pub fn scoped<S: AsRef<str>>(&self, scope: &[S]) -> Arc<dyn TapeDeck> {
        Arc::new(Scoped {
            inner: self.inner.clone(),
            scope: scope.iter().map(|s| file_safe(s.as_ref())).collect(),
        })
    }

    /// Waits until the cassette of every recorded call is written
    /// (atomically, secrets scrubbed: each as soon as its call ended);
    /// returns their paths.
    pub fn save(&self) -> Result<Vec<PathBuf>, CassetteError> {
        let mut results = Vec::new();
        if let Some(writer) = lock(&self.inner.writer).take() {
            drop(writer.tx);
            for thread in writer.threads {
                match thread.join() {
                    Ok(written) => results.extend(written),
                    Err(_) => results.push(Err(CassetteError::Write {
                        path: self.inner.dir.clone(),
                        source: std::io::Error::other("a cassette writer panicked"),
                    })),
                }
            }
        }
        let late = std::mem::take(&mut *lock(&self.inner.finished));
        results.extend(late.into_iter().map(|c| write_cassette(&self.inner.dir, c)));
        let mut written = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        written.sort();
        Ok(written)
    }

    /// What each replayed call used of its cassette, in call order.
    pub fn reports(&self) -> Vec<CallReport> {
        lock(&self.inner.reports).clone()
    }
}

/// Writes the cassette of one recorded call below `dir`.
fn write_cassette(dir: &Path, call: Finished) -> Result<PathBuf, CassetteError> {
    let path = dir.join(&call.path);
    let mut secrets = call.secrets;
    learn_credentials(&mut secrets, &call.exchanges);
    let s = &secrets;
    let scrub_json = |v: &Value| -> Value {
        serde_json::from_str(&s.scrub(&v.to_string())).unwrap_or(Value::Null)
    };
    // Beside the cassette, where a replay of it looks.
    let bodies = path.parent().unwrap_or(dir).join(BODIES_DIR);
    let mut large = |bytes: &[u8]| -> Result<String, CassetteError> {
        let hex = hex::encode(Sha256::digest(bytes));
        let file = bodies.join(&hex);
        if !file.exists() {
            meshroom_fsutil::write_atomic(&file, bytes).map_err(|source| CassetteError::Write {
                path: file.clone(),
                source,
            })?;
        }
        Ok(format!("sha256:{hex}"))
    };
    let headers = |pairs: &[(String, String)]| {
        let mut map: indexmap::IndexMap<String, HeaderValue> = indexmap::IndexMap::new();
        for (name, value) in pairs {
            let value = s.scrub_header(name, value);
            match map.get_mut(name) {
                None => {
                    map.insert(name.clone(), HeaderValue::One(value));
                }
                Some(HeaderValue::One(first)) => {
                    let first = std::mem::take(first);
                    map.insert(name.clone(), HeaderValue::Many(vec![first, value]));
                }
                Some(HeaderValue::Many(values)) => values.push(value),
            }
        }
        map
    };
    let mut interactions = Vec::with_capacity(call.exchanges.len());
    for ex in &call.exchanges {
        interactions.push(Interaction {
            request: Request {
                method: ex.request.method.clone(),
                url: s.scrub(&ex.request.url),
                headers: headers(&ex.request.headers),
                body: Body::encode(&s.scrub_bytes(&ex.request.body), &mut large)?,
            },
            response: Response {
                status: ex.response.status,
                headers: headers(&ex.response.headers),
                body: Body::encode(&s.scrub_bytes(&ex.response.body), &mut large)?,
                duration_ms: ex.response.elapsed.as_millis() as u64,
            },
        });
    }
    let cassette = Cassette {
        meshroom_cassette: FORMAT_VERSION,
        adapter: call.adapter,
        call: CallStamp {
            context: scrub_json(&call.call.context),
            input: scrub_json(&call.call.input),
            ..call.call
        },
        result: call.result.as_ref().map(scrub_json),
        interactions,
    };
    let text = cassette.to_yaml();
    if let Some(name) = s.leaks(&text) {
        // Scrubbing is textual; a value split or re-encoded in a way it
        // does not see is refused rather than written.
        return Err(CassetteError::Write {
            path,
            source: std::io::Error::other(format!(
                "the value of the secret `{name}` would be written in an encoding the scrubber does not recognise; nothing was written"
            )),
        });
    }
    meshroom_fsutil::write_atomic(&path, text.as_bytes()).map_err(|source| {
        CassetteError::Write {
            path: path.clone(),
            source,
        }
    })?;
    Ok(path)
}

/// Credentials the adapter obtained during the call (a session token from
/// a login response, sent back in `Authorization`) are secrets too: each
/// value of a credential header, without its scheme, is scrubbed
/// everywhere as `{{secret:<header>}}`, the response that minted it
/// included.
fn learn_credentials(secrets: &mut Secrets, exchanges: &[Exchange]) {
    for ex in exchanges {
        for (name, value) in &ex.request.headers {
            if !crate::redact::is_credential_header(name) {
                continue;
            }
            let token = value
                .split_once(' ')
                .filter(|(scheme, _)| scheme.chars().all(|c| c.is_ascii_alphabetic()))
                .map_or(value.as_str(), |(_, token)| token);
            if token.len() >= 8 && !secrets.scrub(token).contains("{{secret:") {
                secrets.learn(name, token);
            }
        }
    }
}

/// The deck of one scope.
struct Scoped {
    inner: Arc<DeckInner>,
    scope: PathBuf,
}

impl TapeDeck for Scoped {
    fn open(&self, call: &TapeCall<'_>) -> Arc<dyn Tape> {
        let kind = serde_json::to_value(call.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{:?}", call.kind).to_lowercase());
        let base = self.scope.join(format!("{kind}.{}", file_safe(call.hook)));
        let n = {
            let mut counters = lock(&self.inner.counters);
            let n = counters.entry(base.clone()).or_insert(0);
            *n += 1;
            *n
        };
        // Appended, not `with_extension`: hook ids hold dots
        // (`module.function`).
        let name = if n == 1 {
            PathBuf::from(format!("{}.yaml", base.display()))
        } else {
            PathBuf::from(format!("{}.{n}.yaml", base.display()))
        };
        let adapter = AdapterStamp {
            product: call.product.to_string(),
            version: call.adapter_version.to_string(),
            digest: call.digest.to_string(),
        };
        let stamp = CallStamp {
            hook: call.hook.to_string(),
            kind,
            context: serde_json::to_value(call.context).unwrap_or(Value::Null),
            input: call.input.clone(),
            secrets: Vec::new(),
        };
        let replay = match &self.inner.mode {
            Mode::Record => None,
            Mode::Replay { one, .. } => {
                let path = one.clone().unwrap_or_else(|| self.inner.dir.join(&name));
                Some(Mutex::new(Replaying::open(
                    &self.inner,
                    path,
                    &adapter,
                    &stamp,
                )))
            }
        };
        Arc::new(CallTape {
            deck: self.inner.clone(),
            path: name,
            adapter,
            call: stamp,
            secrets: Mutex::default(),
            asked: Mutex::default(),
            exchanges: Mutex::default(),
            result: Mutex::default(),
            replay,
        })
    }
}

/// The tape of one call.
struct CallTape {
    deck: Arc<DeckInner>,
    path: PathBuf,
    adapter: AdapterStamp,
    call: CallStamp,
    secrets: Mutex<Secrets>,
    /// The names of the secrets the call asked for.
    asked: Mutex<Vec<String>>,
    exchanges: Mutex<Vec<Exchange>>,
    result: Mutex<Option<Value>>,
    replay: Option<Mutex<Replaying>>,
}

/// A replayed call's cassette and what it used.
struct Replaying {
    path: PathBuf,
    /// The cassette (its recorded requests, as compared, and responses),
    /// or why it cannot be played.
    recorded: Result<Arc<Loaded>, String>,
    used: Vec<bool>,
    misses: usize,
    other_adapter: Option<String>,
}

/// A cassette read for replay, kept by the deck so a cassette played by
/// many calls is read once.
struct Loaded {
    adapter: AdapterStamp,
    call: CallStamp,
    recorded: Vec<(Shape, Response)>,
}

fn load(path: &Path) -> Result<Loaded, String> {
    let c = match Cassette::load(path) {
        Err(CassetteError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Err(format!(
                "no cassette was recorded for this call (`{}`)",
                path.display()
            ));
        }
        Err(e) => return Err(e.to_string()),
        Ok(c) => c,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let recorded = c
        .interactions
        .into_iter()
        .map(|it| {
            let body = it.request.body.bytes(path, dir)?;
            let shape = Shape {
                method: it.request.method,
                url: it.request.url,
                headers: it
                    .request
                    .headers
                    .iter()
                    .flat_map(|(n, v)| v.values().into_iter().map(|v| (n.clone(), v.to_string())))
                    .collect(),
                body,
            };
            Ok((shape, it.response))
        })
        .collect::<Result<Vec<_>, CassetteError>>()
        .map_err(|e| e.to_string())?;
    Ok(Loaded {
        adapter: c.adapter,
        call: c.call,
        recorded,
    })
}

impl Replaying {
    fn open(
        deck: &DeckInner,
        path: PathBuf,
        adapter: &AdapterStamp,
        call: &CallStamp,
    ) -> Replaying {
        let loaded = lock(&deck.loaded)
            .entry(path.clone())
            .or_insert_with(|| load(&path).map(Arc::new))
            .clone();
        let mut other_adapter = None;
        let recorded = loaded.and_then(|c| {
            if c.call.hook != call.hook || c.call.kind != call.kind {
                return Err(format!(
                    "`{}` recorded the {} hook `{}`, not the {} hook `{}`",
                    path.display(),
                    c.call.kind,
                    c.call.hook,
                    call.kind,
                    call.hook
                ));
            }
            // An empty digest: written by hand, no build recorded it.
            if !c.adapter.digest.is_empty() && c.adapter.digest != adapter.digest {
                other_adapter = Some(format!(
                    "`{}` was recorded with {} adapter {} ({}), this is {} ({})",
                    path.display(),
                    c.adapter.product,
                    c.adapter.version,
                    short(&c.adapter.digest),
                    adapter.version,
                    short(&adapter.digest)
                ));
            }
            Ok(c)
        });
        let n = recorded.as_ref().map_or(0, |l| l.recorded.len());
        Replaying {
            path,
            recorded,
            used: vec![false; n],
            misses: 0,
            other_adapter,
        }
    }

    fn recorded(&self) -> Result<&[(Shape, Response)], &str> {
        match &self.recorded {
            Ok(l) => Ok(&l.recorded),
            Err(why) => Err(why),
        }
    }
}

fn short(digest: &str) -> &str {
    let end = digest.len().min("sha256:".len() + 12);
    &digest[..end]
}

impl Tape for CallTape {
    fn replaying(&self) -> bool {
        self.replay.is_some()
    }

    fn secret(&self, name: &str, value: &str) {
        lock(&self.secrets).learn(name, value);
        let mut asked = lock(&self.asked);
        if !asked.iter().any(|n| n == name) {
            asked.push(name.to_string());
        }
    }

    fn secret_output(&self, name: &str, value: &str) {
        lock(&self.secrets).learn(name, value);
    }

    fn record(&self, exchange: Exchange) {
        if self.replay.is_none() {
            lock(&self.exchanges).push(exchange);
        }
    }

    fn answer(&self, request: &TapeRequest) -> Result<TapeResponse, String> {
        let Some(replay) = &self.replay else {
            return Err("this call records; it does not replay".into());
        };
        let Mode::Replay { matcher, .. } = &self.deck.mode else {
            return Err("this call records; it does not replay".into());
        };
        let secrets = lock(&self.secrets);
        let live = Shape {
            method: request.method.clone(),
            url: secrets.scrub(&request.url),
            headers: request
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), secrets.scrub_header(n, v)))
                .collect(),
            body: secrets.scrub_bytes(&request.body),
        };
        let mut r = lock(replay);
        let outcome = match r.recorded() {
            Err(why) => Err(format!("{}: {why}", live.line())),
            Ok(recorded) => {
                let candidates: Vec<usize> = match matcher.order {
                    Order::InOrder => r.used.iter().position(|u| !u).into_iter().collect(),
                    Order::Any => (0..recorded.len()).filter(|i| !r.used[*i]).collect(),
                };
                let mut closest: Option<(usize, Vec<String>)> = None;
                let mut found = None;
                for i in candidates {
                    let diffs = matcher.differences(&recorded[i].0, &live);
                    if diffs.is_empty() {
                        found = Some(i);
                        break;
                    }
                    if closest.as_ref().is_none_or(|(_, d)| diffs.len() < d.len()) {
                        closest = Some((i, diffs));
                    }
                }
                match (found, closest) {
                    (Some(i), _) => Ok(i),
                    (None, Some((i, diffs))) => Err(format!(
                        "no recorded request matches {}; the closest is request {} of `{}` ({}): {}",
                        live.line(),
                        i + 1,
                        r.path.display(),
                        recorded[i].0.line(),
                        diffs.join("; ")
                    )),
                    (None, None) => Err(format!(
                        "{}: `{}` has no more recorded requests ({} replayed)",
                        live.line(),
                        r.path.display(),
                        recorded.len()
                    )),
                }
            }
        };
        match outcome {
            Ok(i) => {
                r.used[i] = true;
                let response = match r.recorded() {
                    Ok(recorded) => recorded[i].1.clone(),
                    Err(why) => return Err(why.to_string()),
                };
                let dir = r.path.parent().unwrap_or(Path::new("."));
                let body = response
                    .body
                    .bytes(&r.path, dir)
                    .map_err(|e| e.to_string())?;
                let body = match String::from_utf8(body) {
                    Ok(text) => secrets.unscrub(&text).into_bytes(),
                    Err(e) => e.into_bytes(),
                };
                Ok(TapeResponse {
                    status: response.status,
                    headers: response
                        .headers
                        .iter()
                        .flat_map(|(n, v)| {
                            v.values()
                                .into_iter()
                                .map(|v| (n.clone(), secrets.unscrub(v)))
                                .collect::<Vec<_>>()
                        })
                        .collect(),
                    body: body.into(),
                    elapsed: std::time::Duration::from_millis(response.duration_ms),
                })
            }
            Err(mut why) => {
                r.misses += 1;
                if let Some(note) = &r.other_adapter {
                    why.push_str(&format!(" ({note})"));
                }
                Err(meshroom_runtime::cut(&why, MAX_MISS).to_string())
            }
        }
    }

    fn result(&self, result: Value) {
        let mut slot = lock(&self.result);
        if self.call.kind != "watch" {
            *slot = Some(result);
            return;
        }
        // A watch gives one result per batch: they accumulate.
        let batch = result.get("watch").cloned().unwrap_or(Value::Null);
        let all = slot.get_or_insert_with(|| serde_json::json!({ "watch": [] }));
        if let Some(batches) = all["watch"].as_array_mut() {
            batches.push(batch);
        }
    }
}

impl Drop for CallTape {
    fn drop(&mut self) {
        if let Some(replay) = &self.replay {
            let r = lock(replay);
            let (loaded, unused) = match r.recorded() {
                Ok(recorded) => (
                    true,
                    recorded
                        .iter()
                        .zip(&r.used)
                        .filter(|(_, used)| !**used)
                        .map(|((shape, _), _)| shape.line())
                        .collect(),
                ),
                Err(_) => (false, Vec::new()),
            };
            let report = CallReport {
                cassette: r.path.clone(),
                loaded,
                replayed: r.used.iter().filter(|u| **u).count(),
                unused,
                misses: r.misses,
                other_adapter: r.other_adapter.clone(),
            };
            lock(&self.deck.reports).push(report);
            return;
        }
        let finished = Finished {
            path: std::mem::take(&mut self.path),
            adapter: self.adapter.clone(),
            call: CallStamp {
                secrets: std::mem::take(&mut *lock(&self.asked)),
                ..self.call.clone()
            },
            secrets: std::mem::take(&mut *lock(&self.secrets)),
            exchanges: std::mem::take(&mut *lock(&self.exchanges)),
            result: lock(&self.result).take(),
        };
        let unsent = match lock(&self.deck.writer).as_ref() {
            Some(writer) => writer.tx.send(finished).err().map(|e| e.0),
            None => Some(finished),
        };
        if let Some(finished) = unsent {
            lock(&self.deck.finished).push(finished);
        }
    }
}

/// A path segment from a name: letters, digits, `.`, `_`, `-`; anything
/// else becomes `_` (and a leading dot too, so no segment is `..`).
fn file_safe(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with('.') || s.is_empty() {
        s.insert(0, '_');
    }
    s
}
