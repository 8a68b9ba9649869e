//! The cassette file: one hook call's HTTP exchanges, in versioned,
//! human-diffable YAML (format [`FORMAT_VERSION`]).
//!
//! ```yaml
//! meshroom_cassette: 1
//! adapter: {product: caddy, version: 0.1.0, digest: "sha256:…"}
//! call:
//!   hook: caddy.logs.setup
//!   kind: setup
//!   context: {instance: {…}, plug: {…}}   # what the hook was called with
//! result: {outputs: {…}, secret_outputs: [token]}   # what it returned
//! interactions:
//! - request:
//!     method: POST
//!     url: http://127.0.0.1:2019/config/apps/http/servers/srv0/logs
//!     headers: {content-type: application/json, authorization: "Bearer {{secret:token}}"}
//!     body: {json: {default_logger_name: meshroom}}
//!   response:
//!     status: 200
//!     headers: {content-type: application/json}
//!     body: {text: "ok\n"}
//!     duration_ms: 3
//! ```
//!
//! A body is one of `json:` (kept as YAML; whitespace is not kept),
//! `text:` (UTF-8), `base64:` (binary), or `file: sha256:<hex>` (a body
//! over [`LARGE_BODY`] bytes, kept beside the cassette in
//! `bodies/<hex>`, content-addressed); no `body:` is an empty body.
//! Secret values never appear: each is `{{secret:NAME}}`, and
//! credential headers without a known secret are `{{redacted}}`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::CassetteError;

/// The version of the cassette format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Bodies larger than this are kept in their own content-addressed file.
pub const LARGE_BODY: usize = 16 * 1024;

/// The folder (beside the cassettes of a recording) of large bodies.
pub const BODIES_DIR: &str = "bodies";

/// One cassette: the exchanges of one hook call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cassette {
    /// The format version ([`FORMAT_VERSION`]).
    pub meshroom_cassette: u32,
    /// The adapter that made the exchanges.
    pub adapter: AdapterStamp,
    /// The hook call.
    pub call: CallStamp,
    /// What the call returned (its outputs, check state, produce report,
    /// trigger/execute result or watch batches), secret values excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// The exchanges, in the order they were made.
    #[serde(default)]
    pub interactions: Vec<Interaction>,
}

/// Which adapter recorded a cassette.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterStamp {
    /// The product.
    pub product: String,
    /// The adapter's version.
    pub version: String,
    /// The component's digest.
    pub digest: String,
}

/// The hook call a cassette recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallStamp {
    /// The hook id.
    pub hook: String,
    /// Its kind (`setup`, `check`…).
    pub kind: String,
    /// The context it was called with (a `HookContext` as JSON).
    #[serde(default)]
    pub context: serde_json::Value,
    /// Its other input: trigger/execute params, or the produce batch.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub input: serde_json::Value,
    /// The secrets it asked the host for (names; the values are never kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
}

/// One request and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    /// What the adapter sent.
    pub request: Request,
    /// What the product answered.
    pub response: Response,
}

/// A recorded request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// `GET`, `POST`…
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Headers, lowercase names.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, HeaderValue>,
    /// The body (absent: empty).
    #[serde(default, skip_serializing_if = "Body::is_empty")]
    pub body: Body,
}

/// A recorded response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers, lowercase names.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, HeaderValue>,
    /// The body (absent: empty).
    #[serde(default, skip_serializing_if = "Body::is_empty")]
    pub body: Body,
    /// From the request to the end of the response, when recorded.
    #[serde(default)]
    pub duration_ms: u64,
}

/// A header's value, or its values when it was sent several times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeaderValue {
    /// Sent once.
    One(String),
    /// Sent several times, in order.
    Many(Vec<String>),
}

impl HeaderValue {
    /// Every value, in order.
    pub fn values(&self) -> Vec<&str> {
        match self {
            HeaderValue::One(v) => vec![v.as_str()],
            HeaderValue::Many(vs) => vs.iter().map(String::as_str).collect(),
        }
    }
}

