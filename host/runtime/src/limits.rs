//! Every bound on what an adapter returns, and on what it makes the host
//! hold during one hook call, with its default, in one place.
//!
//! What an adapter returns is as untrusted as what it tries to reach: the
//! guest's memory cap does not bound what it makes the host copy, parse,
//! print or store. So each text, list, count and size crossing back from
//! the guest has a bound here, checked before the host allocates or scans
//! in proportion to it:
//!
//! | limit (`--limit NAME=…`) | default | what it bounds | over it |
//! |---|---|---|---|
//! | `answer_bytes` | 32 MiB | bytes the host copies out of the guest for one return value or one call into the host (wasmtime's hostcall fuel) | the call fails (`over-limit`), nothing is copied |
//! | `text_bytes` | 8 KiB | one error message, log line, check or produce detail | cut, marked `… (N bytes cut)` (printed and stored alike) |
//! | `title_bytes` | 256 | one hook title from `describe` | cut, marked |
//! | `log_lines` | 1,000 | log lines per call | further lines dropped, once reported |
//! | `log_bytes` | 256 KiB | log bytes per call (after cutting) | further lines dropped, once reported |
//! | `outputs_bytes` | 64 KiB | the JSON text of one outcome's outputs, and a plug's recorded outputs after merging | the hook fails (`over-limit`), nothing is stored |
//! | `secret_outputs` | 64 | secret outputs in one outcome (each value ≤ `outputs_bytes`) | the hook fails, nothing is stored |
//! | `result_bytes` | 1 MiB | the JSON result of trigger/execute | the hook fails, nothing is parsed |
//! | `json_depth` | 64 | nesting of any JSON (outputs, results) or pulled YAML, by a pre-scan before parsing | the hook fails, nothing is parsed |
//! | `watch_batch` | 10,000 | records in one watch batch | cut to the bound, with a warning |
//! | `hooks` | 512 | hooks listed by `describe` | loading the adapter fails |
//! | `resources` | 256 | entries of the store's resource table (HTTP fields, requests, bodies, streams, pollables, sockets) | the call traps and fails (`over-limit`) |
//! | `header_bytes` | 16 KiB | one HTTP fields resource, in wasmtime's in-memory measure (each header costs ≥ 72 bytes, so ≤ 227 headers) | the call fails (`over-limit`) |
//! | `body_chunk_bytes` | 64 KiB | one write into an outgoing HTTP body; at most two chunks are buffered per body | the guest is asked to write less |
//!
//! A produce report may not claim more accepted records than the batch
//! had (an adapter error). Scaffold and pull answers are further bounded
//! by the file limits of the engine (count, size per file, total), and
//! pulled definitions by their 4 MiB size and `json_depth` before YAML is
//! parsed. (The project loader bounds the flow nesting of every YAML file
//! it reads at 64 levels itself, `project::yaml`: the project model must
//! not depend on the runtime.)
//!
//! So the host holds at most, per call: the guest's memory (its cap) +
//! `answer_bytes` (one copy of a return value) + `resources` ×
//! (`header_bytes` + 2 × `body_chunk_bytes`), the worst case of buffered
//! HTTP state, + what parsing a `result_bytes` JSON builds.
//!
//! This module does no I/O and knows nothing of YAML or projects: it holds
//! the numbers, how to tune them (`NAME=VALUE`, sizes as `64KiB`, `4MiB`),
//! and the cheap checks that apply them (cutting a text, the nesting
//! pre-scan).

use std::borrow::Cow;

use serde::Serialize;

