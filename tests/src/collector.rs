//! An in-process HTTP/1.1 server that records every request (method, path with
//! query, headers, body) and answers with a configurable reply: status, body,
//! headers and a delay. It stands in for a product's webhook or API when a test
//! exercises what meshroom or an adapter sends. Keep-alive, chunked request bodies
//! and `Expect: 100-continue` are handled.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::inproc::{InProcServer, set_busy_timeout, wait_for_data};

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target: path and query, e.g. `/v1/alerts?ip=1.2.3.4`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn body_json(&self) -> Result<serde_json::Value> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// What the collector answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Waited before answering (the request is recorded first).
    pub delay: Duration,
}

impl Default for Reply {
    /// `200` with the JSON body `{}`.
    fn default() -> Self {
        Self::status(200).json(&serde_json::json!({}))
    }
}

impl Reply {
    /// An empty reply with this status.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// A body with its content type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        self.headers
            .push(("Content-Type".into(), content_type.into()));
        self.body = body.into();
        self
    }

    /// A JSON body.
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.body("application/json", value.to_string())
    }

    /// An extra header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Answer only after this delay.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Computes a reply from the request, for APIs with several endpoints.
type Responder = Box<dyn Fn(&RecordedRequest) -> Reply + Send + Sync>;

#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    /// One-shot replies used, in order, before anything else.
    queued: VecDeque<Reply>,
    responder: Option<Responder>,
    default: Reply,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("requests", &self.requests.len())
            .field("queued", &self.queued.len())
            .field("responder", &self.responder.is_some())
            .finish()
    }
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    arrived: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running collector; dropping it stops it and frees its port.
#[derive(Debug)]
pub struct HttpCollector {
    shared: Arc<Shared>,
    server: InProcServer,
}

impl HttpCollector {
    /// Starts a collector answering `200 {}` to everything.
    pub fn start() -> Result<Self> {
        Self::start_with(Reply::default())
    }

    /// Starts a collector answering `reply` to everything.
    pub fn start_with(reply: Reply) -> Result<Self> {
        let shared = Arc::new(Shared::default());
        shared.lock().default = reply;
        let server = {
            let shared = Arc::clone(&shared);
            InProcServer::start("http-collector", move |stream, stop| {
                serve_connection(stream, stop, &shared)
            })?
        };
        Ok(Self { shared, server })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Changes the reply given from now on (after any queued ones).
    pub fn set_reply(&self, reply: Reply) {
        self.shared.lock().default = reply;
    }

    /// Answers with what `responder` computes from each request (after queued
    /// replies), e.g. a login endpoint and a data endpoint:
    /// `c.respond_with(|r| if r.path == "/login" { Reply::status(200) } else { Reply::status(401) })`.
    pub fn respond_with(
        &self,
        responder: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) {
        self.shared.lock().responder = Some(Box::new(responder));
    }

    /// Queues a one-shot reply: queued replies answer the next requests in order,
    /// then the default reply resumes (e.g. a 503 then success, to test retries).
    pub fn queue_reply(&self, reply: Reply) {
        self.shared.lock().queued.push_back(reply);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Waits until at least `n` requests arrived, returning all of them.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Result<Vec<RecordedRequest>> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.requests.len() < n {
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "the HTTP collector received {} request(s) in {timeout:?}, expected {n}: {:?}",
                    state.requests.len(),
                    state
                        .requests
                        .iter()
                        .map(|r| format!("{} {}", r.method, r.path))
                        .collect::<Vec<_>>()
                );
            }
            state = self
                .shared
                .arrived
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        Ok(state.requests.clone())
    }
}

fn serve_connection(stream: TcpStream, stop: &AtomicBool, shared: &Shared) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while wait_for_data(&mut reader, stop) {
        if !set_busy_timeout(&reader) {
            return;
        }
        let Ok((request, close)) = read_request(&mut reader, &mut writer) else {
            return;
        };
        let reply = {
            let mut state = shared.lock();
            let reply = match state.queued.pop_front() {
                Some(reply) => reply,
                None => match &state.responder {
                    Some(responder) => responder(&request),
                    None => state.default.clone(),
                },
            };
            state.requests.push(request);
            shared.arrived.notify_all();
            reply
        };
        let until = Instant::now() + reply.delay;
        while Instant::now() < until {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
        }
        if write_reply(&mut writer, &reply, close).is_err() || close {
            return;
        }
    }
}

/// Reads one request; the flag says whether the client asked to close after it.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> Result<(RecordedRequest, bool)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!("malformed request line `{}`", line.trim_end());
    };
    let (method, path) = (method.to_string(), path.to_string());
    let headers = crate::http::read_headers(reader)?;
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    if find("expect").as_deref() == Some("100-continue") {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        crate::http::read_chunked(reader)?
    } else if let Some(len) = find("content-length") {
        let mut body = vec![0; len.trim().parse()?];
        reader.read_exact(&mut body)?;
        body
    } else {
        Vec::new()
    };
    let close = match find("connection").as_deref() {
        Some(c) if c.contains("close") => true,
        Some(c) if c.contains("keep-alive") => false,
        _ => version == "HTTP/1.0",
    };
    Ok((
        RecordedRequest {
            method,
            path,
            headers,
            body,
        },
        close,
    ))
}

fn write_reply(writer: &mut TcpStream, reply: &Reply, close: bool) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\n",
        reply.status,
        reason(reply.status),
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    writer.write_all(&reply.body)?;
    writer.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
