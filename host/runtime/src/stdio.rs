//! The adapter's stdout and stderr: what a guest prints (a Python hook's
//! `print`, a traceback, a Rust panic message) goes to the host's log,
//! bounded, with the secrets served to the call redacted; the last few KiB
//! of stderr are kept to explain a crash. Writes never block nor fail, so
//! a chatty adapter cannot stall or break a hook call. Nothing here reaches
//! stdout of the host: stdout is for results.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// How much of stderr is kept to explain a crash.
const TAIL: usize = 4096;
/// Most lines of one stream logged per call (then one "dropped" note).
const MAX_LINES: usize = 200;
/// Longest line logged.
const MAX_LINE: usize = 2048;

#[derive(Default)]
struct Buffers {
    /// The raw tail (stderr: the crash explanation).
    tail: VecDeque<u8>,
    /// The line being written.
    partial: Vec<u8>,
    /// Complete lines not logged yet.
    lines: Vec<String>,
    /// Lines seen in this call (kept or dropped).
    seen: usize,
}

/// One output stream of the guest.
#[derive(Clone, Default)]
pub(crate) struct LogPipe(Arc<Mutex<Buffers>>);

impl LogPipe {
    fn keep(&self, bytes: &[u8]) {
        let Ok(mut b) = self.0.lock() else { return };
        b.tail.extend(bytes);
        let excess = b.tail.len().saturating_sub(TAIL);
        b.tail.drain(..excess);
        for &c in bytes {
            if c == b'\n' {
                let line = std::mem::take(&mut b.partial);
                b.push_line(line);
            } else if b.partial.len() < MAX_LINE {
                b.partial.push(c);
            }
        }
    }

    /// The kept tail, as text.
    pub fn tail(&self) -> String {
        match self.0.lock() {
            Ok(b) => {
                let bytes: Vec<u8> = b.tail.iter().copied().collect();
                String::from_utf8_lossy(&bytes).trim().to_string()
            }
            Err(_) => String::new(),
        }
    }

    /// Takes the complete lines written since the last call (and the
    /// unfinished one when `all`), plus how many were dropped over the cap.
    pub fn take_lines(&self, all: bool) -> (Vec<String>, usize) {
        let Ok(mut b) = self.0.lock() else {
            return (Vec::new(), 0);
        };
        if all && !b.partial.is_empty() {
            let line = std::mem::take(&mut b.partial);
            b.push_line(line);
        }
        let lines = std::mem::take(&mut b.lines);
        (lines, b.seen.saturating_sub(MAX_LINES))
    }
}

impl Buffers {
    fn push_line(&mut self, line: Vec<u8>) {
        self.seen += 1;
        if self.seen <= MAX_LINES {
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            self.lines.push(text);
        }
    }
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogPipe {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    /// Written synchronously: the default adapter hands every write to a
    /// task, about half a millisecond per `eprintln!` of the adapter.
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl wasmtime_wasi::p2::Pollable for LogPipe {
    /// Always ready: writes never block.
    async fn ready(&mut self) {}
}

impl wasmtime_wasi::p2::OutputStream for LogPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> wasmtime_wasi::p2::StreamResult<()> {
        self.keep(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> wasmtime_wasi::p2::StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> wasmtime_wasi::p2::StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for LogPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_the_tail_kept() {
        let p = LogPipe::default();
        p.keep(b"one\ntw");
        p.keep(b"o\n");
        let (lines, dropped) = p.take_lines(false);
        assert_eq!(lines, ["one", "two"]);
        assert_eq!(dropped, 0);
        for i in 0..(MAX_LINES + 5) {
            p.keep(format!("line {i}\n").as_bytes());
        }
        let (lines, dropped) = p.take_lines(true);
        assert_eq!(lines.len(), MAX_LINES - 2);
        assert_eq!(dropped, 7);
        assert!(p.tail().ends_with(&format!("line {}", MAX_LINES + 4)));
        assert!(p.tail().len() <= TAIL);
    }
}
