//! What the registry commands share: flags, the configured client, a progress bar.

use std::io::{IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex};

use meshroom_registry::{Progress, ProgressEvent, Registry};

use super::Context;

/// Flags shared by the commands that talk to an OCI registry.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryFlags {
    /// Allow plain HTTP to a registry that is not on loopback (loopback always may use HTTP)
    #[arg(long)]
    pub insecure: bool,
}

/// The registry client for a command: the user's cache, credentials and default
/// image-layout registry; a progress bar on a terminal, nothing otherwise.
pub fn registry(ctx: &Context, flags: &RegistryFlags) -> anyhow::Result<Registry> {
    let registry = Registry::from_env()?.insecure(flags.insecure);
    Ok(
        if !ctx.quiet && !ctx.json && std::io::stderr().is_terminal() {
            registry.with_progress(Arc::new(Bar::default()))
        } else {
            registry
        },
    )
}

/// A one-line progress bar on stderr: blobs done / total, bytes moved.
#[derive(Default)]
struct Bar {
    state: Mutex<BarState>,
}

#[derive(Default)]
struct BarState {
    seen: usize,
    done: usize,
    bytes: u64,
    current: String,
}

impl Progress for Bar {
    fn event(&self, event: ProgressEvent) {
        let Ok(mut s) = self.state.lock() else { return };
        match event {
            ProgressEvent::Started { what, size, .. } => {
                s.seen += 1;
                s.bytes += size;
                s.current = what;
            }
            ProgressEvent::Finished { .. } => s.done += 1,
            ProgressEvent::Skipped { what, .. } => {
                s.seen += 1;
                s.done += 1;
                s.current = format!("{what} (already there)");
            }
        }
        let filled = (s.done * 20)
            .checked_div(s.seen.max(1))
            .unwrap_or(0)
            .min(20);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K[{}{}] {}/{} blobs, {:.1} MiB moved — {}",
            "#".repeat(filled),
            " ".repeat(20 - filled),
            s.done,
            s.seen,
            s.bytes as f64 / 1048576.0,
            s.current
        );
        let _ = err.flush();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
}
