//! `meshroom registry login|logout`: manage saved registry credentials.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context as _, bail};
use meshroom_registry::{AuthConfig, Credentials, PASSWORD_ENV, Registry, Zeroizing};

use super::Context;
use super::common::print_line;
use super::oci::{RegistryFlags, registry};

/// Manage credentials for OCI registries
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    #[command(subcommand)]
    pub command: RegistryCommand,
}

/// `meshroom registry` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {
    /// Check credentials against a registry and save them (docker-config format in
    /// `$MESHROOM_AUTH_FILE`, else `~/.config/meshroom/auth.json`, readable only by you;
    /// through its `credsStore` helper if that file names one)
    Login(LoginArgs),
    /// Forget the saved credentials of a registry
    Logout(LogoutArgs),
}

/// Arguments of `meshroom registry login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The registry, `HOST[:PORT]`
    pub registry: String,
    /// User name
    #[arg(short, long)]
    pub username: String,
    /// Read the password from stdin (one line) instead of prompting or reading
    /// `MESHROOM_REGISTRY_PASSWORD`
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub flags: RegistryFlags,
}

/// Arguments of `meshroom registry logout`.
#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The registry, `HOST[:PORT]`
    pub registry: String,
}

/// Runs `meshroom registry …`.
pub fn exec(args: RegistryArgs, ctx: &Context) -> anyhow::Result<()> {
    match args.command {
        RegistryCommand::Login(login) => {
            let password = read_password(&login, ctx)?;
            let credentials = Credentials {
                username: login.username.clone(),
                password,
            };
            let registry: Registry = registry(ctx, &login.flags)?;
            ctx.runtime()?
                .block_on(registry.check_login(&login.registry, &credentials))
                .with_context(|| format!("login to {} failed", login.registry))?;
            let saved = AuthConfig::from_env().save_login(&login.registry, &credentials)?;
            print_line(format_args!(
                "logged in to {} as {} (saved in {})",
                login.registry,
                login.username,
                saved.display()
            ))?;
        }
        RegistryCommand::Logout(logout) => {
            if AuthConfig::from_env().remove_login(&logout.registry)? {
                print_line(format_args!("logged out of {}", logout.registry))?;
            } else {
                print_line(format_args!("no saved credentials for {}", logout.registry))?;
            }
        }
    }
    Ok(())
}

fn read_password(login: &LoginArgs, ctx: &Context) -> anyhow::Result<Zeroizing<String>> {
    if login.password_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("failed to read the password from stdin")?;
        let password = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
        if password.is_empty() {
            bail!("no password on stdin");
        }
        return Ok(password);
    }
    if let Some(password) = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()) {
        return Ok(Zeroizing::new(password));
    }
    if !ctx.interactive() || !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for the password: pass `--password-stdin` or set {PASSWORD_ENV}");
    }
    let password = rpassword::prompt_password(format!(
        "password for {}@{}: ",
        login.username, login.registry
    ))
    .context("failed to read the password")?;
    Ok(Zeroizing::new(password))
}
