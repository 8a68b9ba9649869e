//! The sandbox policy of one hook call: which hosts the adapter may reach
//! (already templated by the caller from the instance's settings), how
//! secrets are answered, and per-call limit overrides.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Answers `host.secret(name)` for the current instance or plug. The
/// caller scopes it: it must answer only that instance's secret settings
/// and that plug's secret outputs.
pub trait SecretResolver: Send + Sync {
    /// The secret, or `None` when it is not set (or not this adapter's).
    fn secret(&self, name: &str) -> Option<String>;
}

impl<F> SecretResolver for F
where
    F: Fn(&str) -> Option<String> + Send + Sync,
{
    fn secret(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// No secrets at all.
struct NoSecrets;

impl SecretResolver for NoSecrets {
    fn secret(&self, _name: &str) -> Option<String> {
        None
    }
}

/// What one hook call may do. Default: nothing (no network, no secrets).
#[derive(Clone)]
pub struct CallPolicy {
    /// HTTP authorities the adapter may call, `host:port` or `host` (then
    /// port 80 for http, 443 for https), e.g. the authority of the
    /// instance's `url` setting. Compared case-insensitively.
    pub http: Vec<String>,
    /// TCP/UDP peers the adapter may connect to, `ip:port` or `name:port`
    /// (names are resolved when the call starts).
    pub sockets: Vec<String>,
    /// Answers `host.secret`.
    pub secrets: Arc<dyn SecretResolver>,
    /// Overrides the runtime's default wall-clock timeout for this call.
    pub timeout: Option<Duration>,
    /// Overrides the runtime's bounds for this call (e.g. from the
    /// product definition's `limits:`).
    pub limits: Option<super::Limits>,
}

impl Default for CallPolicy {
    fn default() -> Self {
        CallPolicy {
            http: Vec::new(),
            sockets: Vec::new(),
            secrets: Arc::new(NoSecrets),
            timeout: None,
            limits: None,
        }
    }
}

impl fmt::Debug for CallPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallPolicy")
            .field("http", &self.http)
            .field("sockets", &self.sockets)
            .field("timeout", &self.timeout)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl CallPolicy {
    /// A policy allowing nothing.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Allows HTTP to one more authority (`host:port`); also accepts a URL,
    /// whose authority is taken.
    pub fn allow_http(mut self, authority_or_url: &str) -> Self {
        self.http.push(pinned_authority(authority_or_url));
        self
    }

    /// Allows HTTP to the authority of every `http(s)://` URL among an
    /// instance's settings (a JSON object; nested values included): the
    /// default policy of a product that declares none.
    pub fn allow_urls_in(mut self, settings: &serde_json::Value) -> Self {
        fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::String(s)
                    if s.starts_with("http://") || s.starts_with("https://") =>
                {
                    let a = pinned_authority(s);
                    if !a.is_empty() && !out.contains(&a) {
                        out.push(a);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                serde_json::Value::Object(m) => m.values().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        walk(settings, &mut self.http);
        self
    }

    /// Allows TCP/UDP to one more peer (`host:port`).
    pub fn allow_socket(mut self, peer: &str) -> Self {
        self.sockets.push(peer.to_string());
        self
    }

    /// Answers secrets with `resolver`.
    pub fn with_secrets(mut self, resolver: impl SecretResolver + 'static) -> Self {
        self.secrets = Arc::new(resolver);
        self
    }

    /// Sets this call's wall-clock timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// True when `host:port` (as the request addressed it) is allowed.
    pub(crate) fn allows_http(&self, host: &str, port: u16, default_port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        self.http.iter().any(|allowed| {
            let (h, p) = split_host_port(allowed);
            h.eq_ignore_ascii_case(&host) && p.unwrap_or(default_port) == port
        })
    }
}

/// The authority of a URL (`scheme://authority/...`), or the text itself.
pub fn authority_of(authority_or_url: &str) -> String {
    let rest = authority_or_url
        .split_once("://")
        .map_or(authority_or_url, |(_, rest)| rest);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // Drop any userinfo.
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, a)| a)
        .to_string()
}

/// The authority of a URL with its port made explicit from the scheme
/// (`https://x/` → `x:443`), so allowing an https URL does not allow plain
/// http to the same host; a bare authority is kept as given.
fn pinned_authority(authority_or_url: &str) -> String {
    let authority = authority_of(authority_or_url);
    let default_port = match authority_or_url.split_once("://") {
        Some(("https", _)) => 443,
        Some(("http", _)) => 80,
        _ => return authority,
    };
    match split_host_port(&authority) {
        (_, Some(_)) => authority,
        (host, None) if host.contains(':') => format!("[{host}]:{default_port}"),
        (host, None) => format!("{host}:{default_port}"),
    }
}

/// Splits `host:port`, `[v6]:port`, `host`.
pub(crate) fn split_host_port(authority: &str) -> (String, Option<u16>) {
    if let Some((h, tail)) = authority
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
    {
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return (h.to_string(), port);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h.to_string(), Some(port)),
            Err(_) => (authority.to_string(), None),
        },
        _ => (authority.to_string(), None),
    }
}

