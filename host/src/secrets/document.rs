//! The plaintext inside `secrets.age`: a small JSON document, so that
//! `age -d` shows something a human can read and fix:
//!
//! ```json
//! {"version": 1, "scopes": {"instance:sekoia/siem1": {"api_key": "…"},
//!                           "plug:edr1/siem1/events/push": {"intake_key": "…"}}}
//! ```
//!
//! Parse errors report line and column only: serde's messages can quote the
//! offending value, which here would be a secret.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{SecretScope, SecretValue};

/// Secrets by scope, then by name.
pub(crate) type Secrets = BTreeMap<SecretScope, BTreeMap<String, SecretValue>>;

/// The format version this build writes and reads.
pub(crate) const VERSION: u64 = 1;

/// Why a plaintext could not be read, with no secret in the text.
pub(crate) enum DocumentError {
    NewerVersion(u64),
    Invalid(String),
}

/// Serialises `secrets` into a buffer that is wiped when dropped. The buffer
/// is sized up front so it never reallocates (a reallocation would leave an
/// unwiped copy behind).
pub(crate) fn to_plaintext(secrets: &Secrets) -> Zeroizing<Vec<u8>> {
    // JSON escaping at most sextuples a character (`\u00XX`).
    let estimate: usize = secrets
        .iter()
        .map(|(scope, m)| {
            scope.to_string().len() * 6
                + 16
                + m.iter()
                    .map(|(k, v)| (k.len() + v.len()) * 6 + 16)
                    .sum::<usize>()
        })
        .sum::<usize>()
        + 64;
    let mut buf = Zeroizing::new(Vec::with_capacity(estimate));
    let doc = DocOut(secrets);
    // Writing to a Vec cannot fail and every key is a string.
    if serde_json::to_writer_pretty(&mut *buf, &doc).is_err() {
        buf.clear();
    }
    buf
}

/// Parses a plaintext document.
pub(crate) fn from_plaintext(bytes: &[u8]) -> Result<Secrets, DocumentError> {
    let doc: DocIn = serde_json::from_slice(bytes).map_err(|e| {
        DocumentError::Invalid(format!(
            "its content is not a meshroom secrets document ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    if doc.version > VERSION {
        return Err(DocumentError::NewerVersion(doc.version));
    }
    let mut out = Secrets::new();
    for (scope, values) in doc.scopes {
        let scope: SecretScope = scope
            .parse()
            .map_err(|e: super::SecretsError| DocumentError::Invalid(e.to_string()))?;
        let entry: &mut BTreeMap<String, SecretValue> = out.entry(scope).or_default();
        for (name, Loaded(value)) in values {
            entry.insert(name, value);
        }
    }
    Ok(out)
}

struct DocOut<'a>(&'a Secrets);

impl Serialize for DocOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Scopes<'a>(&'a Secrets);
        impl Serialize for Scopes<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (scope, values) in self.0 {
                    map.serialize_entry(&scope.to_string(), &Values(values))?;
                }
                map.end()
            }
        }
        struct Values<'a>(&'a BTreeMap<String, SecretValue>);
        impl Serialize for Values<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (name, value) in self.0 {
                    map.serialize_entry(name, value.expose())?;
                }
                map.end()
            }
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("version", &VERSION)?;
        map.serialize_entry("scopes", &Scopes(self.0))?;
        map.end()
    }
}

#[derive(Deserialize)]
struct DocIn {
    version: u64,
    #[serde(default)]
    scopes: BTreeMap<String, BTreeMap<String, Loaded>>,
}

/// A value read from the document, moved straight into a [`SecretValue`].
struct Loaded(SecretValue);

impl<'de> Deserialize<'de> for Loaded {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loaded;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string secret value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Loaded, E> {
                Ok(Loaded(SecretValue::new(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Loaded, E> {
                Ok(Loaded(SecretValue::new(v)))
            }
            // Other types are refused without echoing them.
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Loaded, A::Error> {
                Err(de::Error::custom("a secret value must be a string"))
            }
        }
        d.deserialize_string(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut s = Secrets::new();
        s.entry(SecretScope::instance("p", "i"))
            .or_default()
            .insert("api_key".into(), SecretValue::from("k\"\u{1}é"));
        s.entry(SecretScope::plug("a", "b", "events", "pull"))
            .or_default()
            .insert("token".into(), SecretValue::from("t"));
        let bytes = to_plaintext(&s);
        assert!(bytes.capacity() >= bytes.len());
        let back = from_plaintext(&bytes).ok().unwrap();
        assert_eq!(back.len(), 2);
        let v = &back[&SecretScope::instance("p", "i")]["api_key"];
        assert_eq!(v.expose(), "k\"\u{1}é");
    }

    #[test]
    fn errors_never_quote_values() {
        let bad = br#"{"version": 1, "scopes": {"instance:p/i": {"api_key": 12345678}}}"#;
        let Err(DocumentError::Invalid(msg)) = from_plaintext(bad) else {
            panic!("must fail")
        };
        assert!(!msg.contains("12345678"), "{msg}");
        let bad = br#"{"version": 1, "scopes": {"instance:p/i": "hunter2"}}"#;
        let Err(DocumentError::Invalid(msg)) = from_plaintext(bad) else {
            panic!("must fail")
        };
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(matches!(
            from_plaintext(br#"{"version": 2}"#),
            Err(DocumentError::NewerVersion(2))
        ));
    }
}
