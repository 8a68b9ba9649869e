//! Free loopback ports for services started by the harness.
//!
//! A port is found by binding `127.0.0.1:0` and reading what the kernel chose; the
//! listener is then closed so the service can bind it. Another process may take the
//! port in between, so every service start retries on a fresh port when the
//! service reports "address already in use" (see [`crate::process::start_with_retry`]).
//! Ports handed out recently are remembered so two tests of one process never get
//! the same one.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Ports handed out by this process, most recent last (bounded).
static HANDED_OUT: Mutex<VecDeque<u16>> = Mutex::new(VecDeque::new());
const REMEMBERED: usize = 512;

/// A TCP port on 127.0.0.1 that nothing listens on right now and that this
/// process has not handed out recently.
pub fn free_port() -> Result<u16> {
    Ok(free_ports(1)?[0])
}

/// `n` distinct free ports (all held open while choosing, so they differ).
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let mut held = Vec::with_capacity(n);
    let mut ports = Vec::with_capacity(n);
    let mut handed = HANDED_OUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut attempts = 0;
    while ports.len() < n {
        attempts += 1;
        if attempts > 1000 {
            bail!("could not find {n} free ports on 127.0.0.1 after 1000 attempts");
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("failed to bind 127.0.0.1:0 to find a free port")?;
        let port = listener
            .local_addr()
            .context("failed to read the address of a bound listener")?
            .port();
        if handed.contains(&port) {
            held.push(listener); // keep it so the kernel offers another one
            continue;
        }
        ports.push(port);
        held.push(listener);
    }
    for &port in &ports {
        if handed.len() >= REMEMBERED {
            handed.pop_front();
        }
        handed.push_back(port);
    }
    Ok(ports)
}

/// True when nothing accepts connections on `127.0.0.1:port` and it can be bound.
pub fn port_is_free(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        return false;
    }
    TcpListener::bind(addr).is_ok()
}

/// Waits until `port` is free (a stopped service released it), up to `timeout`.
pub fn wait_port_free(port: u16, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !port_is_free(port) {
        if Instant::now() > deadline {
            bail!("port 127.0.0.1:{port} is still in use after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// True when a process of the process group `pgid` (a service started by the
/// harness) holds a socket listening on `127.0.0.1:port`. Ready-checks use it so a
/// port taken by someone else is never mistaken for the service being up.
pub fn listened_by_group(pgid: u32, port: u16) -> bool {
    let Some(inode) = listening_inode(port) else {
        return false;
    };
    let target = format!("socket:[{inode}]");
    group_members(pgid).into_iter().any(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|entries| {
                entries.flatten().any(|entry| {
                    std::fs::read_link(entry.path())
                        .map(|link| link.as_os_str() == target.as_str())
                        .unwrap_or(false)
                })
            })
            .unwrap_or(false)
    })
}

/// The socket inode listening on 127.0.0.1:port (or 0.0.0.0:port), from /proc/net/tcp.
fn listening_inode(port: u16) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let wanted = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let listening = fields.get(3) == Some(&"0A");
        let local = fields.get(1)?;
        (listening && wanted.iter().any(|w| w == local))
            .then(|| fields.get(9).map(|s| s.to_string()))?
    })
}

/// Pids whose process group is `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![pgid];
    };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let (_, rest) = stat.rsplit_once(") ")?;
                    // state ppid pgrp …
                    rest.split_whitespace().nth(2)?.parse::<u32>().ok()
                })
                == Some(pgid)
        })
        .collect();
    if !pids.contains(&pgid) {
        pids.push(pgid);
    }
    pids
}
