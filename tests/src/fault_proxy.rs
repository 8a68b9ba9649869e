//! An in-process HTTP/1.1 proxy in front of a real service on 127.0.0.1 (the
//! [`DockerRegistry`](crate::DockerRegistry)) that breaks the answers it is told
//! to: a 500, a 429 with `Retry-After`, a connection closed mid-body, a body cut
//! short or padded, an answer held back. Everything else is passed through
//! unchanged, one upstream connection per request (`Connection: close` both ways).
//!
//! Faults are scripted per path fragment and count down: `fail("/blobs/", 2,
//! Fault::Status(500))` breaks the next two blob requests, then lets them through.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Shutdown, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::inproc::{InProcServer, set_busy_timeout, wait_for_data};

/// What the proxy does to a request that a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answers this status itself (a distribution-style JSON error), upstream untouched.
    Status(u16),
    /// Answers 429 itself, with `Retry-After: SECONDS`.
    TooManyRequests { retry_after_secs: u64 },
    /// Sends upstream's head and the first `bytes` of its body, then closes the
    /// connection (the head still announces the whole length).
    CloseAfter { bytes: usize },
    /// Serves upstream's body cut to `bytes`, with a `Content-Length` that matches:
    /// a well-formed answer with the wrong content.
    Truncate { bytes: usize },
    /// Serves upstream's body followed by `extra` spaces (JSON whitespace).
    Pad { extra: usize },
    /// Waits this long, then passes upstream's answer through.
    Delay(Duration),
}

/// One request seen by the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The fault applied to it, if any.
    pub fault: Option<Fault>,
}

#[derive(Debug)]
struct Rule {
    path_contains: String,
    remaining: usize,
    fault: Fault,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<ProxiedRequest>,
}