/// A body: exactly one of the fields, or none for an empty body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// A JSON document, kept as YAML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    /// UTF-8 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Binary, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// A large body in `bodies/<hex>` beside the cassette: `sha256:<hex>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl Body {
    /// No body.
    pub fn is_empty(&self) -> bool {
        self.json.is_none() && self.text.is_none() && self.base64.is_none() && self.file.is_none()
    }

    /// The body of `bytes`: JSON when it parses as an object or array,
    /// else text when UTF-8, else base64; over [`LARGE_BODY`], the bytes
    /// go to `large` (which keeps them and returns their name).
    pub fn encode(
        bytes: &[u8],
        large: &mut dyn FnMut(&[u8]) -> Result<String, CassetteError>,
    ) -> Result<Body, CassetteError> {
        if bytes.is_empty() {
            return Ok(Body::default());
        }
        if bytes.len() > LARGE_BODY {
            return Ok(Body {
                file: Some(large(bytes)?),
                ..Body::default()
            });
        }
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes)
            && (json.is_object() || json.is_array())
        {
            return Ok(Body {
                json: Some(json),
                ..Body::default()
            });
        }
        Ok(match std::str::from_utf8(bytes) {
            Ok(text) => Body {
                text: Some(text.to_string()),
                ..Body::default()
            },
            Err(_) => Body {
                base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                ..Body::default()
            },
        })
    }

    /// The bytes of this body (large bodies read from `dir`, checked
    /// against their digest).
    pub fn bytes(&self, cassette: &Path, dir: &Path) -> Result<Vec<u8>, CassetteError> {
        let bad = |file: &str, why: String| CassetteError::Body {
            path: cassette.to_path_buf(),
            file: file.to_string(),
            why,
        };
        if let Some(json) = &self.json {
            return Ok(serde_json::to_vec(json).unwrap_or_default());
        }
        if let Some(text) = &self.text {
            return Ok(text.as_bytes().to_vec());
        }
        if let Some(b64) = &self.base64 {
            return base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| bad("base64", format!("is not valid base64: {e}")));
        }
        if let Some(file) = &self.file {
            let hex = file
                .strip_prefix("sha256:")
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| bad(file, "is not of the form sha256:<64 hex digits>".into()))?;
            let path = dir.join(BODIES_DIR).join(hex);
            let bytes = std::fs::read(&path)
                .map_err(|e| bad(file, format!("cannot be read at `{}`: {e}", path.display())))?;
            if hex::encode(Sha256::digest(&bytes)) != hex {
                return Err(bad(
                    file,
                    format!(
                        "at `{}` does not match its digest (altered?)",
                        path.display()
                    ),
                ));
            }
            return Ok(bytes);
        }
        Ok(Vec::new())
    }

    fn fields(&self) -> usize {
        [
            self.json.is_some(),
            self.text.is_some(),
            self.base64.is_some(),
            self.file.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }
}

impl Cassette {
    /// Reads and checks a cassette: its version first (an unknown one is
    /// refused with the version found), then its shape (errors give the
    /// line and column).
    pub fn load(path: &Path) -> Result<Cassette, CassetteError> {
        let text = std::fs::read_to_string(path).map_err(|source| CassetteError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of the cassette at `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Cassette, CassetteError> {
        let malformed = |line: usize, column: usize, message: String| CassetteError::Malformed {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        let yaml_error = |e: serde_yaml_ng::Error| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            malformed(line, column, e.to_string())
        };
        // A cassette may come with a pulled product: nesting is bounded
        // before the parser sees it (found with its fuzz target: 60 KB of `[` took
        // minutes).
        if let Some((line, column)) = meshroom_fsutil::yaml_too_deep(text.as_bytes()) {
            return Err(malformed(
                line,
                column,
                format!(
                    "nested more than {} levels deep (`[`, `{{`); not parsed",
                    meshroom_fsutil::MAX_YAML_FLOW_DEPTH
                ),
            ));
        }
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(yaml_error)?;
        match value.get("meshroom_cassette") {
            None => {
                return Err(malformed(
                    1,
                    1,
                    "not a meshroom cassette: no `meshroom_cassette:` format version".into(),
                ));
            }
            Some(serde_yaml_ng::Value::Number(n)) if n.as_u64() == Some(FORMAT_VERSION as u64) => {}
            Some(other) => {
                let found = serde_yaml_ng::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                return Err(CassetteError::Version {
                    path: path.to_path_buf(),
                    found,
                    supported: FORMAT_VERSION,
                });
            }
        }
        let cassette: Cassette = serde_yaml_ng::from_str(text).map_err(yaml_error)?;
        for (i, it) in cassette.interactions.iter().enumerate() {
            for (side, body) in [
                ("request", &it.request.body),
                ("response", &it.response.body),
            ] {
                if body.fields() > 1 {
                    return Err(malformed(
                        0,
                        0,
                        format!(
                            "interaction {}: the {side} body has more than one of `json`, `text`, `base64`, `file`",
                            i + 1
                        ),
                    ));
                }
            }
        }
        Ok(cassette)
    }

    /// The YAML text of this cassette, with a header comment.
    pub fn to_yaml(&self) -> String {
        let body = serde_yaml_ng::to_string(self).unwrap_or_default();
        format!(
            "# meshroom cassette (format {FORMAT_VERSION}): the HTTP exchanges of one hook call.\n# Secrets are `{{{{secret:NAME}}}}`; see `meshroom test --help`.\n{body}"
        )
    }
}

/// Every cassette (`*.yaml`) below `dir`, sorted.
pub fn cassettes_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != BODIES_DIR) {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
