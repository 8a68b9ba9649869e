//! A minimal blocking HTTP/1.1 client over `std::net`, for ready-checks and for
//! tests that talk to a service's API. One request per connection
//! (`Connection: close`); bodies by Content-Length, chunked, or up to EOF.
//! std only, so it works inside `#[tokio::test]`s too (no nested runtime).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// An HTTP request being built.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
    source_ip: Option<std::net::Ipv4Addr>,
}

/// A response: status, headers (names as sent) and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// `GET url`.
pub fn get(url: &str) -> Request {
    Request::new("GET", url)
}
/// `POST url`.
pub fn post(url: &str) -> Request {
    Request::new("POST", url)
}
/// `PUT url`.
pub fn put(url: &str) -> Request {
    Request::new("PUT", url)
}
/// `DELETE url`.
pub fn delete(url: &str) -> Request {
    Request::new("DELETE", url)
}

impl Request {
    /// A request with any method.
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(10),
            source_ip: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `Authorization: Basic …`.
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let token = base64(format!("{user}:{password}").as_bytes());
        self.header("Authorization", &format!("Basic {token}"))
    }

    /// `Authorization: Bearer …`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.body("application/json", value.to_string().into_bytes())
    }

    /// A body with its content type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.header("Content-Type", content_type)
    }

    /// Connect/read/write timeout (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects from this local address, e.g. `127.0.0.2`, so a test can check a
    /// block on one client address without blocking itself (all of 127.0.0.0/8
    /// is loopback on Linux).
    pub fn source_ip(mut self, ip: std::net::Ipv4Addr) -> Self {
        self.source_ip = Some(ip);
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(&self) -> Result<Response> {
        let what = format!("{} {}", self.method, self.url);
        self.send_inner()
            .with_context(|| format!("request `{what}` failed"))
    }

    fn send_inner(&self) -> Result<Response> {
        let (authority, path) = split_url(&self.url)?;
        let addr = authority
            .to_socket_addrs()
            .with_context(|| format!("invalid address `{authority}`"))?
            .next()
            .with_context(|| format!("`{authority}` resolves to no address"))?;
        let mut stream = match self.source_ip {
            None => TcpStream::connect_timeout(&addr, self.timeout)?,
            Some(ip) => connect_from(ip, addr, self.timeout)?,
        };
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.method,
            path,
            authority,
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        // CrowdSec's watcher login fails (401) without a `name/version` User-Agent.
        if !self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
        {
            head.push_str(concat!(
                "User-Agent: meshroom-tests/",
                env!("CARGO_PKG_VERSION"),
                "\r\n"
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(&self.body)?;
        stream.flush()?;
        read_response(BufReader::new(stream), self.method == "HEAD")
    }
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "response body is not JSON (status {}): {}",
                self.status,
                self.text()
            )
        })
    }
}

/// True when `GET url` answers with any HTTP status (the server is up).
pub fn answers(url: &str) -> bool {
    status_of(get(url).timeout(Duration::from_millis(500))).is_some()
}

/// True when something accepts TCP connections on `127.0.0.1:port`.
pub fn tcp_accepts(port: u16) -> bool {
    let addr = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// The status of a request, or None when the server did not answer.
pub fn status_of(request: Request) -> Option<u16> {
    request.send().ok().map(|r| r.status)
}

fn connect_from(
    ip: std::net::Ipv4Addr,
    addr: std::net::SocketAddr,
    timeout: Duration,
) -> Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket
        .bind(&std::net::SocketAddr::from((ip, 0)).into())
        .with_context(|| format!("failed to bind the source address {ip}"))?;
    socket.connect_timeout(&addr.into(), timeout)?;
    Ok(socket.into())
}

fn split_url(url: &str) -> Result<(&str, &str)> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("only http:// URLs are supported, got `{url}`");
    };
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

fn read_response(mut reader: impl BufRead, head_only: bool) -> Result<Response> {
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .with_context(|| format!("malformed status line `{}`", status_line.trim_end()))?;
    let headers = read_headers(&mut reader)?;
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let body = if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(&mut reader)?
    } else if let Some(len) = find("content-length") {
        let len: usize = len
            .parse()
            .with_context(|| format!("malformed Content-Length `{len}`"))?;
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        body
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Reads header lines up to the empty line. Shared with the in-process collector.
pub(crate) fn read_headers(reader: &mut impl BufRead) -> Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("connection closed inside the headers");
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Ok(headers);
        }
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("malformed header line `{line}`"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
}

/// Decodes a chunked body (trailers ignored). Shared with the in-process collector.
pub(crate) fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size_hex = size_line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_hex, 16)
            .with_context(|| format!("malformed chunk size `{}`", size_line.trim()))?;
        if size == 0 {
            // Trailers, then the final empty line.
            read_headers(reader)?;
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}

/// Standard base64 with padding.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n";
        let response = read_response(&raw[..], false).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "Wikipedia");
    }
}
