//! `meshroom watch`: stream what a plug's (or an instance's) watch hook
//! yields, until the stream ends, Ctrl-C, `--timeout` or `--count`.

use std::io::Write;
use std::time::Duration;

use super::Context;
use super::common::{known, load_scope, mode_parser, stdout_error};
use super::duration::duration_parser;
use super::exit::{EXIT_CODES, hook_failure};
use crate::engine::exercise::Exercise;
use crate::project::{Mode, Scope};

/// Print what arrives through a plug (or on an instance) with its watch hook, one record per
/// line, until the stream ends, Ctrl-C, `--timeout` or `--count`. On a plug the consumer
/// side's hook is used, else the producer side's.
#[derive(Debug, clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct WatchArgs {
    /// The topic (e.g. events, alerts)
    pub topic: String,
    /// The instance; with DST, the producing end of the plug
    pub instance: String,
    /// The consuming instance: watch the plug INSTANCE --[TOPIC]-> DST
    pub dst: Option<String>,
    /// The plug's mode; any when omitted
    #[arg(short, long, value_parser = mode_parser())]
    pub mode: Option<Mode>,
    /// Stop after this long (`30s`, `5m`, or seconds; a clean stop, exit code 0)
    #[arg(long, value_name = "DURATION", value_parser = duration_parser())]
    pub timeout: Option<Duration>,
    /// Stop after this many records
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    #[command(flatten)]
    pub tape: super::tape::TapeArgs,
}

/// Why the watch stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Ended,
    Count,
    Timeout,
    Interrupted,
}

/// Writes one record: as is, or with `--json` as a JSON value on its own
/// line (the record itself when it is JSON, else a JSON string).
fn write_record(out: &mut impl Write, record: &str, json: bool) -> std::io::Result<()> {
    if json {
        // A record that is JSON is written as JSON, unless it is too large
        // or deep to parse safely (then as the exact string).
        let limits = crate::runtime::Limits::default();
        let parsed =
            crate::runtime::parse_json(record, limits.result_bytes, limits.json_depth, "a record");
        match parsed {
            Ok(v) => serde_json::to_writer(&mut *out, &v)?,
            Err(_) => serde_json::to_writer(&mut *out, record)?,
        }
        writeln!(out)
    } else {
        writeln!(out, "{}", super::terminal::for_stdout(record))
    }
}

/// Runs `meshroom watch`.
pub fn exec(args: WatchArgs, ctx: &Context) -> anyhow::Result<()> {
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
            Exercise::Watch,
            &args.topic,
            &args.instance,
            args.dst.as_deref(),
            args.mode,
            deck.clone(),
        )
        .await?;
        let hook = target.choice.hook.id.clone();
        tracing::info!(hook = %hook, product = %target.adapter.product(), "watching {}", target.what);
        let deadline = args
            .timeout
            .map(|d| tokio::time::Instant::now() + d);
        let sleep_until = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep_until);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);

        let (mut records, mut batches) = (0u64, 0u64);
        let stop = if args.count == Some(0) {
            Stop::Count
        } else {
            let mut watcher = tokio::select! {
                w = target.adapter.watch(&hook, &target.context, &target.policy) => w.map_err(hook_failure)?,
                _ = &mut sleep_until => return finish(ctx, Stop::Timeout, 0, 0),
                _ = &mut ctrl_c => return finish(ctx, Stop::Interrupted, 0, 0),
            };
            let mut out = std::io::stdout().lock();
            'outer: loop {
                let next = tokio::select! {
                    n = watcher.next() => n.map_err(|e| {
                        hook_failure(e).context(format!("the watch failed after {records} record(s)"))
                    })?,
                    _ = &mut sleep_until => break Stop::Timeout,
                    _ = &mut ctrl_c => break Stop::Interrupted,
                };
                let Some(batch) = next else {
                    break Stop::Ended;
                };
                batches += 1;
                for record in batch {
                    write_record(&mut out, &record, ctx.json).map_err(stdout_error)?;
                    records += 1;
                    if args.count.is_some_and(|c| records >= c) {
                        break 'outer Stop::Count;
                    }
                }
                out.flush().map_err(stdout_error)?;
            }
        };
        finish(ctx, stop, records, batches)
    });
    super::tape::finish(deck.as_ref(), ctx)?;
    result
}

fn finish(ctx: &Context, stop: Stop, records: u64, batches: u64) -> anyhow::Result<()> {
    std::io::stdout().flush().map_err(stdout_error)?;
    if !ctx.quiet {
        let why = match stop {
            Stop::Ended => "the stream ended",
            Stop::Count => "the count was reached",
            Stop::Timeout => "the timeout passed",
            Stop::Interrupted => "interrupted",
        };
        eprintln!("watched {records} record(s) in {batches} batch(es): {why}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_print_as_text_or_json_lines() {
        let mut out = Vec::new();
        write_record(&mut out, "plain text", false).unwrap();
        write_record(&mut out, "plain text", true).unwrap();
        write_record(&mut out, r#"{"a": 1}"#, true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain text\n\"plain text\"\n{\"a\":1}\n"
        );
    }
}
