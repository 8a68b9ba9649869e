//! The `meshroom` command line: one module per command, each with an `Args`
//! struct (its `///` docs are the `--help`) and an `exec` function.
//!
//! The CLI is the only layer that talks to the terminal: it parses, calls the
//! library, prints results on stdout (tables, or JSON with `--json`) and
//! everything else on stderr through `tracing`.

mod add;
mod build;
pub mod build_python;
mod check;
mod common;
mod configure;
mod context;
mod create;
mod duration;
pub mod exit;
pub mod graph;
mod init;
mod keys;
pub mod list;
pub mod lock;
mod logging;
mod oci;
mod plan;
mod plug;
mod produce;
pub mod publish;
pub mod pull;
mod python_scaffold;
pub mod registry;
mod remove;
mod scaffold;
pub mod secrets;
mod settings;
mod sign;
mod tape;
mod terminal;
mod test;
pub mod trigger;
mod ui;
mod up;
mod verify;
mod watch;

pub use context::Context;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::engine;
pub use exit::ExitError;
use exit::{exit_code_of, stdout_closed};

/// Build and run Cybersecurity Mesh Architectures: describe security products,
/// plug their instances together, and let sandboxed adapters configure them.
#[derive(Debug, Parser)]
#[allow(clippy::manual_non_exhaustive)]
#[command(
    name = "meshroom",
    version,
    disable_version_flag = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Path to the meshroom project directory
    #[arg(
        short = 'p',
        long = "path",
        default_value = ".",
        env = "MESHROOM_PROJECT"
    )]
    pub path: PathBuf,

    /// Show the version of meshroom
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: (),

    /// Print debug information and the full error chain on error
    #[arg(short = 'd', long, global = true)]
    pub debug: bool,

    /// Print only results and errors
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,

    /// Print results as JSON (on every listing command)
    #[arg(long, global = true)]
    pub json: bool,

    /// How long a command that changes the project waits for another one to finish (one writer
    /// per project): `30s`, `2m`, or `0` to fail at once. Default: 5s; `up` and `down` fail at
    /// once. Readers (listings, `plan`, `graph`, `check`) never wait
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "MESHROOM_LOCK_TIMEOUT",
        value_parser = duration::wait_parser()
    )]
    pub lock_timeout: Option<Duration>,

    #[command(subcommand)]
    pub command: Command,
}

/// Every `meshroom` command. Add a variant and a match arm in [`run`] per command.
#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::InitArgs),
    List(list::ListArgs),
    Create(create::CreateArgs),
    Add(add::AddArgs),
    Configure(configure::ConfigureArgs),
    Remove(remove::RemoveArgs),
    Plug(plug::PlugArgs),
    Unplug(plug::UnplugArgs),
    Graph(graph::GraphArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    Completions(CompletionsArgs),
    /// Manage the encrypted secrets store (secrets.age) and its recipients
    Secrets(secrets::SecretsArgs),
    /// Publish a product as an OCI artifact (`--to REF`), or run its catalog publish hooks
    Publish(publish::PublishArgs),
    /// Pull a published product into `products/` and lock its digest, or run a product's pull hooks
    Pull(pull::PullArgs),
    /// Manage credentials for OCI registries (login, logout)
    Registry(registry::RegistryArgs),
    Keys(keys::KeysArgs),
    Sign(sign::SignArgs),
    Verify(verify::VerifyArgs),
    Build(build::BuildArgs),
    Produce(produce::ProduceArgs),
    Watch(watch::WatchArgs),
    /// Fire a command through a plug (the trigger side's hook first, else the executor's) or
    /// on an instance with its trigger hook; typed params in, JSON result out
    Trigger(trigger::ActionArgs),
    /// Run a command through a plug (the executor side's hook first, else the trigger's) or on
    /// an instance with its execute hook; typed params in, JSON result out
    Execute(trigger::ActionArgs),
    Plan(plan::PlanArgs),
    Up(up::UpArgs),
    Down(up::DownArgs),
    Check(check::CheckArgs),
    Test(test::TestArgs),
    Ui(ui::UiArgs),
}

