//! meshroom adapter for rsyslog receiving events on a TCP input (`imtcp`).
//!
//! rsyslog has no API to configure remotely: its capability is declared so
//! plugs resolve (the producer's setup owns both ends, e.g. Caddy's), and
//! its one hook sends test events to its own `address` over TCP:
//!
//! - produce (consumer, `events`): each record of the batch becomes one
//!   line. On a plug whose format is `json`, records go as they are (one
//!   JSON document per line); otherwise each is wrapped as an RFC 5424
//!   message (`<134>1 TIMESTAMP HOST APP - MSGID - MSG`, app = the producing
//!   instance, msgid = the topic), unless it already is a syslog line.

use adapter_support::{About, now_rfc3339_millis};
use meshroom_sdk::tcp::TcpLineSender;
use meshroom_sdk::{Adapter, Context, Error, Hook, Mode, ProduceReport, Result, log};

struct Rsyslog;

impl Adapter for Rsyslog {
    const PRODUCT: &'static str = "rsyslog";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn hooks() -> Vec<Hook> {
        vec![
            Hook::produce("send_events", send_events)
                .consumer()
                .topic("events")
                .mode(Mode::Push)
                .title("Send events to rsyslog's TCP input (RFC 5424 or JSON lines)"),
        ]
    }
}

/// Facility local0 (16), severity informational (6).
const PRI: u8 = 16 * 8 + 6;

fn send_events(ctx: &Context, batch: Vec<Vec<u8>>) -> Result<ProduceReport> {
    let instance = ctx.instance()?;
    let address = instance.setting_str("address")?.to_string();
    let plug = ctx.plug.as_ref();
    let json_lines = plug.and_then(|p| p.format.as_deref()) == Some("json");
    let app = header_field(plug.map_or("meshroom", |p| p.src.name.as_str()), 48);
    let msgid = header_field(plug.map_or("events", |p| p.topic.as_str()), 32);
    let host = header_field(plug.map_or("meshroom", |p| p.src.product.as_str()), 255);

    let lines: Vec<Vec<u8>> = batch
        .iter()
        .map(|record| {
            let record = one_line(record);
            if json_lines || is_syslog(&record) {
                record
            } else {
                let mut line = format!(
                    "<{PRI}>1 {} {host} {app} - {msgid} - ",
                    now_rfc3339_millis()
                )
                .into_bytes();
                line.extend_from_slice(&record);
                line
            }
        })
        .collect();
    if lines.is_empty() {
        return Ok(ProduceReport {
            accepted: 0,
            detail: "empty batch: nothing sent".into(),
        });
    }
    let what = format!("rsyslog TCP input at {address}");
    let mut sender = TcpLineSender::connect(&address).about(&what)?;
    let sent = sender.send_lines(&lines).about(&what)?;
    sender.finish().about(&what)?;
    let format = if json_lines { "JSON lines" } else { "RFC 5424" };
    log::info(&format!("sent {sent} event(s) to {what} ({format})"));
    Ok(ProduceReport {
        accepted: u32::try_from(sent).map_err(|_| Error::failed("batch too large"))?,
        detail: format!("sent {sent} line(s) to {address} as {format}"),
    })
}

/// The record on one line: line breaks would split it into several messages.
fn one_line(record: &[u8]) -> Vec<u8> {
    let trimmed = record.strip_suffix(b"\n").unwrap_or(record);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    trimmed
        .iter()
        .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
        .collect()
}

/// True for a line that already starts with a syslog priority (`<NNN>`).
fn is_syslog(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"<") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    (1..=3).contains(&digits) && rest.get(digits) == Some(&b'>')
}

/// An RFC 5424 header field: printable ASCII without spaces, at most `max`
/// characters, `-` when empty.
fn header_field(text: &str, max: usize) -> String {
    let field: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if field.is_empty() { "-".into() } else { field }
}

meshroom_sdk::export!(Rsyslog);