/// The bounds of one hook call (see the module docs for what each means).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Bytes copied out of the guest for one return value or host call.
    pub answer_bytes: usize,
    /// One error message, log line, check or produce detail.
    pub text_bytes: usize,
    /// One hook title.
    pub title_bytes: usize,
    /// Log lines per call.
    pub log_lines: usize,
    /// Log bytes per call.
    pub log_bytes: usize,
    /// JSON text of one outcome's outputs, and of a plug's recorded outputs.
    pub outputs_bytes: usize,
    /// Secret outputs in one outcome.
    pub secret_outputs: usize,
    /// JSON text of a trigger or execute result.
    pub result_bytes: usize,
    /// Nesting depth of JSON (and pulled YAML).
    pub json_depth: usize,
    /// Records in one watch batch.
    pub watch_batch: usize,
    /// Hooks listed by `describe`.
    pub hooks: usize,
    /// Resource-table entries of one store.
    pub resources: usize,
    /// In-memory bytes of one HTTP fields resource.
    pub header_bytes: usize,
    /// One write into an outgoing HTTP body.
    pub body_chunk_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            answer_bytes: 32 << 20,
            text_bytes: 8 << 10,
            title_bytes: 256,
            log_lines: 1000,
            log_bytes: 256 << 10,
            outputs_bytes: 64 << 10,
            secret_outputs: 64,
            result_bytes: 1 << 20,
            json_depth: 64,
            watch_batch: 10_000,
            hooks: 512,
            resources: 256,
            header_bytes: 16 << 10,
            body_chunk_bytes: 64 << 10,
        }
    }
}

/// The names accepted by [`Limits::set`], in the order of the docs.
pub const LIMIT_NAMES: &[&str] = &[
    "answer_bytes",
    "text_bytes",
    "title_bytes",
    "log_lines",
    "log_bytes",
    "outputs_bytes",
    "secret_outputs",
    "result_bytes",
    "json_depth",
    "watch_batch",
    "hooks",
    "resources",
    "header_bytes",
    "body_chunk_bytes",
];