/// A running proxy. Dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    server: InProcServer,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 in front of `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16) -> Result<Self> {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let server = InProcServer::start("fault-proxy", move |stream, stop| {
            let _ = serve(stream, stop, upstream_port, &shared);
        })?;
        Ok(Self { server, state })
    }

    /// `127.0.0.1:PORT`, the host part of references that go through the proxy.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    /// Applies `fault` to the next `times` requests whose path contains `path_contains`
    /// (rules are tried in the order given; `usize::MAX` for every request).
    pub fn fail(&self, path_contains: &str, times: usize, fault: Fault) {
        lock(&self.state).rules.push(Rule {
            path_contains: path_contains.to_string(),
            remaining: times,
            fault,
        });
    }

    /// Removes every rule: requests pass through again.
    pub fn heal(&self) {
        lock(&self.state).rules.clear();
    }

    /// Every request seen so far, in order.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        lock(&self.state).seen.clone()
    }

    /// Forgets the requests seen so far.
    pub fn clear_requests(&self) {
        lock(&self.state).seen.clear();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A request or response head: its first line and headers.
struct Head {
    line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// The head as sent, with `Content-Length` replaced when given and `Connection: close`.
    fn encode(&self, content_length: Option<usize>) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.line);
        for (name, value) in &self.headers {
            let skip = name.eq_ignore_ascii_case("connection")
                || name.eq_ignore_ascii_case("keep-alive")
                || (content_length.is_some()
                    && (name.eq_ignore_ascii_case("content-length")
                        || name.eq_ignore_ascii_case("transfer-encoding")));
            if !skip {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        if let Some(length) = content_length {
            out.push_str(&format!("Content-Length: {length}\r\n"));
        }
        out.push_str("Connection: close\r\n\r\n");
        out.into_bytes()
    }
}

fn read_head(reader: &mut impl BufRead) -> Result<Head> {
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .context("failed to read a head")?;
    let line = line.trim_end().to_string();
    if line.is_empty() {
        bail!("empty head");
    }
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader
            .read_line(&mut header)
            .context("failed to read a header")?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok(Head { line, headers })
}

/// A body: `Content-Length` bytes, chunks (decoded), or everything up to EOF.
fn read_body(reader: &mut impl BufRead, head: &Head, to_eof: bool) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    if head
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .context("bad chunk size")?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = head.header("content-length") {
        let length: usize = length.parse().context("bad Content-Length")?;
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else if to_eof {
        reader.read_to_end(&mut body)?;
    }
    Ok(body)
}

fn serve(
    stream: TcpStream,
    stop: &AtomicBool,
    upstream_port: u16,
    state: &Mutex<State>,
) -> Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut client = stream;
    if !wait_for_data(&mut reader, stop) || !set_busy_timeout(&reader) {
        return Ok(());
    }
    let request = read_head(&mut reader)?;
    let body = read_body(&mut reader, &request, false)?;
    let mut parts = request.line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let fault = {
        let mut state = lock(state);
        let fault = state
            .rules
            .iter_mut()
            .find(|r| r.remaining > 0 && path.contains(&r.path_contains))
            .map(|rule| {
                rule.remaining -= 1;
                rule.fault.clone()
            });
        state.seen.push(ProxiedRequest {
            method: method.clone(),
            path: path.clone(),
            fault: fault.clone(),
        });
        fault
    };

    let answer_self = |client: &mut TcpStream, status: u16, extra: &str| -> Result<()> {
        let code = if status == 429 {
            "TOOMANYREQUESTS"
        } else {
            "UNAVAILABLE"
        };
        let body = format!(
            r#"{{"errors":[{{"code":"{code}","message":"injected by the test proxy","detail":null}}]}}"#
        );
        let head = format!(
            "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            body.len()
        );
        client.write_all(head.as_bytes())?;
        client.write_all(body.as_bytes())?;
        Ok(())
    };
    match fault {
        Some(Fault::Status(status)) => return answer_self(&mut client, status, ""),
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            return answer_self(
                &mut client,
                429,
                &format!("Retry-After: {retry_after_secs}\r\n"),
            );
        }
        _ => {}
    }

    let upstream = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream_port))
        .with_context(|| format!("fault proxy: cannot reach upstream 127.0.0.1:{upstream_port}"))?;
    upstream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let has_body = !body.is_empty() || matches!(method.as_str(), "POST" | "PUT" | "PATCH");
    (&upstream).write_all(&request.encode(has_body.then_some(body.len())))?;
    (&upstream).write_all(&body)?;
    let mut from_upstream = BufReader::new(upstream);
    let response = read_head(&mut from_upstream)?;
    let head_only = method == "HEAD"
        || response
            .line
            .split_whitespace()
            .nth(1)
            .is_some_and(|s| s == "204" || s == "304");
    let body = if head_only {
        Vec::new()
    } else {
        read_body(&mut from_upstream, &response, true)?
    };
    // A HEAD answer keeps the length it announces; any other is re-framed.
    let length = if head_only {
        response
            .header("content-length")
            .and_then(|l| l.parse().ok())
    } else {
        Some(body.len())
    };

    match fault {
        Some(Fault::CloseAfter { bytes }) => {
            client.write_all(&response.encode(Some(body.len())))?;
            client.write_all(&body[..bytes.min(body.len())])?;
            client.flush()?;
            let _ = client.shutdown(Shutdown::Both);
        }
        Some(Fault::Truncate { bytes }) => {
            let cut = &body[..bytes.min(body.len())];
            client.write_all(&response.encode(Some(cut.len())))?;
            client.write_all(cut)?;
        }
        Some(Fault::Pad { extra }) => {
            let mut padded = body;
            padded.resize(padded.len() + extra, b' ');
            client.write_all(&response.encode(Some(padded.len())))?;
            client.write_all(&padded)?;
        }
        Some(Fault::Delay(delay)) => {
            std::thread::sleep(delay);
            client.write_all(&response.encode(length))?;
            client.write_all(&body)?;
        }
        _ => {
            client.write_all(&response.encode(length))?;
            client.write_all(&body)?;
        }
    }
    client.flush()?;
    Ok(())
}
