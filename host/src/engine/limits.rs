//! A product's own bounds: the `limits:` key of its `definition.yaml`
//! (`NAME: VALUE` pairs, as `--limit NAME=VALUE`), applied over the
//! runtime's (the defaults, or what the command line set). The bounds
//! themselves, and what each means, live in `runtime::Limits`; this module
//! only reads the key and must not define bounds of its own.
//!
//! ```yaml
//! limits:
//!   outputs_bytes: 256KiB   # this product's setup records large outputs
//!   watch_batch: 50000
//! ```

use serde_json::Value;

use crate::project::Product;
use crate::runtime::Limits;

use super::error::EngineError;

/// `base` with the product's `limits:` applied; `None` when it has none.
pub fn limits_of(product: &Product, base: Limits) -> Result<Option<Limits>, EngineError> {
    let Some(spec) = product.definition.extra.get("limits") else {
        return Ok(None);
    };
    let bad = |message: String| EngineError::LimitsFormat {
        definition: product.definition_path(),
        message,
    };
    let Value::Object(spec) = spec else {
        return Err(bad(
            "expected a mapping like `outputs_bytes: 128KiB`".to_string()
        ));
    };
    let mut limits = base;
    for (name, value) in spec {
        let value = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => {
                return Err(bad(format!(
                    "`{name}`: expected a number or a size, not `{other}`"
                )));
            }
        };
        limits.set(name, &value).map_err(bad)?;
    }
    Ok(Some(limits))
}

/// Checks the nesting of a YAML text an adapter returned (a pulled
/// definition) before it is parsed, in one linear pass that allocates
/// nothing: flow collections (`[`, `{`, counted even inside quotes) at
/// most `max_depth` deep, and block
/// nesting (indentation columns, each leading `- ` or `? ` counting as two)
/// at most 4 × `max_depth` columns. A parser given 200,000 nested `[`
/// otherwise works for minutes outside every time limit.
pub fn check_yaml_nesting(text: &str, max_depth: usize) -> Result<(), String> {
    // Every bracket counts, quoted or not: without parsing, a stray `'` or
    // `"` in a plain scalar must not hide what follows.
    let mut flow = 0usize;
    let mut depth = 0usize;
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                flow = flow.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if flow > max_depth {
            break;
        }
    }
    if flow > max_depth {
        return Err(format!(
            "it nests flow collections (`[`, `{{`) more than {max_depth} levels deep (`json_depth`); not parsed"
        ));
    }
    let max_columns = max_depth.saturating_mul(4);
    for (n, line) in text.lines().enumerate() {
        let bytes = line.as_bytes();
        let mut i = bytes.iter().take_while(|b| **b == b' ').count();
        while i + 1 < bytes.len() && matches!(bytes[i], b'-' | b'?') && bytes[i + 1] == b' ' {
            i += 2;
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
        }
        if i > max_columns {
            return Err(format!(
                "line {} is nested {i} columns deep, more than {max_columns} (4 × `json_depth`); not parsed",
                n + 1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_yaml_is_refused_before_parsing() {
        let deep = format!("x: {}", "[".repeat(200_000));
        assert!(
            check_yaml_nesting(&deep, 64)
                .unwrap_err()
                .contains("64 levels")
        );
        let dashes = format!("x:\n{}y\n", "- ".repeat(1000));
        assert!(
            check_yaml_nesting(&dashes, 64)
                .unwrap_err()
                .contains("line 2")
        );
        let fine = "name: a\nconsumes:\n  events:\n    - mode: push\n      format: '[[['\n";
        let hidden = format!("x: it's {}", "[".repeat(1000));
        assert!(
            check_yaml_nesting(&hidden, 64).is_err(),
            "a stray quote hides nothing"
        );
        check_yaml_nesting(fine, 64).unwrap();
    }
}
