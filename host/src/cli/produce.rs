//! `meshroom produce`: send records (one per line, from stdin or a file)
//! through a plug or to an instance, in batches, with its produce hook.
//!
//! A reader thread splits the input into lines and hands over whatever is
//! available; the sender groups them into batches (up to `--batch-size`
//! records and 4 MiB), flushing a partial batch when no input came for
//! `--linger-ms` (so typing lines interactively works), and calls the hook
//! once per batch, in order.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::sync::mpsc;

use super::Context;
use super::common::{known, load_scope, mode_parser, stdout_error};
use super::duration::show;
use super::exit::{EXIT_CODES, hook_failure};
use crate::engine::exercise::Exercise;
use crate::project::{Mode, Scope};
use crate::runtime::ProduceReport;

/// Largest batch, in bytes (records plus their count), so one call stays
/// well under an adapter's memory cap.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// Send records through a plug's (or an instance's) produce hook: one record per line of
/// stdin (or `--file`), in batches; prints each batch's result. On a plug the producer
/// side's hook is used, else the consumer side's hook emulates the producer.
#[derive(Debug, clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct ProduceArgs {
    /// The topic (e.g. events, alerts)
    pub topic: String,
    /// The instance; with DST, the producing end of the plug
    pub instance: String,
    /// The consuming instance: produce through the plug INSTANCE --[TOPIC]-> DST
    pub dst: Option<String>,
    /// The plug's mode; any when omitted
    #[arg(short, long, value_parser = mode_parser())]
    pub mode: Option<Mode>,
    /// Read records from this file instead of stdin (one per line; blank lines are skipped)
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Most records per hook call
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// Send a partial batch when no new record arrived for this long (milliseconds)
    #[arg(long, default_value_t = 200)]
    pub linger_ms: u64,
    #[command(flatten)]
    pub tape: super::tape::TapeArgs,
}

/// A chunk of records read at once, or a read error.
type Chunk = Result<Vec<Vec<u8>>, String>;

/// Reads lines (without their line ending; blank ones skipped) and sends
/// them in chunks of what was available without blocking.
fn read_records<R: std::io::Read>(
    mut input: std::io::BufReader<R>,
    tx: mpsc::Sender<Chunk>,
    max_chunk: usize,
    what: &str,
) {
    let mut chunk = Vec::new();
    let mut line_no = 0u64;
    loop {
        let mut line = Vec::new();
        let read = std::io::Read::take(&mut input, MAX_BATCH_BYTES as u64 + 1)
            .read_until(b'\n', &mut line);
        match read {
            Ok(0) => break,
            Ok(_) => {
                line_no += 1;
                if line.len() > MAX_BATCH_BYTES {
                    let _ = tx.blocking_send(Err(format!(
                        "line {line_no} of {what} is longer than {MAX_BATCH_BYTES} bytes"
                    )));
                    return;
                }
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                if !line.iter().all(u8::is_ascii_whitespace) {
                    chunk.push(line);
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(format!("failed to read {what}: {e}")));
                return;
            }
        }
        // Hand over when the chunk is full, or before a read that may block.
        if !chunk.is_empty()
            && (chunk.len() >= max_chunk || input.buffer().is_empty())
            && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err()
        {
            return;
        }
    }
    if !chunk.is_empty() {
        let _ = tx.blocking_send(Ok(chunk));
    }
}

/// Groups chunks into batches of at most `max` records and
/// [`MAX_BATCH_BYTES`], flushing a partial batch after `linger` without input.
pub struct Batches {
    rx: mpsc::Receiver<Chunk>,
    pending: std::collections::VecDeque<Vec<u8>>,
    max: usize,
    linger: Duration,
    done: bool,
}

impl Batches {
    fn new(rx: mpsc::Receiver<Chunk>, max: usize, linger: Duration) -> Self {
        Batches {
            rx,
            pending: Default::default(),
            max,
            linger,
            done: false,
        }
    }

