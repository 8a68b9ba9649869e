//! What the registry commands share: flags, the configured client, progress
//! bars (indicatif; on a terminal only, never on a pipe or with `--json`).

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

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

/// Progress bars on stderr (indicatif, drawn only on a terminal): one line
/// of blobs done out of those seen, and a byte-level bar per blob while it
/// moves.
struct Bar {
    bars: MultiProgress,
    blobs: ProgressBar,
    moving: Mutex<HashMap<String, ProgressBar>>,
}

impl Default for Bar {
    fn default() -> Self {
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let blobs = bars.add(ProgressBar::new(0).with_style(style(
            "{prefix:>8} [{bar:20}] {pos}/{len} blobs — {wide_msg}",
        )));
        blobs.set_prefix("blobs");
        Bar {
            bars,
            blobs,
            moving: Mutex::new(HashMap::new()),
        }
    }
}

/// A bar style; a template that does not parse (a bug) falls back to the default.
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-")
}

impl Progress for Bar {
    fn event(&self, event: ProgressEvent) {
        let Ok(mut moving) = self.moving.lock() else {
            return;
        };
        match event {
            ProgressEvent::Started { digest, what, size } => {
                self.blobs.inc_length(1);
                self.blobs.set_message(what.clone());
                let bar = self.bars.add(ProgressBar::new(size).with_style(style(
                    "{prefix:>8} [{bar:20}] {bytes}/{total_bytes} {bytes_per_sec} — {wide_msg}",
                )));
                bar.set_prefix(short_digest(&digest));
                bar.set_message(what);
                moving.insert(digest, bar);
            }
            ProgressEvent::Transferred { digest, bytes } => {
                if let Some(bar) = moving.get(&digest) {
                    bar.set_position(bytes);
                }
            }
            ProgressEvent::Finished { digest } => {
                if let Some(bar) = moving.remove(&digest) {
                    bar.finish_and_clear();
                    self.bars.remove(&bar);
                }
                self.blobs.inc(1);
            }
            ProgressEvent::Skipped { what, .. } => {
                self.blobs.inc_length(1);
                self.blobs.inc(1);
                self.blobs.set_message(format!("{what} (already there)"));
            }
        }
    }
}

/// The first hex digits of a digest, as docker shows them.
fn short_digest(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(8).collect()
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.blobs.finish_and_clear();
        let _ = self.bars.clear();
    }
}
