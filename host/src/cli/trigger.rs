//! `meshroom trigger` and `meshroom execute`: call a trigger or execute hook
//! with typed JSON params and print its JSON result (exit codes per
//! adapter error kind: [`super::exit`]).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::{Map, Value};

use super::Context;
use super::common::{known, load_scope, mode_parser, print_json};
use super::exit::{EXIT_CODES, hook_failure};
use crate::engine::exercise::Exercise;
use crate::project::{Mode, Scope};

/// Arguments of `meshroom trigger` and `meshroom execute`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct ActionArgs {
    /// The topic (the command's name, e.g. `block_ip`)
    pub topic: String,
    /// The instance; with DST, the source (trigger) end of the plug
    pub instance: String,
    /// The destination (executor) instance: call the hook of the plug INSTANCE --[TOPIC]-> DST
    #[allow(rustdoc::broken_intra_doc_links)] // `[TOPIC]` is the plug notation of --help
    pub dst: Option<String>,
    /// The plug's mode; any when omitted
    #[arg(short, long, value_parser = mode_parser())]
    pub mode: Option<Mode>,
    /// A parameter `KEY=VALUE` (repeatable). VALUE is parsed as JSON when it is valid JSON
    /// (`3`, `2.5`, `true`, `null`, `[1,2]`, `{"a":1}`, `"007"` for the string 007), else
    /// taken as a string (`10.0.0.1`, `1h`)
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Read parameters from a file holding a JSON object (`-` for stdin); `-p` overrides its keys
    #[arg(long, value_name = "FILE")]
    pub params_json: Option<PathBuf>,
    #[command(flatten)]
    pub tape: super::tape::TapeArgs,
}

/// Parses one `-p KEY=VALUE`.
pub fn parse_param(raw: &str) -> anyhow::Result<(String, Value)> {
    let Some((key, value)) = raw.split_once('=') else {
        bail!(
            "invalid parameter `{raw}`: expected KEY=VALUE, e.g. `-p ip=10.0.0.1` or `-p duration=3600`"
        );
    };
    let key = key.trim();
    if key.is_empty() {
        bail!("invalid parameter `{raw}`: the key before `=` is empty");
    }
    let value =
        serde_json::from_str::<Value>(value).unwrap_or_else(|_| Value::String(value.to_string()));
    Ok((key.to_string(), value))
}

/// The params object: `--params-json` first, then every `-p` over it.
pub fn collect_params(params: &[String], params_json: Option<&Path>) -> anyhow::Result<Value> {
    let mut out = Map::new();
    if let Some(path) = params_json {
        let (text, name) = if path == Path::new("-") {
            use std::io::{IsTerminal, Read};
            if std::io::stdin().is_terminal() {
                bail!(
                    "`--params-json -` reads a JSON object from stdin, which is a terminal: pipe the JSON in or give a file"
                );
            }
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("failed to read the params from stdin")?;
            (s, "stdin".to_string())
        } else {
            let s = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read the params file `{}`", path.display()))?;
            (s, format!("`{}`", path.display()))
        };
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "invalid JSON in {name} at line {}, column {}: {e}",
                e.line(),
                e.column()
            )
        })?;
        match value {
            Value::Object(m) => out = m,
            other => bail!(
                "the params in {name} must be a JSON object (`{{\"key\": value}}`), not {}",
                kind_of(&other)
            ),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for raw in params {
        let (k, v) = parse_param(raw)?;
        if !seen.insert(k.clone()) {
            bail!(
                "parameter `{k}` is given twice with `-p`; give it once (a list is `-p {k}='[1,2]'`)"
            );
        }
        out.insert(k, v);
    }
    Ok(Value::Object(out))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Runs `meshroom trigger` (`exercise` = Trigger) or `meshroom execute`.
pub fn exec(args: ActionArgs, exercise: Exercise, ctx: &Context) -> anyhow::Result<()> {
    let params = collect_params(&args.params, args.params_json.as_deref())?;
    // The instance, its plugs and their other ends, and their products.
    let names: Vec<&String> = std::iter::once(&args.instance)
        .chain(args.dst.as_ref())
        .collect();
    let project = load_scope(ctx, &Scope::around(names.iter().copied().cloned()))?;
    known(ctx, &project, &names, None)?;
    let deck = args.tape.deck()?;
    let rt = ctx.runtime()?;
    let result = rt.block_on(async {
        let target = crate::engine::exercise::prepare(
            &project,
            exercise,
            &args.topic,
            &args.instance,
            args.dst.as_deref(),
            args.mode,
            deck.clone(),
        )
        .await?;
        tracing::info!(hook = %target.choice.hook.id, product = %target.adapter.product(), "calling {exercise} hook");
        let call = match exercise {
            Exercise::Trigger => {
                target
                    .adapter
                    .trigger(&target.choice.hook.id, &target.context, &params, &target.policy)
                    .await
            }
            _ => {
                target
                    .adapter
                    .execute(&target.choice.hook.id, &target.context, &params, &target.policy)
                    .await
            }
        };
        call.map_err(hook_failure)
    });
    super::tape::finish(deck.as_ref(), ctx)?;
    print_json(&result?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_are_typed() {
        let p = collect_params(
            &[
                "ip=10.0.0.1".into(),
                "duration=3600".into(),
                "ratio=0.5".into(),
                "permanent=true".into(),
                "tags=[\"a\",\"b\"]".into(),
                "opts={\"x\":1}".into(),
                "code=\"007\"".into(),
                "note=".into(),
                "expr=a=b".into(),
                "none=null".into(),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            p,
            json!({"ip": "10.0.0.1", "duration": 3600, "ratio": 0.5, "permanent": true,
                   "tags": ["a", "b"], "opts": {"x": 1}, "code": "007", "note": "",
                   "expr": "a=b", "none": null})
        );
    }

    #[test]
    fn bad_params_are_clear_errors() {
        let e = collect_params(&["novalue".into()], None).unwrap_err();
        assert!(e.to_string().contains("expected KEY=VALUE"), "{e}");
        let e = collect_params(&["=1".into()], None).unwrap_err();
        assert!(e.to_string().contains("key before `=` is empty"), "{e}");
        let e = collect_params(&["a=1".into(), "a=2".into()], None).unwrap_err();
        assert!(e.to_string().contains("given twice"), "{e}");
    }

    #[test]
    fn params_file_then_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(
            &f,
            r#"{"ip": "1.2.3.4", "duration": 60, "nested": {"a": [1]}}"#,
        )
        .unwrap();
        let p = collect_params(&["duration=120".into()], Some(&f)).unwrap();
        assert_eq!(
            p,
            json!({"ip": "1.2.3.4", "duration": 120, "nested": {"a": [1]}})
        );
        std::fs::write(&f, "[1, 2]").unwrap();
        let e = collect_params(&[], Some(&f)).unwrap_err();
        assert!(e.to_string().contains("must be a JSON object"), "{e}");
        std::fs::write(&f, "{\n  \"a\": 1,\n  oops\n}").unwrap();
        let e = collect_params(&[], Some(&f)).unwrap_err();
        assert!(e.to_string().contains("at line 3"), "{e}");
    }
}