    fn take_batch(&mut self) -> Vec<Vec<u8>> {
        let mut bytes = 0;
        let mut n = 0;
        for r in &self.pending {
            if n == self.max || (n > 0 && bytes + r.len() + 4 > MAX_BATCH_BYTES) {
                break;
            }
            bytes += r.len() + 4;
            n += 1;
        }
        self.pending.drain(..n).collect()
    }

    /// The next batch; `None` at the end of the input.
    pub async fn next(&mut self) -> anyhow::Result<Option<Vec<Vec<u8>>>> {
        loop {
            if self.pending.len() >= self.max || (self.done && !self.pending.is_empty()) {
                return Ok(Some(self.take_batch()));
            }
            if self.done {
                return Ok(None);
            }
            let got = if self.pending.is_empty() {
                self.rx.recv().await
            } else {
                match tokio::time::timeout(self.linger, self.rx.recv()).await {
                    Ok(got) => got,
                    Err(_) => return Ok(Some(self.take_batch())),
                }
            };
            match got {
                Some(Ok(chunk)) => self.pending.extend(chunk),
                Some(Err(e)) => bail!(e),
                None => self.done = true,
            }
        }
    }
}

/// Starts reading the input on its own thread.
fn start_reader(file: Option<&PathBuf>, max: usize) -> anyhow::Result<mpsc::Receiver<Chunk>> {
    let (tx, rx) = mpsc::channel(8);
    match file {
        Some(path) => {
            let f = std::fs::File::open(path)
                .with_context(|| format!("failed to open `{}`", path.display()))?;
            let what = format!("`{}`", path.display());
            std::thread::spawn(move || {
                read_records(
                    std::io::BufReader::with_capacity(256 << 10, f),
                    tx,
                    max,
                    &what,
                )
            });
        }
        None => {
            if std::io::stdin().is_terminal() {
                tracing::info!("reading records from the terminal, one per line; end with Ctrl-D");
            }
            std::thread::spawn(move || {
                let stdin = std::io::stdin();
                read_records(
                    std::io::BufReader::with_capacity(256 << 10, stdin.lock()),
                    tx,
                    max,
                    "stdin",
                )
            });
        }
    }
    Ok(rx)
}

/// Runs `meshroom produce`.
pub fn exec(args: ProduceArgs, ctx: &Context) -> anyhow::Result<()> {
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
            Exercise::Produce,
            &args.topic,
            &args.instance,
            args.dst.as_deref(),
            args.mode,
            deck.clone(),
        )
        .await?;
        let hook = target.choice.hook.id.clone();
        tracing::info!(hook = %hook, product = %target.adapter.product(), "producing through {}", target.what);
        let max = args.batch_size as usize;
        let mut batches = Batches::new(
            start_reader(args.file.as_ref(), max)?,
            max,
            Duration::from_millis(args.linger_ms),
        );
        let progress = std::io::stderr().is_terminal() && !ctx.quiet;
        let started = Instant::now();
        let mut last_progress = started;
        let (mut sent, mut accepted, mut n) = (0u64, 0u64, 0u64);
        let mut out = std::io::stdout().lock();
        while let Some(batch) = batches.next().await? {
            n += 1;
            let len = batch.len() as u64;
            let report = target
                .adapter
                .produce(&hook, &target.context, &batch, &target.policy)
                .await
                .map_err(|e| {
                    if progress {
                        eprintln!();
                    }
                    hook_failure(e).context(format!(
                        "batch {n} failed; {sent} record(s) in {} batch(es) were sent before it",
                        n - 1
                    ))
                })?;
            sent += len;
            accepted += u64::from(report.accepted);
            write_batch(&mut out, n, len, &report, ctx.json).map_err(stdout_error)?;
            if progress && last_progress.elapsed() >= Duration::from_millis(200) {
                last_progress = Instant::now();
                let rate = sent as f64 / started.elapsed().as_secs_f64().max(1e-9);
                eprint!("\r{sent} record(s) sent in {n} batch(es), {rate:.0}/s   ");
            }
        }
        out.flush().map_err(stdout_error)?;
        if progress {
            eprint!("\r\x1b[K");
        }
        if !ctx.quiet {
            eprintln!(
                "produced {sent} record(s) in {n} batch(es), {accepted} accepted, in {}",
                show(started.elapsed())
            );
        }
        Ok(())
    });
    super::tape::finish(deck.as_ref(), ctx)?;
    result
}

