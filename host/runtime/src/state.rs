//! The per-call store state: the WASI context (default deny), the HTTP
//! egress check, the memory cap, the `host` interface (log, secret) and
//! what the host learnt while the adapter ran (verdicts, refused hosts,
//! the tail of stderr to explain a panic), within the call's
//! [`Limits`]: resource-table entries, HTTP header bytes, outgoing body
//! chunks, log lines and log bytes.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use wasmtime::ResourceLimiter;
use wasmtime::component::{HasData, ResourceTable};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};
use zeroize::Zeroizing;

use super::bindings::{wit, wit_host};
use super::limits::{Limits, cut_owned};
use super::policy::{CallPolicy, SecretResolver, resolved_ip_allowed};
use super::stdio::LogPipe;
use super::tape::{Exchange, Tape, TapeRequest, TapeResponse};

/// Secrets shorter than this are not searched for in texts (they would
/// match everywhere).
pub(crate) const MIN_SECRET_LEN: usize = 3;

/// Why the host stopped the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It used its CPU budget.
    Cpu,
    /// It tried to grow memory past the cap (desired bytes).
    Memory(usize),
}

/// State shared with the parts of the store that outlive a borrow (egress
/// futures, the epoch callback).
#[derive(Default)]
pub(crate) struct Shared {
    pub verdict: Mutex<Option<Verdict>>,
    pub refused: Mutex<Vec<String>>,
    /// Why a replaying tape could not answer requests.
    pub misses: Mutex<Vec<String>>,
}

/// The data of one `Store`: one hook call.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    egress: Egress,
    pub limiter: MemoryCap,
    secrets: Arc<dyn SecretResolver>,
    /// Secrets handed to the adapter (name, value): masked in logs, errors
    /// and details, refused in non-secret outputs.
    served: Vec<(String, Zeroizing<String>)>,
    pub product: String,
    pub hook: String,
    pub limits: Limits,
    log_lines: usize,
    log_bytes: usize,
    log_dropped: bool,
    /// What the adapter prints (logged, bounded).
    pub stdout: LogPipe,
    /// What it writes to stderr (logged, bounded; the tail explains a crash).
    pub stderr: LogPipe,
    pub shared: Arc<Shared>,
    /// Epoch ticks of guest CPU used so far in this call.
    pub cpu_ticks: u64,
    /// Records or replays this call's HTTP exchanges.
    pub tape: Option<Arc<dyn Tape>>,
}

impl CallState {
    pub fn new(
        product: &str,
        hook: &str,
        policy: &CallPolicy,
        socket_peers: Vec<SocketAddr>,
        memory_cap: usize,
        io_timeout: Duration,
        limits: Limits,
    ) -> Self {
        let shared = Arc::new(Shared::default());
        let stdout = LogPipe::default();
        let stderr = LogPipe::default();
        let mut b = WasiCtx::builder();
        // Default deny: no preopens, env, args, stdin; stdout and stderr go
        // to the host log (bounded, redacted).
        b.stdout(stdout.clone()).stderr(stderr.clone());
        let any_sockets = !socket_peers.is_empty();
        b.allow_tcp(any_sockets)
            .allow_udp(any_sockets)
            .allow_ip_name_lookup(false);
        if any_sockets {
            let peers = Arc::new(socket_peers);
            b.socket_addr_check(move |addr, use_| {
                let ok = match use_ {
                    // Implicit binds (before connect) use the wildcard address.
                    SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => {
                        addr.ip().is_unspecified() && addr.port() == 0
                    }
                    SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend => peers.contains(&addr),
                    _ => false,
                };
                Box::pin(async move { ok })
            });
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.resources);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(limits.header_bytes);
        CallState {
            wasi: b.build(),
            table,
            http,
            egress: Egress {
                policy: policy.clone(),
                product: product.to_string(),
                hook: hook.to_string(),
                io_timeout,
                body_chunk: limits.body_chunk_bytes,
                shared: shared.clone(),
                tape: None,
            },
            limiter: MemoryCap {
                cap: memory_cap,
                shared: shared.clone(),
            },
            secrets: policy.secrets.clone(),
            served: Vec::new(),
            product: product.to_string(),
            hook: hook.to_string(),
            limits,
            log_lines: 0,
            log_bytes: 0,
            log_dropped: false,
            stdout,
            stderr,
            shared,
            cpu_ticks: 0,
            tape: None,
        }
    }

