//! The accept loop shared by the in-process test servers: binds 127.0.0.1:0 (no
//! port race: the listener is kept), hands each connection to a handler thread,
//! and stops on drop (the port is free once the value is gone).

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

/// How often idle connections look at the stop flag.
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(crate) struct InProcServer {
    port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    connections: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl InProcServer {
    /// Starts accepting; `handler` runs on its own thread per connection and should
    /// return soon after the stop flag is set.
    pub(crate) fn start<H>(name: &str, handler: H) -> Result<Self>
    where
        H: Fn(TcpStream, &AtomicBool) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .with_context(|| format!("{name}: failed to bind 127.0.0.1:0"))?;
        let port = listener
            .local_addr()
            .with_context(|| format!("{name}: failed to read its address"))?
            .port();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let accept = {
            let stop = Arc::clone(&stop);
            let connections = Arc::clone(&connections);
            std::thread::Builder::new()
                .name(format!("{name}-accept"))
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        let handler = Arc::clone(&handler);
                        let stop = Arc::clone(&stop);
                        let spawned = std::thread::Builder::new()
                            .name("inproc-connection".into())
                            .spawn(move || handler(stream, &stop));
                        if let Ok(handle) = spawned {
                            let mut list = connections
                                .lock()
                                .unwrap_or_else(|poisoned| poisoned.into_inner());
                            list.retain(|h: &JoinHandle<()>| !h.is_finished());
                            list.push(handle);
                        }
                    }
                })
                .with_context(|| format!("{name}: failed to spawn its accept thread"))?
        };
        Ok(Self {
            port,
            stop,
            accept: Some(accept),
            connections,
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for InProcServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(
            &(Ipv4Addr::LOCALHOST, self.port).into(),
            Duration::from_millis(500),
        );
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let handles = std::mem::take(
            &mut *self
                .connections
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for handle in handles {
            let _ = handle.join();
        }
    }
}

/// Waits until the connection has data (true), or is closed or the server stops
/// (false). Polls so a stopped server never waits on an idle client.
pub(crate) fn wait_for_data(reader: &mut BufReader<TcpStream>, stop: &AtomicBool) -> bool {
    if reader.get_ref().set_read_timeout(Some(POLL)).is_err() {
        return false;
    }
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        match reader.fill_buf() {
            Ok(buf) => return !buf.is_empty(),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Read timeout while a request or line is in flight.
pub(crate) fn set_busy_timeout(reader: &BufReader<TcpStream>) -> bool {
    reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .is_ok()
}