/// Writes one batch's result: a line of text, or a JSON line.
fn write_batch(
    out: &mut impl Write,
    n: u64,
    len: u64,
    report: &ProduceReport,
    json: bool,
) -> std::io::Result<()> {
    if json {
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({"batch": n, "records": len, "accepted": report.accepted, "detail": report.detail}),
        )?;
        writeln!(out)
    } else if report.detail.is_empty() {
        writeln!(
            out,
            "batch {n}: {len} record(s), {} accepted",
            report.accepted
        )
    } else {
        writeln!(
            out,
            "batch {n}: {len} record(s), {} accepted: {}",
            report.accepted,
            super::terminal::for_stdout(&report.detail)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn batches_of(input: &'static [u8], max: usize) -> Vec<Vec<String>> {
        let (tx, rx) = mpsc::channel(2);
        std::thread::spawn(move || {
            read_records(
                std::io::BufReader::with_capacity(16, input),
                tx,
                max,
                "test",
            )
        });
        let mut b = Batches::new(rx, max, Duration::from_millis(50));
        let mut out = Vec::new();
        while let Some(batch) = b.next().await.unwrap() {
            out.push(
                batch
                    .into_iter()
                    .map(|r| String::from_utf8(r).unwrap())
                    .collect(),
            );
        }
        out
    }

    #[tokio::test]
    async fn lines_become_ordered_batches() {
        let got = batches_of(b"a\r\nb\n\n   \nc\nd\ne", 2).await;
        assert_eq!(got, [vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
        let flat: Vec<String> = batches_of(b"1\n2\n3\n4\n5\n6\n7\n", 3).await.concat();
        assert_eq!(flat, ["1", "2", "3", "4", "5", "6", "7"]);
    }

    #[tokio::test]
    async fn a_partial_batch_is_sent_when_input_pauses() {
        let (tx, rx) = mpsc::channel(2);
        let mut b = Batches::new(rx, 100, Duration::from_millis(30));
        tx.send(Ok(vec![b"x".to_vec()])).await.unwrap();
        let started = Instant::now();
        let batch = b.next().await.unwrap().unwrap();
        assert_eq!(batch, [b"x".to_vec()]);
        assert!(started.elapsed() >= Duration::from_millis(30));
        drop(tx);
        assert!(b.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn batches_are_bounded_in_bytes() {
        let (tx, rx) = mpsc::channel(2);
        let mut b = Batches::new(rx, 1000, Duration::from_millis(10));
        let big = vec![b'x'; MAX_BATCH_BYTES / 3];
        tx.send(Ok(vec![big.clone(), big.clone(), big.clone(), big]))
            .await
            .unwrap();
        drop(tx);
        let first = b.next().await.unwrap().unwrap();
        assert_eq!(first.len(), 2);
        let second = b.next().await.unwrap().unwrap();
        assert_eq!(second.len(), 2);
        assert!(b.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_overlong_line_is_an_error_naming_it() {
        let (tx, rx) = mpsc::channel(2);
        let long: &'static [u8] = Box::leak(vec![b'y'; MAX_BATCH_BYTES + 10].into_boxed_slice());
        std::thread::spawn(move || {
            read_records(
                std::io::BufReader::new(std::io::Read::chain(&b"ok\n"[..], long)),
                tx,
                10,
                "stdin",
            )
        });
        let mut b = Batches::new(rx, 10, Duration::from_millis(10));
        let mut err = None;
        for _ in 0..3 {
            match b.next().await {
                Err(e) => {
                    err = Some(e);
                    break;
                }
                Ok(None) => break,
                Ok(Some(_)) => {}
            }
        }
        let err = err.expect("an error");
        assert!(
            err.to_string().contains("line 2 of stdin is longer"),
            "{err}"
        );
    }
}