/// Whether an address a *name* resolved to may be reached. IP literals
/// allowed by the policy are reached as given; a name must not lead to
/// link-local (cloud metadata), unspecified, multicast or broadcast
/// addresses, nor to loopback unless the name is `localhost`.
pub(crate) fn resolved_ip_allowed(name: &str, ip: IpAddr) -> bool {
    let loopback_ok = name.eq_ignore_ascii_case("localhost");
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (v4.is_loopback() && !loopback_ok))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return resolved_ip_allowed(name, IpAddr::V4(v4));
            }
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            !(link_local
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.is_loopback() && !loopback_ok))
        }
    }
}

/// Resolves the policy's socket peers to addresses (names through DNS,
/// each resolved address checked like HTTP names).
pub(crate) async fn resolve_socket_peers(peers: &[String]) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for peer in peers {
        if let Ok(addr) = peer.parse::<SocketAddr>() {
            out.push(addr);
            continue;
        }
        let (host, port) = split_host_port(peer);
        let Some(port) = port else {
            tracing::warn!(peer = %peer, "socket peer without a port ignored");
            continue;
        };
        match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(addrs) => out.extend(addrs.filter(|a| resolved_ip_allowed(&host, a.ip()))),
            Err(e) => tracing::warn!(peer = %peer, error = %e, "cannot resolve socket peer"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_and_matching() {
        assert_eq!(
            authority_of("http://user:pw@127.0.0.1:8080/x?y"),
            "127.0.0.1:8080"
        );
        assert_eq!(authority_of("api.example.com:443"), "api.example.com:443");
        let p = CallPolicy::deny_all()
            .allow_http("http://127.0.0.1:8080/api")
            .allow_http("Example.com");
        assert!(p.allows_http("127.0.0.1", 8080, 80));
        assert!(!p.allows_http("127.0.0.1", 8081, 80));
        assert!(
            p.allows_http("example.COM", 443, 443),
            "a bare host allows the scheme's port"
        );
        let https = CallPolicy::deny_all().allow_http("https://api.example.com/v1");
        assert!(https.allows_http("api.example.com", 443, 443));
        assert!(
            !https.allows_http("api.example.com", 80, 80),
            "https URL does not open plain http"
        );
        assert!(!p.allows_http("example.com", 8443, 443));
        assert!(!p.allows_http("evil.com", 80, 80));
        assert_eq!(split_host_port("[::1]:80"), ("::1".to_string(), Some(80)));
    }

    #[test]
    fn urls_in_settings_are_allowed() {
        let p = CallPolicy::deny_all().allow_urls_in(&serde_json::json!({
            "url": "https://siem.example.com/api",
            "nested": {"webhook": "http://10.0.0.5:8088/hook"},
            "name": "not a url",
            "port": 514
        }));
        assert_eq!(p.http, ["siem.example.com:443", "10.0.0.5:8088"]);
        assert!(p.allows_http("siem.example.com", 443, 443));
        assert!(!p.allows_http("siem.example.com", 80, 80));
    }

    #[test]
    fn names_must_not_lead_to_metadata_or_loopback() {
        assert!(!resolved_ip_allowed(
            "api.example.com",
            "169.254.169.254".parse().unwrap()
        ));
        assert!(!resolved_ip_allowed(
            "api.example.com",
            "127.0.0.1".parse().unwrap()
        ));
        assert!(resolved_ip_allowed(
            "localhost",
            "127.0.0.1".parse().unwrap()
        ));
        assert!(resolved_ip_allowed(
            "siem.corp",
            "10.1.2.3".parse().unwrap()
        ));
        assert!(!resolved_ip_allowed(
            "x",
            "::ffff:169.254.1.1".parse().unwrap()
        ));
        assert!(!resolved_ip_allowed("x", "fe80::1".parse().unwrap()));
    }
}
