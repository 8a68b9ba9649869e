//! `meshroom plug TOPIC SRC DST` and `meshroom unplug TOPIC SRC DST`.

use std::path::Path;

use anyhow::bail;

use super::Context;
use super::common::{done, hook_index, load_project, mode_parser, print_json};
use super::secrets::forget_secrets;
use crate::project::{Mode, Plug, PlugOutcome, PlugRequest, ResolveError, SetupBy};
use crate::secrets::{self, SecretScope, SecretStore, SecretValue};

/// Plug two instances together for a topic, through their products' integrations
#[derive(Debug, clap::Args)]
pub struct PlugArgs {
    /// The topic exchanged (e.g. events, alerts, deny)
    pub topic: String,
    /// The source instance (producer or trigger side)
    pub src_instance: String,
    /// The destination instance (consumer or executor side)
    pub dst_instance: String,
    /// Only integrations in this mode
    #[arg(short, long, value_parser = mode_parser())]
    pub mode: Option<Mode>,
    /// Only integrations accepting this format
    #[arg(short, long)]
    pub format: Option<String>,
    /// Read the plug's secret NAME from stdin, one line per secret (repeatable); stored
    /// encrypted, readable only by this plug's hooks
    #[arg(short = 's', long = "read-secret", value_name = "NAME")]
    pub secrets: Vec<String>,
}

/// Remove a plug between two instances
#[derive(Debug, clap::Args)]
pub struct UnplugArgs {
    /// The topic of the plug
    pub topic: String,
    /// The source instance
    pub src_instance: String,
    /// The destination instance
    pub dst_instance: String,
    /// The plug's mode, when both a push and a pull plug exist
    #[arg(short, long, value_parser = mode_parser())]
    pub mode: Option<Mode>,
    /// Remove the plug even if it is up (its products stay configured)
    #[arg(long)]
    pub force: bool,
}

pub fn exec_plug(args: PlugArgs, ctx: &Context) -> anyhow::Result<()> {
    let mut project = load_project(ctx)?;
    let hooks = hook_index(ctx, &project)?;
    // Secrets are read first, so a missing identity fails before anything changes.
    let secrets = read_plug_secrets(project.root(), &args.secrets, ctx.interactive())?;
    let request = PlugRequest {
        topic: args.topic,
        src: args.src_instance,
        dst: args.dst_instance,
        mode: args.mode,
        format: args.format,
        owner: None,
    };
    match project.plug(&hooks, &request) {
        Ok(PlugOutcome::Exists(plug)) => {
            store_plug_secrets(secrets, &plug)?;
            if ctx.json {
                print_json(&plug)?;
            }
            done(ctx, format!("{plug} is already plugged: nothing to do"));
        }
        Ok(PlugOutcome::New(r)) => {
            store_plug_secrets(secrets, &r.plug)?;
            if ctx.json {
                print_json(&r.plug)?;
            }
            let by = match r.setup_by {
                SetupBy::EachOwnSide => {
                    format!("{} and {} each set up their side", r.source, r.destination)
                }
                SetupBy::Source => format!("{} sets up both sides", r.source),
                SetupBy::Destination => format!("{} sets up both sides", r.destination),
            };
            done(ctx, format!("plugged {} ({by})", r.plug));
        }
        Err(ResolveError::Refused(refusal)) => bail!("{}", refusal.to_string().trim_end()),
        Err(ResolveError::Project(e)) => return Err(e.into()),
    }
    Ok(())
}

/// The store and the values of `plug -s NAME…`, read before plugging.
type PlugSecrets = Option<(SecretStore, Vec<(String, SecretValue)>)>;

fn read_plug_secrets(
    root: &Path,
    names: &[String],
    interactive: bool,
) -> anyhow::Result<PlugSecrets> {
    if names.is_empty() {
        return Ok(None);
    }
    let store = SecretStore::open(root)?;
    store.check_writable()?;
    let values = secrets::read_secrets_from_stdin(names, interactive)?;
    Ok(Some((store, values)))
}

fn store_plug_secrets(secrets: PlugSecrets, plug: &Plug) -> anyhow::Result<()> {
    let Some((mut store, values)) = secrets else {
        return Ok(());
    };
    let scope = SecretScope::plug(
        &plug.src_instance,
        &plug.dst_instance,
        &plug.topic,
        plug.mode.as_str(),
    );
    for (name, value) in values {
        store.set(&scope, &name, value)?;
    }
    store.save()?;
    Ok(())
}

pub fn exec_unplug(args: UnplugArgs, ctx: &Context) -> anyhow::Result<()> {
    let mut project = load_project(ctx)?;
    project.instance(&args.src_instance, None)?;
    project.instance(&args.dst_instance, None)?;
    if let Some(plug) = project.find_plug(
        &args.topic,
        &args.src_instance,
        &args.dst_instance,
        args.mode,
    ) && !plug.status.is_down()
        && !args.force
    {
        bail!(
            "{plug} is up: run `meshroom down` on it first, or pass --force to forget it (its products stay configured)"
        );
    }
    let plug = project.remove_plug(
        &args.topic,
        &args.src_instance,
        &args.dst_instance,
        args.mode,
    )?;
    forget_secrets(
        project.root(),
        &[SecretScope::plug(
            &plug.src_instance,
            &plug.dst_instance,
            &plug.topic,
            plug.mode.as_str(),
        )],
    );
    done(ctx, format!("unplugged {plug}"));
    Ok(())
}