    /// Records or replays the call's HTTP exchanges through `tape`.
    pub fn with_tape(mut self, tape: Option<Arc<dyn Tape>>) -> Self {
        self.egress.tape = tape.clone();
        self.tape = tape;
        self
    }

    /// Logs what the adapter printed since the last call of this (redacted,
    /// bounded): stdout at info, stderr at warn. `all`: the call ended,
    /// an unfinished last line is logged too.
    pub fn log_output(&self, all: bool) {
        let (product, hook) = (&self.product, &self.hook);
        for (stream, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let (lines, dropped) = pipe.take_lines(all);
            for line in lines {
                // Masked, cut and always escaped, as `host.log` lines are.
                let line = super::sanitize::escape_controls(&self.bounded_text(&line)).into_owned();
                if stream == "stdout" {
                    tracing::info!(%product, %hook, stream, "{line}");
                } else {
                    tracing::warn!(%product, %hook, stream, "{line}");
                }
            }
            if all && dropped > 0 {
                tracing::warn!(%product, %hook, stream, "{dropped} more line(s) of {stream} dropped");
            }
        }
    }

    /// `text` with every secret handed to the adapter replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (_, s) in &self.served {
            if s.len() >= MIN_SECRET_LEN && out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    /// An adapter text for the operator: secrets masked, then cut to
    /// `text_bytes` (masking first, so a cut never reveals part of one).
    pub fn bounded_text(&self, text: &str) -> String {
        cut_owned(self.redact(text), self.limits.text_bytes)
    }

    /// The secret values handed to the adapter during this call.
    pub fn served(&self) -> &[(String, Zeroizing<String>)] {
        &self.served
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

/// `HasData` marker for the `host` interface.
pub(crate) struct HostData;

impl HasData for HostData {
    type Data<'a> = &'a mut CallState;
}

impl wit::Host for CallState {}

impl wit_host::Host for CallState {
    fn log(&mut self, level: wit_host::LogLevel, message: String) {
        if self.log_lines >= self.limits.log_lines || self.log_bytes >= self.limits.log_bytes {
            if !self.log_dropped {
                self.log_dropped = true;
                tracing::warn!(product = %self.product, hook = %self.hook, "adapter logs more than {} lines or {} bytes in one call (`log_lines`, `log_bytes`): further lines dropped", self.limits.log_lines, self.limits.log_bytes);
            }
            return;
        }
        self.log_lines += 1;
        let message = self.bounded_text(&message);
        // Always escaped: a log is read on a terminal, now or later.
        let message = super::sanitize::escape_controls(&message);
        self.log_bytes += message.len();
        let (product, hook) = (&self.product, &self.hook);
        match level {
            wit_host::LogLevel::Trace => tracing::trace!(%product, %hook, "{message}"),
            wit_host::LogLevel::Debug => tracing::debug!(%product, %hook, "{message}"),
            wit_host::LogLevel::Info => tracing::info!(%product, %hook, "{message}"),
            wit_host::LogLevel::Warn => tracing::warn!(%product, %hook, "{message}"),
            wit_host::LogLevel::Error => tracing::error!(%product, %hook, "{message}"),
        }
    }

    fn secret(&mut self, name: String) -> Option<String> {
        let value = self.secrets.secret(&name)?;
        if !self
            .served
            .iter()
            .any(|(n, v)| *n == name && v.as_str() == value)
        {
            if let Some(tape) = &self.tape {
                tape.secret(&name, &value);
            }
            self.served.push((name, Zeroizing::new(value.clone())));
        }
        Some(value)
    }
}

/// Caps linear memory per store; records the verdict so the host can say
/// "memory cap" rather than a bare trap.
pub(crate) struct MemoryCap {
    cap: usize,
    shared: Arc<Shared>,
}

/// Returned from `memory_growing` to stop the guest.
#[derive(Debug)]
pub(crate) struct MemoryCapExceeded;

impl std::fmt::Display for MemoryCapExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memory cap exceeded")
    }
}

