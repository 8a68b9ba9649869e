//! Keeping secrets out of cassettes: every secret value of the call (what
//! the store handed the hook, and the secret outputs it returned) becomes
//! `{{secret:NAME}}`; credential headers with no known secret in them
//! become `{{redacted}}`. The same scrubbing is applied to live requests
//! before they are compared with recorded ones, so a replay with fake
//! secrets matches a recording made with real ones.

use zeroize::Zeroizing;

/// What a credential header without a known secret is written as.
pub const REDACTED: &str = "{{redacted}}";

/// Secrets shorter than this are not searched for (they would match
/// everywhere), as the runtime's own masking does.
const MIN_SECRET_LEN: usize = 3;

/// The secret values of one call, by name.
#[derive(Default)]
pub(crate) struct Secrets(Vec<(String, Zeroizing<String>)>);

impl Secrets {
    /// Remembers a secret (longest values are replaced first, so a secret
    /// containing another is replaced whole).
    pub fn learn(&mut self, name: &str, value: &str) {
        if value.len() < MIN_SECRET_LEN || self.0.iter().any(|(n, v)| n == name && **v == value) {
            return;
        }
        self.0
            .push((name.to_string(), Zeroizing::new(value.to_string())));
        self.0.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    }

    /// `text` with every known secret value (raw or JSON-escaped) replaced
    /// by its placeholder.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, value) in &self.0 {
            let placeholder = placeholder(name);
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &placeholder);
            }
            let escaped = serde_json::to_string(value.as_str()).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            if escaped != value.as_str() && out.contains(escaped) {
                out = out.replace(escaped, &placeholder);
            }
        }
        out
    }

    /// `bytes` scrubbed, when they are text; binary bodies are scrubbed
    /// byte-wise.
    pub fn scrub_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.scrub(text).into_bytes(),
            Err(_) => {
                let mut out = bytes.to_vec();
                for (name, value) in &self.0 {
                    out = replace_bytes(&out, value.as_bytes(), placeholder(name).as_bytes());
                }
                out
            }
        }
    }

    /// `text` with each placeholder of a known secret put back (what a
    /// replayed response gives the adapter).
    pub fn unscrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, value) in &self.0 {
            out = out.replace(&placeholder(name), value);
        }
        out
    }

    /// A header's value as a cassette keeps it.
    pub fn scrub_header(&self, name: &str, value: &str) -> String {
        let scrubbed = self.scrub(value);
        if is_credential_header(name) && !scrubbed.contains("{{secret:") {
            REDACTED.to_string()
        } else {
            scrubbed
        }
    }

    /// True when `text` holds a known secret value.
    pub fn leaks(&self, text: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, v)| text.contains(v.as_str()))
            .map(|(n, _)| n.as_str())
    }
}

/// The placeholder of the secret `name`.
pub fn placeholder(name: &str) -> String {
    format!("{{{{secret:{name}}}}}")
}

/// Headers that carry credentials (lowercase names).
pub fn is_credential_header(name: &str) -> bool {
    matches!(
        name,
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie" | "x-api-key" | "api-key"
    ) || name.contains("token")
        || name.contains("secret")
        || name.contains("password")
        || name.contains("auth")
}

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_become_placeholders_and_come_back() {
        let mut s = Secrets::default();
        s.learn("api_key", "k3y-VALUE");
        s.learn("short", "ab");
        let text = r#"{"key":"k3y-VALUE","other":"ab"}"#;
        let scrubbed = s.scrub(text);
        assert_eq!(scrubbed, r#"{"key":"{{secret:api_key}}","other":"ab"}"#);
        assert_eq!(s.unscrub(&scrubbed), text);
        assert_eq!(
            s.scrub_header("x-api-key", "k3y-VALUE"),
            "{{secret:api_key}}"
        );
        assert_eq!(s.scrub_header("cookie", "session=zzz"), REDACTED);
        assert_eq!(s.scrub_header("content-type", "text/plain"), "text/plain");
    }

    #[test]
    fn json_escaped_and_binary_secrets_are_scrubbed() {
        let mut s = Secrets::default();
        s.learn("pw", "a\"b\\c");
        assert_eq!(s.scrub(r#"{"pw":"a\"b\\c"}"#), r#"{"pw":"{{secret:pw}}"}"#);
        let mut bin = vec![0xff, 0xfe];
        bin.extend_from_slice(b"a\"b\\c");
        assert_eq!(
            s.scrub_bytes(&bin),
            [&[0xff, 0xfe][..], b"{{secret:pw}}"].concat()
        );
    }
}
