//! `--record DIR` / `--replay DIR`, shared by the commands that call hooks
//! (`up`, `down`, `check`, `produce`, `watch`, `trigger`, `execute`): the
//! adapters' HTTP exchanges go to cassettes, or come from them.

use std::path::PathBuf;

use anyhow::Context as _;
use meshroom_cassette::{Deck, MatchRules};

use super::Context;

/// Recording and replaying the adapters' HTTP exchanges.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TapeArgs {
    /// Record every HTTP exchange of each hook call into DIR: one cassette (YAML) per call, secrets replaced by `{{secret:NAME}}`; refused when DIR already holds cassettes, unless --force
    #[arg(long, value_name = "DIR", conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Answer the adapters' HTTP requests from the cassettes in DIR: no socket is opened, a request that matches no recorded one fails its hook with the difference, and nothing is saved to the project
    #[arg(long, value_name = "DIR")]
    pub replay: Option<PathBuf>,
    /// With --record: record over the cassettes already in DIR
    #[arg(long, requires = "record")]
    pub force: bool,
    /// With --replay: how requests match recorded ones, a YAML file like a scenario's `match:` (`order: any`, `ignore_headers: [...]`, `ignore_json: ['$.id']`)
    #[arg(long, value_name = "FILE", requires = "replay")]
    pub match_rules: Option<PathBuf>,
}

impl TapeArgs {
    /// The deck of this command, if it records or replays.
    pub fn deck(&self) -> anyhow::Result<Option<Deck>> {
        if let Some(dir) = &self.record {
            return Ok(Some(Deck::record(dir, self.force)?));
        }
        if let Some(dir) = &self.replay {
            anyhow::ensure!(
                dir.is_dir(),
                "--replay: `{}` is not a folder of cassettes (record one with --record)",
                dir.display()
            );
            let rules = match &self.match_rules {
                None => MatchRules::default(),
                Some(file) => {
                    let text = std::fs::read_to_string(file)
                        .with_context(|| format!("failed to read `{}`", file.display()))?;
                    serde_yaml_ng::from_str(&text).map_err(|e| {
                        let at = e
                            .location()
                            .map(|l| format!(":{}:{}", l.line(), l.column()))
                            .unwrap_or_default();
                        anyhow::anyhow!("{}{at}: {e}", file.display())
                    })?
                }
            };
            return Ok(Some(Deck::replay(dir, &rules)?));
        }
        Ok(None)
    }
}

/// Writes what `deck` recorded, or warns of what a replay left unused.
pub fn finish(deck: Option<&Deck>, ctx: &Context) -> anyhow::Result<()> {
    let Some(deck) = deck else {
        return Ok(());
    };
    if !deck.replaying() {
        let written = deck.save().context("cannot write the cassettes")?;
        if !ctx.quiet {
            eprintln!(
                "recorded {} cassette(s) in {}",
                written.len(),
                deck.dir().display()
            );
        }
        return Ok(());
    }
    for report in deck.reports() {
        if let Some(note) = &report.other_adapter {
            tracing::warn!("{note}");
        }
        if !report.unused.is_empty() {
            tracing::warn!(
                "{}: {} recorded request(s) were not made: {}",
                report.cassette.display(),
                report.unused.len(),
                report.unused.join(", ")
            );
        }
    }
    Ok(())
}
