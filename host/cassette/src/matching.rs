//! Which recorded request answers a live one: method, URL, headers and
//! body must be equal (after both are scrubbed of secrets), except what a
//! scenario's [`MatchRules`] relax. The differences are listed field by
//! field, so a request that matches nothing fails with a diff against
//! the closest recorded one.

use serde::Deserialize;
use serde_json::Value;
use serde_json_path::JsonPath;

use crate::error::CassetteError;
use crate::redact::{REDACTED, is_credential_header};

/// Headers never compared: the transport sets them, not the adapter.
const VOLATILE_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "user-agent",
    "date",
    "accept-encoding",
    "connection",
    "transfer-encoding",
    "traceparent",
    "tracestate",
    "x-request-id",
];

/// What an ignored JSON value is compared as.
const IGNORED: &str = "{{ignored}}";

/// How many differences a diff lists.
const MAX_DIFFERENCES: usize = 6;

/// How requests are matched to recorded ones (a scenario's `match:`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRules {
    /// `in-order` (default): each request must match the next recorded
    /// one; `any`: any recorded request not used yet.
    #[serde(default)]
    pub order: Order,
    /// Headers not compared (beyond those the transport sets).
    #[serde(default)]
    pub ignore_headers: Vec<String>,
    /// JSONPath expressions (RFC 9535) of body values not compared, e.g.
    /// `$.objects[*].id`.
    #[serde(default)]
    pub ignore_json: Vec<String>,
}

/// The order in which recorded requests are used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Each request matches the next recorded one.
    #[default]
    InOrder,
    /// Each request matches any recorded one not used yet.
    Any,
}

/// [`MatchRules`], compiled.
pub(crate) struct Matcher {
    pub order: Order,
    ignore_headers: Vec<String>,
    paths: Vec<JsonPath>,
}

/// A request as compared: scrubbed of secrets.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Shape {
    /// `METHOD URL`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.url)
    }
}

