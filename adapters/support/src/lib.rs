//! Helpers shared by meshroom's real product adapters (caddy, rsyslog,
//! crowdsec, medallion): wall-clock time as RFC 3339, the long poll of a watch
//! over an API that cannot push, random identifiers, and errors that name the
//! product.
//!
//! Everything here runs inside the sandbox: it only uses the WASI clocks and
//! random interfaces every adapter may import.

use std::time::Duration;

use meshroom_sdk::Error;

/// Seconds and nanoseconds since the Unix epoch, from `wasi:clocks/wall-clock`.
pub fn now_unix() -> (u64, u32) {
    let now = wasip2::clocks::wall_clock::now();
    (now.seconds, now.nanoseconds)
}

/// The current UTC time as RFC 3339 with seconds, e.g. `2026-11-27T21:42:13Z`.
pub fn now_rfc3339() -> String {
    rfc3339(now_unix().0)
}

/// The current UTC time as RFC 3339 with milliseconds (syslog timestamps).
pub fn now_rfc3339_millis() -> String {
    let (secs, nanos) = now_unix();
    let base = rfc3339(secs);
    let base = base.trim_end_matches('Z');
    format!("{base}.{:03}Z", nanos / 1_000_000)
}

/// `secs` since the Unix epoch as an RFC 3339 UTC timestamp.
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) of the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Sleeps without burning CPU (the host's CPU budget counts only running code).
pub fn sleep(duration: Duration) {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    wasip2::clocks::monotonic_clock::subscribe_duration(nanos).block();
}

/// A watch hook's long poll over an API that cannot push: calls `pull`
/// until it returns records or `wait` has passed, sleeping `every` between
/// calls; the last (possibly empty) batch is returned.
pub fn long_poll<T>(
    wait: Duration,
    every: Duration,
    mut pull: impl FnMut() -> meshroom_sdk::Result<Vec<T>>,
) -> meshroom_sdk::Result<Vec<T>> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let records = pull()?;
        if !records.is_empty() || std::time::Instant::now() >= deadline {
            return Ok(records);
        }
        sleep(every);
    }
}

/// A random RFC 4122 version 4 UUID, from `wasi:random/random`.
pub fn uuid_v4() -> String {
    let mut b = wasip2::random::random::get_random_bytes(16);
    b.resize(16, 0);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Prefixes an error's message with what was being talked to (e.g.
/// `caddy admin API at http://…`), keeping its kind, so the operator sees
/// the product first.
pub fn about(what: &str, e: Error) -> Error {
    let msg = format!("{what}: {}", e.message());
    match e {
        Error::InvalidConfig(_) => Error::InvalidConfig(msg),
        Error::Unauthorized(_) => Error::Unauthorized(msg),
        Error::Unreachable(_) => Error::Unreachable(msg),
        Error::NotSupported(_) => Error::NotSupported(msg),
        Error::Failed(_) => Error::Failed(msg),
    }
}

/// `Result::map_err(|e| about(what, e))` as a method.
pub trait About<T> {
    /// Prefixes the error, if any, with `what` (see [`about`]).
    fn about(self, what: &str) -> meshroom_sdk::Result<T>;
}

impl<T> About<T> for meshroom_sdk::Result<T> {
    fn about(self, what: &str) -> meshroom_sdk::Result<T> {
        self.map_err(|e| about(what, e))
    }
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses an IP address or CIDR range param (`203.0.113.7`, `2001:db8::1`,
/// `198.51.100.0/24`) and returns it normalised with its prefix length,
/// or an `invalid-config` error saying what is expected.
pub fn parse_ip_or_cidr(text: &str) -> meshroom_sdk::Result<(std::net::IpAddr, u8)> {
    let bad = || {
        Error::InvalidConfig(format!(
            "`{text}` is not an IP address or CIDR range (e.g. 203.0.113.7 or 198.51.100.0/24)"
        ))
    };
    let text = text.trim();
    let (ip, prefix) = match text.split_once('/') {
        Some((ip, p)) => (ip, Some(p.parse::<u8>().map_err(|_| bad())?)),
        None => (text, None),
    };
    let ip: std::net::IpAddr = ip.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    if prefix > max {
        return Err(bad());
    }
    Ok((ip, prefix))
}

/// The `ip` param of an execute call: `{"ip": "…"}` or a bare JSON string.
pub fn ip_param(params: &meshroom_sdk::Value) -> meshroom_sdk::Result<String> {
    let ip = match params {
        meshroom_sdk::Value::String(s) => Some(s.as_str()),
        other => other.get("ip").and_then(meshroom_sdk::Value::as_str),
    };
    ip.map(str::to_string).ok_or_else(|| {
        Error::InvalidConfig("param `ip` is required, e.g. `-p ip=203.0.113.7`".into())
    })
}

/// Standard base64 with padding (for HTTP basic auth).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_base64() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
    }

    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_817_533), "2026-11-27T22:12:13Z");
    }

    #[test]
    fn parses_ips() {
        assert_eq!(parse_ip_or_cidr("203.0.113.7").unwrap().1, 32);
        assert_eq!(parse_ip_or_cidr("2001:db8::1").unwrap().1, 128);
        assert_eq!(parse_ip_or_cidr("198.51.100.0/24").unwrap().1, 24);
        assert!(parse_ip_or_cidr("").is_err());
        assert!(parse_ip_or_cidr("10.0.0.1/33").is_err());
        assert!(parse_ip_or_cidr("10.0.0.1; rm").is_err());
    }
}
