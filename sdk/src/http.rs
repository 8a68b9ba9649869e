//! A small blocking HTTP client over raw `wasi:http/outgoing-handler`.
//!
//! No async runtime and no extra HTTP stack: the host does the networking,
//! so guests stay small and the host's error codes (such as a request the
//! sandbox policy refused) reach the adapter unchanged.
//!
//! ```no_run
//! use meshroom_sdk::http::Request;
//! # fn f() -> meshroom_sdk::Result<()> {
//! let created: serde_json::Value = Request::post("http://127.0.0.1:8080/api/webhooks")
//!     .bearer("token")
//!     .json(&serde_json::json!({"name": "meshroom"}))?
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::{Error, Result};

/// Largest response body read, so a hostile or broken server cannot make
/// the adapter run out of memory.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// wasi:io's limit for one blocking write.
const WRITE_CHUNK: usize = 4096;

/// An HTTP request being built.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    timeout: Duration,
}

/// A received HTTP response, body read in full.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
    method: String,
    url: String,
}

impl Request {
    /// A request with any method.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_string()),
        };
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }
    /// A GET request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }
    /// A POST request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }
    /// A PUT request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }
    /// A PATCH request.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new("PATCH", url)
    }
    /// A DELETE request.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new("DELETE", url)
    }
    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }
    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }
    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    /// Sets a JSON body and its content type.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self> {
        let body = serde_json::to_vec(value)?;
        Ok(self.header("content-type", "application/json").body(body))
    }
    /// Sets the connect and first-byte timeout (default 30 s; the host may cap it).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn method_name(&self) -> String {
        match &self.method {
            Method::Get => "GET".into(),
            Method::Post => "POST".into(),
            Method::Put => "PUT".into(),
            Method::Delete => "DELETE".into(),
            Method::Patch => "PATCH".into(),
            Method::Head => "HEAD".into(),
            Method::Options => "OPTIONS".into(),
            Method::Connect => "CONNECT".into(),
            Method::Trace => "TRACE".into(),
            Method::Other(m) => m.clone(),
        }
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response> {
        let method_name = self.method_name();
        let url = Url::parse(&self.url)?;
        let what = format!("{method_name} {}", self.url);
        let mut header_list = self.headers.clone();
        // A known length (even 0) keeps the host's HTTP client from
        // switching to chunked encoding, which some APIs refuse.
        let has_body = !self.body.is_empty() || !matches!(self.method, Method::Get | Method::Head);
        if has_body && !header_list.iter().any(|(n, _)| n == "content-length") {
            header_list.push((
                "content-length".into(),
                self.body.len().to_string().into_bytes(),
            ));
        }
        let headers = Fields::from_list(&header_list)
            .map_err(|e| Error::InvalidConfig(format!("{what}: invalid header: {e:?}")))?;
        let req = OutgoingRequest::new(headers);
        let scheme = match url.scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_string()),
        };
        let bad = |part: &str| Error::InvalidConfig(format!("{what}: invalid {part}"));
        req.set_method(&self.method).map_err(|()| bad("method"))?;
        req.set_scheme(Some(&scheme)).map_err(|()| bad("scheme"))?;
        req.set_authority(Some(url.authority))
            .map_err(|()| bad("host"))?;
        req.set_path_with_query(Some(url.path))
            .map_err(|()| bad("path"))?;
        let options = RequestOptions::new();
        let nanos = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        // Best effort: a host may refuse to let a guest set timeouts.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        let body = req
            .body()
            .map_err(|()| Error::failed(format!("{what}: no request body")))?;
        let authority = url.authority.to_string();
        let future = outgoing_handler::handle(req, Some(options))
            .map_err(|code| http_error(&what, &authority, code))?;
        // A refused request closes the body stream: then the response
        // future holds the real reason, which wins over the write error.
        let mut write_error = None;
        {
            let stream = body
                .write()
                .map_err(|()| Error::failed(format!("{what}: no body stream")))?;
            for chunk in self.body.chunks(WRITE_CHUNK) {
                if let Err(e) = stream.blocking_write_and_flush(chunk) {
                    write_error = Some(stream_error(&what, &authority, e));
                    break;
                }
            }
        }
        if write_error.is_none() {
            OutgoingBody::finish(body, None).map_err(|code| http_error(&what, &authority, code))?;
        } else {
            drop(body);
        }
        let response = loop {
            match future.get() {
                Some(Ok(Ok(response))) => match write_error {
                    Some(e) => return Err(e),
                    None => break response,
                },
                Some(Ok(Err(code))) => return Err(http_error(&what, &authority, code)),
                Some(Err(())) => {
                    return Err(Error::failed(format!("{what}: response already taken")));
                }
                None => future.subscribe().block(),
            }
        };
        let status = response.status();
        let headers = response.headers().entries();
        let mut data = Vec::new();
        {
            let incoming = response
                .consume()
                .map_err(|()| Error::failed(format!("{what}: no response body")))?;
            {
                let stream = incoming
                    .stream()
                    .map_err(|()| Error::failed(format!("{what}: no response body stream")))?;
                loop {
                    match stream.blocking_read(64 * 1024) {
                        Ok(chunk) => {
                            if data.len() + chunk.len() > MAX_BODY {
                                return Err(Error::failed(format!(
                                    "{what}: response body larger than {MAX_BODY} bytes"
                                )));
                            }
                            data.extend_from_slice(&chunk);
                        }
                        Err(StreamError::Closed) => break,
                        Err(e) => return Err(stream_error(&what, &authority, e)),
                    }
                }
            }
            drop(wasip2::http::types::IncomingBody::finish(incoming));
        }
        Ok(Response {
            status,
            headers,
            body: data,
            method: method_name,
            url: self.url,
        })
    }
}

