//! The dashboard's token: when `meshroom ui --token` set one, every request
//! (the page, its assets, the API, the event stream) must carry it, as
//! `Authorization: Bearer TOKEN`, as the `meshroom_ui` cookie, or once as
//! `?token=TOKEN`, which sets the cookie and redirects to the same address
//! without it (so the token leaves the address bar and the history).
//! Without a token (loopback only), the `Host` header must name the
//! loopback, so a page of another site cannot read the API through a DNS
//! name rebound to 127.0.0.1.
//!
//! Tokens are compared in constant time (their SHA-256, so neither the
//! contents nor the length leak through timing). This module must not log a
//! token.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::server::AppState;

/// The cookie that carries the token after `?token=`.
pub const COOKIE: &str = "meshroom_ui";

/// A token, kept as its digest.
#[derive(Clone)]
pub struct Token([u8; 32]);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    pub fn new(token: &str) -> Token {
        Token(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `given` is this token, in constant time.
    pub fn accepts(&self, given: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        self.0.ct_eq(&given).into()
    }
}

/// The token a request carries: bearer header, then cookie.
fn carried(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(v.trim());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// `token=` of a query string, and the query without it.
fn query_token(query: &str) -> (Option<&str>, String) {
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("token=") {
            Some(t) => token = Some(t),
            None if !pair.is_empty() => rest.push(pair),
            None => {}
        }
    }
    (token, rest.join("&"))
}

/// Whether `host` (the `Host` header) names the loopback.
fn loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(name, "localhost" | "[::1]")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], why).into_response()
}

/// The middleware: lets a request through only with the token (when set),
/// or from a loopback `Host` (when not).
pub async fn check(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    let Some(token) = &state.token else {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !loopback_host(host) {
            return refuse(
                StatusCode::FORBIDDEN,
                "this dashboard answers only to a loopback address (127.0.0.1, localhost)\n",
            );
        }
        return next.run(request).await;
    };
    if carried(request.headers()).is_some_and(|t| token.accepts(t)) {
        return next.run(request).await;
    }
    let (given, rest) = query_token(request.uri().query().unwrap_or(""));
    if given.is_some_and(|t| token.accepts(t)) {
        let path = request.uri().path();
        let location = if rest.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{rest}")
        };
        let cookie = format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            given.unwrap_or_default()
        );
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, location),
                (header::SET_COOKIE, cookie),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
        )
            .into_response();
    }
    refuse(
        StatusCode::UNAUTHORIZED,
        "this dashboard needs its token: open it with ?token=TOKEN, or send `Authorization: Bearer TOKEN`\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_accepts_only_itself() {
        let t = Token::new("s3cret");
        assert!(t.accepts("s3cret"));
        assert!(!t.accepts("s3cre"));
        assert!(!t.accepts(""));
    }

    #[test]
    fn the_query_token_is_taken_out_of_the_query() {
        assert_eq!(
            query_token("a=1&token=x&b=2"),
            (Some("x"), "a=1&b=2".into())
        );
        assert_eq!(query_token(""), (None, String::new()));
    }

    #[test]
    fn loopback_hosts() {
        for ok in [
            "127.0.0.1:80",
            "localhost:8080",
            "[::1]:1",
            "127.1.2.3",
            "localhost",
        ] {
            assert!(loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:80",
            "10.0.0.1:80",
            "",
            "127.0.0.1.evil.example",
        ] {
            assert!(!loopback_host(bad), "{bad}");
        }
    }
}
