//! What every command gets besides its own arguments.

use std::path::PathBuf;

use super::Cli;

/// Global options and lazily created shared resources, passed to every `exec`.
#[derive(Debug)]
pub struct Context {
    /// The project folder (`-p/--path`).
    pub project_dir: PathBuf,
    /// `--json`: results as JSON on stdout.
    pub json: bool,
    /// `-q`: print only results and errors.
    pub quiet: bool,
    /// `-d`: full error chains and debug logs.
    pub debug: bool,
}

impl Context {
    pub fn new(cli: &Cli) -> Self {
        Self {
            project_dir: cli.path.clone(),
            json: cli.json,
            quiet: cli.quiet,
            debug: cli.debug,
        }
    }

    /// A tokio runtime for commands that call adapters or the network.
    pub fn runtime(&self) -> anyhow::Result<tokio::runtime::Runtime> {
        use anyhow::Context as _;
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("failed to start the async runtime")
    }

    /// Whether stdin is an interactive terminal (prompts allowed).
    pub fn interactive(&self) -> bool {
        use std::io::IsTerminal;
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }
}
