//! Which commands write the project, and so take its one-writer lock
//! ([`crate::project::lock`]) for their whole run, and how long each waits
//! for another writer by default. Every command is listed here, with no
//! catch-all arm: a new command has to say whether it writes.

use std::time::Duration;

use super::secrets::{RecipientsCommand, SecretsCommand};
use super::{Command, Context};
use crate::project::lock::{Holder, ProjectLock};

/// How long a short writer (`add`, `plug`, `secrets set`…) waits for the
/// lock by default: a few of them at once queue up instead of failing.
pub const SHORT_WAIT: Duration = Duration::from_secs(5);

/// The default wait of `command` for the lock, or `None` for a reader (it
/// never takes the lock, so never blocks).
///
/// `up` and `down` wait for nothing by default: they change products and
/// may run for minutes, so a second one is a mistake to report at once.
/// `check` is a reader: its check hooks' answers are reported, never saved
/// (verified in `engine::run`: no plug file and no secret is written for
/// it). A replay (`--replay`) saves nothing either. `init` writes only into
/// an empty or new folder (it refuses any other that is not a project yet,
/// and does nothing to one that is), so there is no project to share.
pub fn default_wait(command: &Command) -> Option<Duration> {
    use Command as C;
    match command {
        C::Up(args) if args.tape.replay.is_none() => Some(Duration::ZERO),
        C::Down(args) if args.tape.replay.is_none() => Some(Duration::ZERO),
        C::Up(_) | C::Down(_) => None,
        C::Add(_)
        | C::Configure(_)
        | C::Remove(_)
        | C::Plug(_)
        | C::Unplug(_)
        | C::Create(_)
        | C::Pull(_)
        | C::Build(_) => Some(SHORT_WAIT),
        C::Secrets(args) => match &args.command {
            SecretsCommand::Init { .. }
            | SecretsCommand::Set { .. }
            | SecretsCommand::Rm { .. }
            | SecretsCommand::Recipients(
                RecipientsCommand::Add { .. } | RecipientsCommand::Remove { .. },
            ) => Some(SHORT_WAIT),
            SecretsCommand::Get { .. }
            | SecretsCommand::List { .. }
            | SecretsCommand::Recipients(RecipientsCommand::List) => None,
        },
        // Readers, or writers of nothing in the project: registries
        // (`publish`, `sign`), the user's own files (`keys`, `registry`),
        // or products only (`trigger`, `execute`, `produce`, `watch`, `test`);
        // `ui` is read-only (its socket in `.meshroom/ui/` is its own).
        C::Init(_)
        | C::List(_)
        | C::Graph(_)
        | C::Plan(_)
        | C::Check(_)
        | C::Completions(_)
        | C::Publish(_)
        | C::Registry(_)
        | C::Keys(_)
        | C::Sign(_)
        | C::Verify(_)
        | C::Produce(_)
        | C::Watch(_)
        | C::Trigger(_)
        | C::Execute(_)
        | C::Test(_)
        | C::Ui(_) => None,
    }
}

/// Takes the project's lock when `command` writes, waiting up to
/// `--lock-timeout` (else [`default_wait`]). Nothing is locked outside a
/// project: the command reports that itself, and no `.meshroom/` folder is
/// left in a folder that is not one.
pub fn take(command: &Command, ctx: &Context) -> anyhow::Result<Option<ProjectLock>> {
    let Some(default) = default_wait(command) else {
        return Ok(None);
    };
    let dir = &ctx.project_dir;
    let holds_secrets = [crate::secrets::STORE_FILE, crate::secrets::RECIPIENTS_FILE]
        .iter()
        .any(|f| dir.join(f).is_file());
    if !crate::project::is_project(dir) && !holds_secrets {
        return Ok(None);
    }
    let timeout = ctx.lock_timeout.unwrap_or(default);
    let quiet = ctx.quiet;
    let on_wait = |holder: Option<&Holder>| {
        if quiet || timeout.is_zero() {
            return;
        }
        let who = holder.map_or_else(|| "another meshroom command".to_string(), |h| h.to_string());
        eprintln!(
            "waiting up to {} for {who} to finish changing the project",
            humantime::format_duration(timeout)
        );
    };
    Ok(Some(ProjectLock::acquire(
        dir,
        &ctx.command,
        timeout,
        on_wait,
    )?))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn wait_of(args: &[&str]) -> Option<Duration> {
        let cli =
            Cli::try_parse_from(std::iter::once("meshroom").chain(args.iter().copied())).unwrap();
        default_wait(&cli.command)
    }

    #[test]
    fn writers_wait_a_little_up_and_down_not_at_all_readers_never_lock() {
        for writer in [
            &["plug", "t", "a", "b"][..],
            &["unplug", "t", "a", "b"],
            &["add", "p"],
            &["configure", "i"],
            &["remove", "i"],
            &["create", "product", "p"],
            &["pull", "p"],
            &["build", "p"],
            &["secrets", "set", "instance:p/i", "k"],
            &["secrets", "rm", "instance:p/i", "k"],
            &["secrets", "init"],
            &["secrets", "recipients", "remove", "age1x"],
        ] {
            assert_eq!(wait_of(writer), Some(SHORT_WAIT), "{writer:?}");
        }
        for long in [&["up"][..], &["up", "--repair"], &["down"]] {
            assert_eq!(wait_of(long), Some(Duration::ZERO), "{long:?}");
        }
        for reader in [
            &["list", "plugs"][..],
            &["plan"],
            &["graph"],
            &["check"],
            &["up", "--replay", "dir"],
            &["secrets", "list"],
            &["secrets", "get", "instance:p/i", "k"],
            &["secrets", "recipients", "list"],
            &["init"],
        ] {
            assert_eq!(wait_of(reader), None, "{reader:?}");
        }
    }
}