impl std::error::Error for MemoryCapExceeded {}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            if let Ok(mut v) = self.shared.verdict.lock() {
                *v = Some(Verdict::Memory(desired));
            }
            return Err(wasmtime::Error::new(MemoryCapExceeded));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The HTTP egress check: only the policy's authorities, and names must
/// not resolve to forbidden addresses.
struct Egress {
    policy: CallPolicy,
    product: String,
    hook: String,
    io_timeout: Duration,
    /// Largest write into an outgoing body ([`Limits::body_chunk_bytes`]).
    body_chunk: usize,
    shared: Arc<Shared>,
    tape: Option<Arc<dyn Tape>>,
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl Egress {
    fn refuse(&self, target: String, why: &str) {
        tracing::warn!(product = %self.product, hook = %self.hook, target = %target, "sandbox refused a request: {why}");
        if let Ok(mut r) = self.shared.refused.lock() {
            r.push(target);
        }
    }
}

impl WasiHttpHooks for Egress {
    /// One buffered chunk (plus the one being written): what an outgoing
    /// body may hold in the host before it is sent.
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        1
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        self.body_chunk
    }

    /// The error code of a failed connect, from what the OS said (wasmtime's
    /// default calls every failure "connection refused" and logs a warning
    /// per attempt): the adapter reports it, so it is only logged at debug.
    fn p2_error_from_connect(
        &mut self,
        err: &std::io::Error,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        use std::io::ErrorKind as K;
        use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode as C;
        tracing::debug!(product = %self.product, hook = %self.hook, "connect error: {err}");
        match err.kind() {
            K::TimedOut => C::ConnectionTimeout,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => C::ConnectionTerminated,
            K::HostUnreachable | K::NetworkUnreachable | K::NetworkDown => {
                C::DestinationUnavailable
            }
            _ => C::ConnectionRefused,
        }
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        drop(fut);
        use wasmtime_wasi_http::Error as E;
        let https = request.uri().scheme() == Some(&http::uri::Scheme::HTTPS);
        let default_port = if https { 443 } else { 80 };
        let host = request.uri().host().unwrap_or("").to_string();
        let port = request.uri().port_u16().unwrap_or(default_port);
        let target = format!("{host}:{port}");
        if !self.policy.allows_http(&host, port, default_port) {
            self.refuse(target, "host not in the product's policy");
            return Box::new(async { Err(E::HttpRequestDenied) });
        }
        // Cap the guest's timeouts: the default is 10 minutes.
        let cap = |d: Option<Duration>| Some(d.map_or(self.io_timeout, |d| d.min(self.io_timeout)));
        let options = RequestOptions {
            connect_timeout: cap(options.and_then(|o| o.connect_timeout)),
            first_byte_timeout: cap(options.and_then(|o| o.first_byte_timeout)),
            between_bytes_timeout: cap(options.and_then(|o| o.between_bytes_timeout)),
        };
        if let Some(tape) = self.tape.clone().filter(|t| t.replaying()) {
            let shared = self.shared.clone();
            return Box::new(replay(tape, request, shared));
        }
        let tape = self.tape.clone();
        let url = request.uri().to_string();
        let shared = self.shared.clone();
        let (product, hook) = (self.product.clone(), self.hook.clone());
        Box::new(async move {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if bare.parse::<IpAddr>().is_err() {
                let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
                    .await
                    .map_err(|_| E::DnsError {
                        rcode: None,
                        info_code: None,
                    })?
                    .collect();
                let Some(first) = addrs.first().copied() else {
                    return Err(E::DestinationNotFound);
                };
                if let Some(bad) = addrs.iter().find(|a| !resolved_ip_allowed(bare, a.ip())) {
                    tracing::warn!(%product, %hook, target = %target, address = %bad, "sandbox refused a request: name resolves to a forbidden address");
                    if let Ok(mut r) = shared.refused.lock() {
                        r.push(format!("{target} ({bad})"));
                    }
                    return Err(E::DestinationIpProhibited);
                }
                if !https {
                    // Connect to the address just checked, not to a second
                    // resolution (DNS rebinding). The Host header keeps the name.
                    let pq = request
                        .uri()
                        .path_and_query()
                        .map_or("/", |p| p.as_str())
                        .to_string();
                    let pinned = http::Uri::builder()
                        .scheme("http")
                        .authority(first.to_string())
                        .path_and_query(pq)
                        .build()
                        .map_err(|_| E::HttpRequestUriInvalid)?;
                    *request.uri_mut() = pinned;
                }
            }
            if let Some(tape) = tape {
                return send_recorded(tape, url, request, options).await;
            }
            let (res, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            ))
        })
    }
}