impl MatchRules {
    /// Checks and compiles the rules.
    pub(crate) fn compile(&self) -> Result<Matcher, CassetteError> {
        let paths = self
            .ignore_json
            .iter()
            .map(|p| {
                JsonPath::parse(p).map_err(|e| CassetteError::Rule {
                    rule: p.clone(),
                    why: format!("not a JSONPath expression: {e}"),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Matcher {
            order: self.order,
            ignore_headers: self
                .ignore_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            paths,
        })
    }
}

impl Matcher {
    /// The differences between a recorded request and a live one (empty:
    /// they match).
    pub fn differences(&self, recorded: &Shape, live: &Shape) -> Vec<String> {
        let mut out = Vec::new();
        if !recorded.method.eq_ignore_ascii_case(&live.method) {
            out.push(format!(
                "method: recorded {}, got {}",
                recorded.method, live.method
            ));
        }
        if recorded.url != live.url {
            out.push(format!(
                "url: recorded {}, got {}",
                cut(&recorded.url),
                cut(&live.url)
            ));
        }
        self.header_differences(recorded, live, &mut out);
        self.body_differences(&recorded.body, &live.body, &mut out);
        out.truncate(MAX_DIFFERENCES);
        out
    }

    fn compared(&self, name: &str) -> bool {
        !VOLATILE_HEADERS.contains(&name) && !self.ignore_headers.iter().any(|h| h == name)
    }

    fn header_differences(&self, recorded: &Shape, live: &Shape, out: &mut Vec<String>) {
        let values = |shape: &Shape, name: &str| -> Vec<String> {
            shape
                .headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .collect()
        };
        let mut names: Vec<&str> = recorded
            .headers
            .iter()
            .chain(&live.headers)
            .map(|(n, _)| n.as_str())
            .filter(|n| self.compared(n))
            .collect();
        names.dedup();
        let mut seen = Vec::new();
        for name in names {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let (r, l) = (values(recorded, name), values(live, name));
            // Credentials are compared by presence: their values are
            // secrets, scrubbed on both sides.
            let credential = is_credential_header(name);
            let same = r.len() == l.len()
                && (credential || r.iter().zip(&l).all(|(r, l)| r == REDACTED || r == l));
            if same {
                continue;
            }
            out.push(match (r.is_empty(), l.is_empty()) {
                (false, true) => format!("header {name}: recorded {:?}, not sent", r.join(", ")),
                (true, false) => format!("header {name}: sent {:?}, not recorded", l.join(", ")),
                _ => format!(
                    "header {name}: recorded {:?}, got {:?}",
                    r.join(", "),
                    l.join(", ")
                ),
            });
        }
    }

    fn body_differences(&self, recorded: &[u8], live: &[u8], out: &mut Vec<String>) {
        let parse = |b: &[u8]| serde_json::from_slice::<Value>(b).ok();
        if let (Some(mut r), Some(mut l)) = (parse(recorded), parse(live)) {
            self.ignore(&mut r);
            self.ignore(&mut l);
            json_differences("$", &r, &l, out);
            return;
        }
        if recorded == live {
            return;
        }
        let (r, l) = (
            String::from_utf8_lossy(recorded),
            String::from_utf8_lossy(live),
        );
        let (rl, ll): (Vec<&str>, Vec<&str>) = (r.lines().collect(), l.lines().collect());
        let n = rl.len().max(ll.len());
        for i in 0..n {
            let (a, b) = (rl.get(i).copied(), ll.get(i).copied());
            if a != b {
                out.push(format!(
                    "body line {}: recorded {:?}, got {:?}",
                    i + 1,
                    cut(a.unwrap_or("(end)")),
                    cut(b.unwrap_or("(end)"))
                ));
                return;
            }
        }
        out.push(format!(
            "body: recorded {} bytes, got {} bytes",
            recorded.len(),
            live.len()
        ));
    }

    /// Replaces every value an `ignore_json` rule selects.
    fn ignore(&self, value: &mut Value) {
        for path in &self.paths {
            let pointers: Vec<String> = path
                .query_located(value)
                .locations()
                .map(|l| l.to_json_pointer())
                .collect();
            for p in pointers {
                if let Some(v) = value.pointer_mut(&p) {
                    *v = Value::String(IGNORED.into());
                }
            }
        }
    }
}

fn json_differences(path: &str, recorded: &Value, live: &Value, out: &mut Vec<String>) {
    if out.len() >= MAX_DIFFERENCES {
        return;
    }
    match (recorded, live) {
        (Value::Object(r), Value::Object(l)) => {
            for (k, rv) in r {
                let p = member(path, k);
                match l.get(k) {
                    Some(lv) => json_differences(&p, rv, lv, out),
                    None => out.push(format!("body {p}: recorded {}, missing", show(rv))),
                }
            }
            for (k, lv) in l {
                if !r.contains_key(k) {
                    out.push(format!(
                        "body {}: not recorded, got {}",
                        member(path, k),
                        show(lv)
                    ));
                }
            }
        }
        (Value::Array(r), Value::Array(l)) => {
            for i in 0..r.len().max(l.len()) {
                let p = format!("{path}[{i}]");
                match (r.get(i), l.get(i)) {
                    (Some(rv), Some(lv)) => json_differences(&p, rv, lv, out),
                    (Some(rv), None) => {
                        out.push(format!("body {p}: recorded {}, missing", show(rv)))
                    }
                    (None, Some(lv)) => {
                        out.push(format!("body {p}: not recorded, got {}", show(lv)))
                    }
                    (None, None) => {}
                }
            }
        }
        (r, l) if r != l => out.push(format!(
            "body {path}: recorded {}, got {}",
            show(r),
            show(l)
        )),
        _ => {}
    }
}

fn member(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", serde_json::to_string(key).unwrap_or_default())
    }
}

fn show(v: &Value) -> String {
    cut(&v.to_string())
}

fn cut(s: &str) -> String {
    const MAX: usize = 120;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(body: &str) -> Shape {
        Shape {
            method: "POST".into(),
            url: "http://127.0.0.1:1/x".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn json_bodies_differ_by_path_and_rules_relax_them() {
        let strict = MatchRules::default().compile().expect("rules");
        let (r, l) = (
            shape(r#"{"a":{"b":[1,2]},"id":"x"}"#),
            shape(r#"{"a":{"b":[1,3]},"id":"y"}"#),
        );
        assert_eq!(
            strict.differences(&r, &l),
            vec![
                "body $.a.b[1]: recorded 2, got 3".to_string(),
                "body $.id: recorded \"x\", got \"y\"".to_string()
            ]
        );
        let relaxed = MatchRules {
            ignore_json: vec!["$.id".into(), "$.a.b[*]".into()],
            ..MatchRules::default()
        }
        .compile()
        .expect("rules");
        assert!(relaxed.differences(&r, &l).is_empty());
    }

    #[test]
    fn headers_compare_except_volatile_ignored_and_redacted() {
        let m = MatchRules {
            ignore_headers: vec!["X-Trace".into()],
            ..MatchRules::default()
        }
        .compile()
        .expect("rules");
        let mut r = shape("{}");
        let mut l = shape("{}");
        r.headers.push(("authorization".into(), REDACTED.into()));
        l.headers
            .push(("authorization".into(), "Bearer whatever".into()));
        l.headers.push(("user-agent".into(), "x".into()));
        l.headers.push(("x-trace".into(), "1".into()));
        assert!(m.differences(&r, &l).is_empty());
        l.headers.push(("accept".into(), "text/plain".into()));
        assert_eq!(
            m.differences(&r, &l),
            vec!["header accept: sent \"text/plain\", not recorded".to_string()]
        );
    }

    #[test]
    fn a_bad_json_path_is_refused_with_the_rule() {
        let err = MatchRules {
            ignore_json: vec!["$.[".into()],
            ..MatchRules::default()
        }
        .compile()
        .err()
        .expect("refused");
        assert!(err.to_string().contains("`$.[`"), "{err}");
    }
}