/// Arguments of `meshroom completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for
    pub shell: clap_complete::Shell,
}

/// Entry point of the binary: parses the command line and runs it.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    logging::init(cli.debug, cli.quiet);
    let ctx = Context::new(&cli, command_name(&matches));
    match run(cli.command, &ctx) {
        Ok(code) => code,
        // The reader of our output went away (`meshroom … | head`): stop
        // quietly, as Unix tools do.
        Err(err) if stdout_closed(&err) => ExitCode::SUCCESS,
        Err(err) => {
            report(&err, ctx.debug);
            ExitCode::from(exit_code_of(&err))
        }
    }
}

/// `meshroom` and its subcommand words (`meshroom secrets set`), without
/// arguments (they may carry setting values): who holds the project's lock.
fn command_name(matches: &clap::ArgMatches) -> String {
    let mut name = String::from("meshroom");
    let mut m = matches;
    while let Some((sub, inner)) = m.subcommand() {
        name.push(' ');
        name.push_str(sub);
        m = inner;
    }
    name
}

/// Runs one parsed command; a command that writes the project holds its
/// lock until it returns ([`lock`]).
pub fn run(command: Command, ctx: &Context) -> anyhow::Result<ExitCode> {
    let _lock = lock::take(&command, ctx)?;
    match command {
        Command::Init(args) => init::exec(args, ctx)?,
        Command::List(args) => list::exec(args, ctx)?,
        Command::Create(args) => create::exec(args, ctx)?,
        Command::Add(args) => add::exec(args, ctx)?,
        Command::Configure(args) => configure::exec(args, ctx)?,
        Command::Remove(args) => remove::exec(args, ctx)?,
        Command::Plug(args) => plug::exec_plug(args, ctx)?,
        Command::Unplug(args) => plug::exec_unplug(args, ctx)?,
        Command::Graph(args) => graph::exec(args, ctx)?,
        Command::Publish(args) => publish::exec(args, ctx)?,
        Command::Pull(args) => pull::exec(args, ctx)?,
        Command::Registry(args) => registry::exec(args, ctx)?,
        Command::Keys(args) => keys::exec(args, ctx)?,
        Command::Sign(args) => sign::exec(args, ctx)?,
        Command::Verify(args) => verify::exec(args, ctx)?,
        Command::Build(args) => build::exec(args, ctx)?,
        Command::Produce(args) => produce::exec(args, ctx)?,
        Command::Watch(args) => watch::exec(args, ctx)?,
        Command::Trigger(args) => trigger::exec(args, engine::exercise::Exercise::Trigger, ctx)?,
        Command::Execute(args) => trigger::exec(args, engine::exercise::Exercise::Execute, ctx)?,
        Command::Plan(args) => plan::exec(args, ctx)?,
        Command::Up(args) => up::exec_up(args, ctx)?,
        Command::Down(args) => up::exec_down(args, ctx)?,
        Command::Check(args) => check::exec_check(args, ctx)?,
        Command::Test(args) => test::exec(args, ctx)?,
        Command::Ui(args) => ui::exec(args, ctx)?,
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            common::to_stdout(|out| {
                let mut script = Vec::new();
                clap_complete::generate(args.shell, &mut cmd, "meshroom", &mut script);
                out.write_all(&script)
            })?;
        }
        Command::Secrets(args) => secrets::exec(args, ctx)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints `error: …` and, with `--debug`, every `caused by: …` of the chain;
/// without it, only the causes that add information.
fn report(err: &anyhow::Error, debug: bool) {
    let shown = |t: &str| terminal::for_stderr(t).into_owned();
    eprintln!("error: {}", shown(&err.to_string()));
    let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
    for cause in causes
        .iter()
        .filter(|c| debug || !err.to_string().contains(c.as_str()))
    {
        eprintln!("  caused by: {}", shown(cause));
    }
}
