//! A TCP line sender over `wasi:sockets`, for products that receive
//! newline-delimited records (syslog over TCP, JSON lines…). The host lets
//! it connect only to the addresses the product's policy allows.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use wasip2::io::streams::{InputStream, OutputStream};
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::ip_name_lookup::resolve_addresses;
use wasip2::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

use crate::{Error, Result};

/// wasi:io's limit for one blocking write.
const WRITE_CHUNK: usize = 4096;
/// How long [`TcpLineSender::finish`] waits for the receiver to close.
const FINISH_WAIT: Duration = Duration::from_secs(5);

/// An open TCP connection that sends one record per line.
pub struct TcpLineSender {
    // Field order is drop order: streams must go before their socket.
    input: InputStream,
    output: OutputStream,
    socket: TcpSocket,
    peer: String,
}

impl TcpLineSender {
    /// Connects to `host:port` (an IP address, or a name the host resolves).
    pub fn connect(address: &str) -> Result<Self> {
        let addr = resolve(address)?;
        let network = instance_network();
        let family = if addr.is_ipv4() {
            IpAddressFamily::Ipv4
        } else {
            IpAddressFamily::Ipv6
        };
        let socket = create_tcp_socket(family).map_err(|e| sock_error(address, e))?;
        socket
            .start_connect(&network, to_wasi(addr))
            .map_err(|e| sock_error(address, e))?;
        let (input, output) = loop {
            match socket.finish_connect() {
                Ok(streams) => break streams,
                Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
                Err(e) => return Err(sock_error(address, e)),
            }
        };
        Ok(TcpLineSender {
            input,
            output,
            socket,
            peer: address.to_string(),
        })
    }

    /// Sends one record followed by `\n` (a trailing newline in `line` is not doubled).
    pub fn send_line(&mut self, line: &[u8]) -> Result<()> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.push(b'\n');
        self.write(&buf)
    }

    /// Sends many records, one per line, in as few writes as possible.
    pub fn send_lines<I, L>(&mut self, lines: I) -> Result<usize>
    where
        I: IntoIterator<Item = L>,
        L: AsRef<[u8]>,
    {
        let mut buf = Vec::new();
        let mut n = 0;
        for line in lines {
            let line = line.as_ref();
            buf.extend_from_slice(line.strip_suffix(b"\n").unwrap_or(line));
            buf.push(b'\n');
            n += 1;
        }
        self.write(&buf)?;
        Ok(n)
    }

    /// Ends the connection cleanly: tells the receiver nothing more comes,
    /// then waits (up to 5 s) until it closes its side, i.e. until it has
    /// read every line. Records sent over successive connections then
    /// arrive in order. Dropping the sender instead just closes it.
    pub fn finish(self) -> Result<()> {
        self.socket
            .shutdown(ShutdownType::Send)
            .map_err(|e| sock_error(&self.peer, e))?;
        let deadline = wasip2::clocks::monotonic_clock::subscribe_duration(
            u64::try_from(FINISH_WAIT.as_nanos()).unwrap_or(u64::MAX),
        );
        let readable = self.input.subscribe();
        loop {
            match self.input.read(WRITE_CHUNK as u64) {
                // What the receiver says is not ours to read.
                Ok(bytes) if !bytes.is_empty() => continue,
                Ok(_) => {
                    if wasip2::io::poll::poll(&[&readable, &deadline]).contains(&1) {
                        return Err(Error::Unreachable(format!(
                            "`{}` did not close the connection within {}s of the last line",
                            self.peer,
                            FINISH_WAIT.as_secs()
                        )));
                    }
                }
                // Closed: the receiver has read everything.
                Err(_) => return Ok(()),
            }
        }
    }

    fn write(&mut self, data: &[u8]) -> Result<()> {
        for chunk in data.chunks(WRITE_CHUNK) {
            self.output.blocking_write_and_flush(chunk).map_err(|e| {
                Error::Unreachable(format!("sending to `{}` failed: {e:?}", self.peer))
            })?;
        }
        Ok(())
    }
}

fn resolve(address: &str) -> Result<SocketAddr> {
    if let Ok(addr) = address.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| Error::InvalidConfig(format!("`{address}` is not a host:port address")))?;
    let port: u16 = port
        .parse()
        .map_err(|_| Error::InvalidConfig(format!("`{address}` has an invalid port")))?;
    let network = instance_network();
    let stream = resolve_addresses(&network, host).map_err(|e| sock_error(address, e))?;
    loop {
        match stream.resolve_next_address() {
            Ok(Some(ip)) => {
                let ip = match ip {
                    IpAddress::Ipv4((a, b, c, d)) => IpAddr::from([a, b, c, d]),
                    IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
                        IpAddr::from([a, b, c, d, e, f, g, h])
                    }
                };
                return Ok(SocketAddr::new(ip, port));
            }
            Ok(None) => return Err(Error::Unreachable(format!("`{host}` has no address"))),
            Err(ErrorCode::WouldBlock) => stream.subscribe().block(),
            Err(e) => return Err(sock_error(address, e)),
        }
    }
}

fn to_wasi(addr: SocketAddr) -> IpSocketAddress {
    match addr {
        SocketAddr::V4(a) => {
            let [x, y, z, w] = a.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: a.port(),
                address: (x, y, z, w),
            })
        }
        SocketAddr::V6(a) => {
            let s = a.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: a.port(),
                flow_info: a.flowinfo(),
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: a.scope_id(),
            })
        }
    }
}

fn sock_error(address: &str, e: ErrorCode) -> Error {
    match e {
        ErrorCode::AccessDenied | ErrorCode::NotSupported => Error::Unreachable(format!(
            "connecting to `{address}`: the sandbox policy does not allow it"
        )),
        other => Error::Unreachable(format!("connecting to `{address}`: {other:?}")),
    }
}
