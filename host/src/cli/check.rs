//! `meshroom check`: ask the adapters whether the plugs that are up in the
//! project are really up on their products; report drift.

use super::Context;
use super::up::{Operation, RunArgs, ScopeArgs, exec};
use crate::engine::Action;

/// Check that the selected plugs that are up are really configured on their products (check
/// hooks); reports drift and exits with status 2 when any plug drifted
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub tape: super::tape::TapeArgs,
}

pub fn exec_check(args: CheckArgs, ctx: &Context) -> anyhow::Result<()> {
    exec(
        args.scope,
        args.run,
        &args.tape,
        Operation::Run(Action::Check),
        ctx,
    )
}