/// The largest response body a recording keeps (it is read whole).
const MAX_TAPED_BODY: usize = 64 << 20;

type IoFuture = Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>;

fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_string(), value)
        })
        .collect()
}

fn full_body(bytes: bytes::Bytes) -> WasiBody {
    http_body_util::Full::new(bytes)
        .map_err(|never: std::convert::Infallible| match never {})
        .boxed_unsync()
}

/// The request, its body read whole, as a tape sees it.
async fn taped_request(
    url: String,
    request: http::Request<WasiBody>,
) -> wasmtime_wasi_http::Result<(TapeRequest, http::request::Parts)> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let taped = TapeRequest {
        method: parts.method.as_str().to_string(),
        url,
        headers: header_pairs(&parts.headers),
        body,
    };
    Ok((taped, parts))
}

/// Answers a request from the tape: no socket is opened. A request the
/// tape cannot answer fails, and the tape's reason reaches the hook's
/// error.
async fn replay(
    tape: Arc<dyn Tape>,
    request: http::Request<WasiBody>,
    shared: Arc<Shared>,
) -> SendResult {
    let url = request.uri().to_string();
    let (taped, _) = taped_request(url, request).await?;
    match tape.answer(&taped) {
        Ok(answer) => {
            let mut res = http::Response::new(full_body(answer.body));
            *res.status_mut() = http::StatusCode::from_u16(answer.status)
                .map_err(|_| wasmtime_wasi_http::Error::HttpProtocolError)?;
            for (k, v) in answer.headers {
                if let (Ok(k), Ok(v)) = (
                    http::HeaderName::from_bytes(k.as_bytes()),
                    http::HeaderValue::from_str(&v),
                ) {
                    res.headers_mut().append(k, v);
                }
            }
            Ok((res, Box::new(async { Ok(()) }) as IoFuture))
        }
        Err(why) => {
            if let Ok(mut m) = shared.misses.lock() {
                m.push(why);
            }
            Err(wasmtime_wasi_http::Error::InternalError(Some(
                "meshroom replay: no recorded response for this request".into(),
            )))
        }
    }
}

/// Sends a request for real and records the exchange: the bodies are
/// read whole by the host (the response up to [`MAX_TAPED_BODY`]), then
/// served to the adapter from memory.
async fn send_recorded(
    tape: Arc<dyn Tape>,
    url: String,
    request: http::Request<WasiBody>,
    options: RequestOptions,
) -> SendResult {
    use wasmtime_wasi_http::Error as E;
    let started = std::time::Instant::now();
    let (taped, parts) = taped_request(url, request).await?;
    let request = http::Request::from_parts(parts, full_body(taped.body.clone()));
    let (res, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
    let (parts, mut body) = res.into_parts();
    let mut io = Box::pin(io);
    let mut io_done = None;
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            frame = body.frame() => match frame {
                None => break,
                Some(frame) => {
                    if let Ok(data) = frame?.into_data() {
                        if buf.len() + data.len() > MAX_TAPED_BODY {
                            return Err(E::HttpResponseBodySize(Some(MAX_TAPED_BODY as u64)));
                        }
                        buf.extend_from_slice(&data);
                    }
                }
            },
            done = &mut io, if io_done.is_none() => io_done = Some(done),
        }
    }
    let body = bytes::Bytes::from(buf);
    tape.record(Exchange {
        request: taped,
        response: TapeResponse {
            status: parts.status.as_u16(),
            headers: header_pairs(&parts.headers),
            body: body.clone(),
            elapsed: started.elapsed(),
        },
    });
    let io: IoFuture = match io_done {
        Some(done) => Box::new(async move { done }),
        None => Box::new(io),
    };
    Ok((http::Response::from_parts(parts, full_body(body)), io))
}
