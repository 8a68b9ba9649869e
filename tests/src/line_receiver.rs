//! An in-process TCP server collecting newline-framed lines from any number of
//! connections (what a log shipper sends: JSON lines, syslog over TCP). A final
//! line without its newline is kept when the sender closes.

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::inproc::{InProcServer, set_busy_timeout, wait_for_data};

#[derive(Debug, Default)]
struct Shared {
    lines: Mutex<Vec<String>>,
    arrived: Condvar,
    connections: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<String>> {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        let line = text.trim_end_matches(['\n', '\r']).to_string();
        self.lock().push(line);
        self.arrived.notify_all();
    }
}

/// A running receiver; dropping it stops it and frees its port.
#[derive(Debug)]
pub struct TcpLineReceiver {
    shared: Arc<Shared>,
    server: InProcServer,
}

impl TcpLineReceiver {
    /// Starts listening on a free port of 127.0.0.1.
    pub fn start() -> Result<Self> {
        let shared = Arc::new(Shared::default());
        let server = {
            let shared = Arc::clone(&shared);
            InProcServer::start("tcp-line-receiver", move |stream, stop| {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                collect_lines(stream, stop, &shared);
            })?
        };
        Ok(Self { shared, server })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Every line received so far (without its line ending), in arrival order.
    pub fn lines(&self) -> Vec<String> {
        self.shared.lock().clone()
    }

    /// How many connections were accepted so far.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` lines arrived, returning all of them.
    pub fn wait_for_lines(&self, n: usize, timeout: Duration) -> Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut lines = self.shared.lock();
        while lines.len() < n {
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "the TCP line receiver got {} line(s) in {timeout:?}, expected {n}:\n{}",
                    lines.len(),
                    lines.join("\n")
                );
            }
            lines = self
                .shared
                .arrived
                .wait_timeout(lines, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        Ok(lines.clone())
    }
}

fn collect_lines(stream: TcpStream, stop: &AtomicBool, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    let mut partial = Vec::new();
    while wait_for_data(&mut reader, stop) {
        if !set_busy_timeout(&reader) {
            break;
        }
        // A line may arrive in pieces: keep what came until its newline does.
        match reader.read_until(b'\n', &mut partial) {
            Ok(0) => break,
            Ok(_) if partial.ends_with(b"\n") => shared.push(&std::mem::take(&mut partial)),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    if !partial.is_empty() {
        shared.push(&partial);
    }
}
