//! What every command gets besides its own arguments.

use std::path::PathBuf;
use std::time::Duration;

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
    /// `--lock-timeout`: how long a writer waits for the project's lock
    /// (`None`: the command's default, see [`super::lock`]).
    pub lock_timeout: Option<Duration>,
    /// The command's words (`meshroom secrets set`), written in the lock.
    pub command: String,
}

impl Context {
    pub fn new(cli: &Cli, command: String) -> Self {
        Self {
            project_dir: cli.path.clone(),
            json: cli.json,
            quiet: cli.quiet,
            debug: cli.debug,
            lock_timeout: cli.lock_timeout,
            command,
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