impl Response {
    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::failed(format!(
                "{} {}: response is not the expected JSON: {e}",
                self.method, self.url
            ))
        })
    }

    /// The body as UTF-8 text (invalid bytes replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's first value.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response if its status is 2xx, else an error of the right kind:
    /// 401/403 → unauthorized, 400/422 → invalid-config, others → failed.
    pub fn error_for_status(self) -> Result<Self> {
        if self.is_success() {
            return Ok(self);
        }
        let text = self.text();
        // At most 300 bytes of the body, cut on a character boundary.
        let end = (0..=text.len().min(300))
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        let body = text[..end].trim();
        let mut msg = format!("{} {} returned {}", self.method, self.url, self.status);
        if !body.is_empty() {
            msg.push_str(": ");
            msg.push_str(body);
        }
        Err(match self.status {
            401 | 403 => Error::Unauthorized(msg),
            400 | 422 => Error::InvalidConfig(msg),
            _ => Error::Failed(msg),
        })
    }
}

/// The parts of an `http(s)://authority/path?query` URL the request needs.
struct Url<'a> {
    scheme: &'a str,
    authority: &'a str,
    path: &'a str,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Result<Self> {
        let bad = || Error::InvalidConfig(format!("`{url}` is not an http(s) URL"));
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        if scheme != "http" && scheme != "https" {
            return Err(bad());
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() {
            return Err(bad());
        }
        let path = path.split('#').next().unwrap_or("");
        let path = if path.is_empty() { "/" } else { path };
        Ok(Url {
            scheme,
            authority,
            path,
        })
    }
}

fn http_error(what: &str, authority: &str, code: ErrorCode) -> Error {
    match code {
        ErrorCode::HttpRequestDenied => Error::Unreachable(format!(
            "{what}: the sandbox policy does not allow `{authority}` (only the hosts the product's policy lists)"
        )),
        ErrorCode::DnsTimeout
        | ErrorCode::DnsError(_)
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::ConnectionLimitReached
        | ErrorCode::HttpResponseTimeout => {
            Error::Unreachable(format!("{what}: {}", unreachable_reason(authority, &code)))
        }
        other => Error::Failed(format!("{what}: {other:?}")),
    }
}

/// Why `authority` could not be reached, in words a user acts on. Starts with
/// the wasi error's words (`connection refused`, …), which adapters may match.
fn unreachable_reason(authority: &str, code: &ErrorCode) -> String {
    match code {
        ErrorCode::ConnectionRefused => {
            format!("connection refused: nothing listens at {authority} (is the product running?)")
        }
        ErrorCode::ConnectionTimeout => format!("connection timeout: {authority} did not answer"),
        ErrorCode::ConnectionTerminated => {
            format!("connection terminated: {authority} closed the connection")
        }
        ErrorCode::HttpResponseTimeout | ErrorCode::ConnectionReadTimeout => {
            format!("response timeout: {authority} accepted the connection but did not answer")
        }
        ErrorCode::DnsTimeout | ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => {
            format!("cannot resolve the host of {authority}: {code:?}")
        }
        other => format!("cannot reach {authority}: {other:?}"),
    }
}

fn stream_error(what: &str, authority: &str, e: StreamError) -> Error {
    match e {
        StreamError::Closed => Error::failed(format!("{what}: connection closed")),
        StreamError::LastOperationFailed(err) => match wasip2::http::types::http_error_code(&err) {
            Some(code) => http_error(what, authority, code),
            None => Error::failed(format!("{what}: {}", err.to_debug_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = Url::parse("http://127.0.0.1:8080/api/x?y=1#frag").unwrap();
        assert_eq!(
            (u.scheme, u.authority, u.path),
            ("http", "127.0.0.1:8080", "/api/x?y=1")
        );
        let u = Url::parse("https://example.com").unwrap();
        assert_eq!((u.authority, u.path), ("example.com", "/"));
        assert!(matches!(
            Url::parse("ftp://x/"),
            Err(Error::InvalidConfig(_))
        ));
        assert!(matches!(
            Url::parse("http:///x"),
            Err(Error::InvalidConfig(_))
        ));
        assert!(matches!(
            Url::parse("nonsense"),
            Err(Error::InvalidConfig(_))
        ));
    }

    fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            method: "GET".into(),
            url: "http://127.0.0.1:1/x".into(),
        }
    }

    #[test]
    fn error_for_status_quotes_a_bounded_body_and_never_panics() {
        let Err(Error::Failed(m)) = answer(500, "").error_for_status() else {
            panic!("a 500 is a failure");
        };
        assert_eq!(m, "GET http://127.0.0.1:1/x returned 500");
        // 299 ASCII bytes then a 2-byte character across the 300-byte cut.
        let body = format!("{}é and more", "a".repeat(299));
        let Err(Error::Failed(m)) = answer(502, &body).error_for_status() else {
            panic!("a 502 is a failure");
        };
        assert!(m.ends_with(&format!(": {}", "a".repeat(299))), "{m}");
    }
}