impl Limits {
    /// Sets the limit `name` from `value` (a count, or a size such as
    /// `64KiB`, `4MiB`, `1GiB`); the error says what is accepted.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let n = parse_size(value).ok_or_else(|| {
            format!("`{value}` is not a number or a size like `64KiB` or `4MiB` (limit `{name}`)")
        })?;
        if n == 0 {
            return Err(format!("limit `{name}` must be more than 0"));
        }
        let slot = match name {
            "answer_bytes" => &mut self.answer_bytes,
            "text_bytes" => &mut self.text_bytes,
            "title_bytes" => &mut self.title_bytes,
            "log_lines" => &mut self.log_lines,
            "log_bytes" => &mut self.log_bytes,
            "outputs_bytes" => &mut self.outputs_bytes,
            "secret_outputs" => &mut self.secret_outputs,
            "result_bytes" => &mut self.result_bytes,
            "json_depth" => &mut self.json_depth,
            "watch_batch" => &mut self.watch_batch,
            "hooks" => &mut self.hooks,
            "resources" => &mut self.resources,
            "header_bytes" => &mut self.header_bytes,
            "body_chunk_bytes" => &mut self.body_chunk_bytes,
            _ => {
                return Err(format!(
                    "unknown limit `{name}` (known: {})",
                    LIMIT_NAMES.join(", ")
                ));
            }
        };
        *slot = n;
        Ok(())
    }

    /// Sets a limit from `NAME=VALUE`.
    pub fn set_pair(&mut self, pair: &str) -> Result<(), String> {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` is not NAME=VALUE (e.g. `outputs_bytes=128KiB`)"))?;
        self.set(name.trim(), value.trim())
    }
}

/// `123`, `64KiB`, `4MiB`, `1GiB` (also `k`/`M`/`G`, binary units).
fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim().replace('_', "");
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: usize = num.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    n.checked_mul(1usize << shift)
}

/// `text` cut to at most `max` bytes (at a character boundary), marked
/// `… (N bytes cut)`; unchanged when short enough.
pub fn cut(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{}… ({} bytes cut)",
        &text[..end],
        text.len() - end
    ))
}

/// [`cut`] into an owned string, reusing `text` when short enough.
pub fn cut_owned(text: String, max: usize) -> String {
    match cut(&text, max) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => s,
    }
}

/// The deepest nesting of `[`/`{` in JSON `text`, outside its strings.
/// Stops scanning as soon as `max` is passed, so it is linear and
/// allocates nothing.
pub fn nesting_depth(text: &str, max: usize) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for &b in text.as_bytes() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' && q == b'"' {
                escaped = true;
            } else if b == q {
                quote = None;
            }
            continue;
        }
        match b {
            b'"' => quote = Some(b'"'),
            b'[' | b'{' => {
                depth += 1;
                if depth > deepest {
                    deepest = depth;
                    if deepest > max {
                        return deepest;
                    }
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses JSON `text` an adapter returned, after checking its size and
/// nesting (both before any allocation grows with them); `what` names it.
pub fn parse_json(
    text: &str,
    max_bytes: usize,
    max_depth: usize,
    what: &str,
) -> Result<serde_json::Value, String> {
    check_json(text, max_bytes, max_depth, what)?;
    serde_json::from_str(text).map_err(|e| format!("adapter returned invalid JSON for {what}: {e}"))
}

/// The size and nesting checks of [`parse_json`], alone.
pub fn check_json(
    text: &str,
    max_bytes: usize,
    max_depth: usize,
    what: &str,
) -> Result<(), String> {
    if text.len() > max_bytes {
        return Err(format!(
            "adapter returned {what} of {} bytes, more than the limit of {} (`{}`)",
            text.len(),
            human(max_bytes),
            if what.contains("output") {
                "outputs_bytes"
            } else {
                "result_bytes"
            }
        ));
    }
    let depth = nesting_depth(text, max_depth);
    if depth > max_depth {
        return Err(format!(
            "adapter returned {what} nested more than {max_depth} levels deep (`json_depth`); not parsed"
        ));
    }
    Ok(())
}

/// A size for messages: `64 KiB`, `4 MiB`, or bytes.
pub fn human(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("64KiB"), Some(64 << 10));
        assert_eq!(parse_size("4 MiB"), Some(4 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("1_000"), Some(1000));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("5 parsecs"), None);
        let mut l = Limits::default();
        l.set_pair("outputs_bytes=128KiB").unwrap();
        assert_eq!(l.outputs_bytes, 128 << 10);
        assert!(
            l.set_pair("nope=1")
                .unwrap_err()
                .contains("known: answer_bytes")
        );
        assert!(l.set_pair("hooks=0").is_err());
        assert!(l.set_pair("hooks").is_err());
        for name in LIMIT_NAMES {
            l.set(name, "7").unwrap();
        }
        assert!(
            serde_json::to_value(l)
                .unwrap()
                .as_object()
                .unwrap()
                .values()
                .all(|v| v == 7),
            "every field is settable by name"
        );
    }

    #[test]
    fn cut_marks_what_it_cut_at_a_char_boundary() {
        assert_eq!(cut("short", 8), "short");
        assert_eq!(cut("abcdefghij", 4), "abcd… (6 bytes cut)");
        // 'é' is 2 bytes: never split.
        assert_eq!(cut("ééé", 3), "é… (4 bytes cut)");
    }

    #[test]
    fn nesting_is_counted_outside_strings_and_stops_early() {
        assert_eq!(nesting_depth(r#"{"a": [1, {"b": "[[[["}]}"#, 64), 3);
        assert_eq!(nesting_depth(r#""\"[[""#, 64), 0);
        let deep = "[".repeat(200_000);
        assert_eq!(nesting_depth(&deep, 64), 65);
        let err = parse_json(&deep, 1 << 20, 64, "the execute result").unwrap_err();
        assert!(err.contains("64 levels"), "{err}");
        let err = parse_json(&"1".repeat(2000), 1000, 64, "outputs").unwrap_err();
        assert!(
            err.contains("2000 bytes") && err.contains("outputs_bytes"),
            "{err}"
        );
        assert_eq!(
            parse_json("[[1]]", 100, 64, "x").unwrap(),
            serde_json::json!([[1]])
        );
    }
}
