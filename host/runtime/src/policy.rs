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
    /// Records this call's HTTP exchanges, or answers them from a
    /// recording without opening a socket ([`crate::tape`]).
    pub tape: Option<Arc<dyn super::TapeDeck>>,
}

impl Default for CallPolicy {
    fn default() -> Self {
        CallPolicy {
            http: Vec::new(),
            sockets: Vec::new(),
            secrets: Arc::new(NoSecrets),
            timeout: None,
            limits: None,
            tape: None,
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
    /// whose authority is taken. Text that is neither allows nothing.
    pub fn allow_http(mut self, authority_or_url: &str) -> Self {
        let authority = pinned_authority(authority_or_url);
        if authority.is_empty() {
            tracing::warn!(entry = %authority_or_url, "not a URL nor `host:port`: allows nothing");
        } else {
            self.http.push(authority);
        }
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

    /// Records or replays this call's HTTP exchanges through `deck`.
    pub fn with_tape(mut self, deck: Arc<dyn super::TapeDeck>) -> Self {
        self.tape = Some(deck);
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
            split_host_port(allowed).is_some_and(|(h, p)| {
                h.eq_ignore_ascii_case(&host) && p.unwrap_or(default_port) == port
            })
        })
    }
}

/// An allow-list entry or a URL, parsed by `http::uri`: its scheme (URLs
/// only), host (brackets of an IPv6 literal and any userinfo dropped) and
/// port as written (a URL's default port is not filled in).
struct Parsed {
    scheme: Option<String>,
    host: String,
    port: Option<u16>,
}

impl Parsed {
    /// `None` when the text is neither a URL with an authority nor a bare
    /// `host[:port]`.
    fn new(authority_or_url: &str) -> Option<Parsed> {
        let (scheme, authority) = if authority_or_url.contains("://") {
            let uri: http::Uri = authority_or_url.parse().ok()?;
            (
                uri.scheme_str().map(str::to_ascii_lowercase),
                uri.authority()?.clone(),
            )
        } else {
            (None, authority_or_url.parse::<http::uri::Authority>().ok()?)
        };
        // `http` keeps a port that is not a number (`host:x`): refuse it.
        let host_port = authority
            .as_str()
            .rsplit_once('@')
            .map_or(authority.as_str(), |(_, h)| h);
        let after_host = host_port.rsplit_once(']').map_or(host_port, |(_, t)| t);
        if after_host.contains(':') && authority.port_u16().is_none() {
            return None;
        }
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return None;
        }
        Some(Parsed {
            scheme,
            host: host.to_string(),
            port: authority.port_u16(),
        })
    }

    /// `host[:port]`, an IPv6 host in brackets.
    fn authority(&self, port: Option<u16>) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }
}

/// The authority (`host[:port]`, without userinfo) of a URL or of a bare
/// authority; empty when the text is neither.
pub fn authority_of(authority_or_url: &str) -> String {
    Parsed::new(authority_or_url).map_or_else(String::new, |p| p.authority(p.port))
}

/// The authority of a URL with its port made explicit from the scheme
/// (`https://x/` → `x:443`), so allowing an https URL does not allow plain
/// http to the same host; a bare authority is kept as given.
fn pinned_authority(authority_or_url: &str) -> String {
    let Some(parsed) = Parsed::new(authority_or_url) else {
        return String::new();
    };
    let default_port = match parsed.scheme.as_deref() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    };
    parsed.authority(parsed.port.or(default_port))
}

/// Splits `host:port`, `[v6]:port`, `host` (`None` when it is none of them).
pub(crate) fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    let parsed = Parsed::new(authority).filter(|p| p.scheme.is_none())?;
    Some((parsed.host, parsed.port))
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
        let Some((host, Some(port))) = split_host_port(peer) else {
            tracing::warn!(peer = %peer, "socket peer without `host:port` ignored");
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
        assert_eq!(
            split_host_port("[::1]:80"),
            Some(("::1".to_string(), Some(80)))
        );
    }

    #[test]
    fn authorities_are_parsed_not_cut() {
        // IPv6 literals, userinfo, explicit default ports, query and fragment.
        assert_eq!(authority_of("https://[::1]:8443/x"), "[::1]:8443");
        assert_eq!(authority_of("http://[::1]/"), "[::1]");
        assert_eq!(authority_of("https://u@h.example:443#f"), "h.example:443");
        assert_eq!(authority_of("h.example?x"), "");
        assert_eq!(pinned_authority("https://[::1]/"), "[::1]:443");
        assert_eq!(pinned_authority("HTTP://Example.com"), "Example.com:80");
        // Not an authority: nothing is allowed, rather than the text itself.
        for bad in ["not a url", "", "http://", "host:notaport", "a b:80"] {
            assert_eq!(authority_of(bad), "", "{bad:?}");
            assert_eq!(split_host_port(bad), None, "{bad:?}");
        }
        let p = CallPolicy::deny_all()
            .allow_http("http://[::1]:8080/api")
            .allow_http("not a url");
        assert!(p.allows_http("[::1]", 8080, 80));
        assert!(p.allows_http("::1", 8080, 80));
        assert!(!p.allows_http("::1", 80, 80));
        assert!(!p.allows_http("not a url", 80, 80));
        assert_eq!(
            split_host_port("name:514"),
            Some(("name".into(), Some(514)))
        );
        assert_eq!(split_host_port("name"), Some(("name".into(), None)));
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
