//! `meshroom secrets`: the project's encrypted secrets store (`secrets.age`)
//! and the age public keys it is encrypted to (`secrets.recipients`).

use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::json;

use super::Context;
use super::common::{print_json, print_line, print_table, to_stdout};
use crate::secrets::{
    self, IdentityConfig, RECIPIENTS_FILE, Recipients, STORE_FILE, SecretScope, SecretStore,
    SecretsError,
};

/// Arguments of `meshroom secrets`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Files: secrets.age (age-encrypted, ASCII-armored; `age -d -i KEY secrets.age` shows it) and
secrets.recipients (the age public keys it is encrypted to), both at the project root, both
meant to be committed. With no recipient listed, MESHROOM_SECRETS_PASSPHRASE encrypts it with
a passphrase instead.

Identity (to decrypt), without a terminal: MESHROOM_AGE_IDENTITY_FILE (an age identity file),
MESHROOM_AGE_IDENTITY (the AGE-SECRET-KEY-1… key), MESHROOM_SECRETS_PASSPHRASE, else your
identity file from `meshroom secrets init` ($XDG_CONFIG_HOME/meshroom/identity.txt). A
passphrase is prompted for only on a terminal; otherwise a missing identity is an error.")]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,
}

/// The `meshroom secrets` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// Create your age key pair (outside the project, mode 0600) if you have none, print its
    /// public key, and add it to this project's recipients
    Init {
        /// Label written above your key in secrets.recipients (default: $USER)
        #[arg(long)]
        label: Option<String>,
    },
    /// List, add or remove the age public keys secrets.age is encrypted to
    #[command(subcommand)]
    Recipients(RecipientsCommand),
    /// Set a secret: the value is read from stdin (one line), or from a hidden prompt on a
    /// terminal
    Set {
        /// `instance:PRODUCT/NAME` (or `PRODUCT/NAME`), or `plug:SRC/DST/TOPIC[/push|pull]`
        scope: String,
        /// Name of the secret (usually a setting name, e.g. `api_key`)
        name: String,
    },
    /// Print a secret's value on stdout (requires --reveal)
    Get {
        /// `instance:PRODUCT/NAME` (or `PRODUCT/NAME`), or `plug:SRC/DST/TOPIC[/push|pull]`
        scope: String,
        /// Name of the secret
        name: String,
        /// Really print the secret in plaintext
        #[arg(long)]
        reveal: bool,
    },
    /// List the names of the secrets (never their values), of every scope or of one
    List {
        /// Only this scope
        scope: Option<String>,
    },
    /// Remove a secret
    Rm {
        /// `instance:PRODUCT/NAME` (or `PRODUCT/NAME`), or `plug:SRC/DST/TOPIC[/push|pull]`
        scope: String,
        /// Name of the secret
        name: String,
    },
}

/// `meshroom secrets recipients …`
#[derive(Debug, clap::Subcommand)]
pub enum RecipientsCommand {
    /// List the recipients (age public keys)
    List,
    /// Add a recipient and re-encrypt secrets.age to it (needs an identity that can decrypt it)
    Add {
        /// An age X25519 public key, `age1…`
        key: String,
        /// Label written above the key in secrets.recipients
        #[arg(long)]
        label: Option<String>,
    },
    /// Remove a recipient and re-encrypt secrets.age without it. Secrets it could read may
    /// still be in git history: rotate them
    Remove {
        /// The age public key to remove, `age1…`
        key: String,
    },
}

/// Runs `meshroom secrets …`.
pub fn exec(args: SecretsArgs, ctx: &Context) -> anyhow::Result<()> {
    let dir = ctx.project_dir.as_path();
    match args.command {
        SecretsCommand::Init { label } => init(ctx, label),
        SecretsCommand::Recipients(cmd) => recipients(ctx, cmd),
        SecretsCommand::Set { scope, name } => {
            let scope = parse_scope(&scope)?;
            let mut store = SecretStore::open(dir)?;
            store.check_writable()?;
            let mut values =
                secrets::read_secrets_from_stdin(std::slice::from_ref(&name), ctx.interactive())?;
            let Some((_, value)) = values.pop() else {
                bail!("no value read for secret `{name}`");
            };
            store.set(&scope, &name, value)?;
            store.save()?;
            info(
                ctx,
                &format!("secret `{name}` of {scope} saved in {STORE_FILE}"),
            );
            Ok(())
        }
        SecretsCommand::Get {
            scope,
            name,
            reveal,
        } => {
            let scope = parse_scope(&scope)?;
            if !reveal {
                bail!("refusing to print secret `{name}` of {scope} in plaintext: add --reveal");
            }
            let store = SecretStore::open(dir)?;
            let Some(value) = store.get(&scope, &name)? else {
                bail!("no secret `{name}` in {scope} (see `meshroom secrets list`)");
            };
            if ctx.json {
                print_line(
                    json!({"scope": scope.to_string(), "name": name, "value": value.expose()}),
                )
            } else {
                print_line(value.expose())
            }
        }
        SecretsCommand::List { scope } => {
            let scope = scope.as_deref().map(parse_scope).transpose()?;
            let store = SecretStore::open(dir)?;
            let entries: Vec<(SecretScope, String)> = store
                .entries()?
                .into_iter()
                .filter(|(s, _)| scope.as_ref().is_none_or(|want| want == s))
                .collect();
            print_entries(ctx, &entries)
        }
        SecretsCommand::Rm { scope, name } => {
            let scope = parse_scope(&scope)?;
            let mut store = SecretStore::open(dir)?;
            store.check_writable()?;
            if !store.remove(&scope, &name)? {
                bail!("no secret `{name}` in {scope} (see `meshroom secrets list`)");
            }
            store.save()?;
            info(ctx, &format!("secret `{name}` of {scope} removed"));
            Ok(())
        }
    }
}

/// Deletes the secrets of `scopes` (an instance or a plug that was just
/// removed). Best effort: the removal already happened, so a store that
/// cannot be decrypted here only earns a warning saying what is left.
pub(crate) fn forget_secrets(root: &Path, scopes: &[SecretScope]) {
    let result = SecretStore::open(root).and_then(|mut store| {
        let mut n = 0;
        for scope in scopes {
            n += store.remove_scope(scope)?;
        }
        store.save()?;
        Ok(n)
    });
    match result {
        Ok(0) => {}
        Ok(n) => tracing::info!("removed {n} secret(s) of {}", describe(scopes)),
        Err(e) => tracing::warn!(
            "the secrets of {} may remain in {STORE_FILE} ({e}); remove them later with \
             `meshroom secrets rm`",
            describe(scopes)
        ),
    }
}

fn describe(scopes: &[SecretScope]) -> String {
    scopes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_scope(s: &str) -> anyhow::Result<SecretScope> {
    Ok(s.parse::<SecretScope>()?)
}

/// A message for humans on stderr, unless `-q`.
fn info(ctx: &Context, message: &str) {
    if !ctx.quiet {
        eprintln!("{message}");
    }
}

fn print_entries(ctx: &Context, entries: &[(SecretScope, String)]) -> anyhow::Result<()> {
    if ctx.json {
        let rows: Vec<_> = entries
            .iter()
            .map(|(s, n)| json!({"scope": s.to_string(), "kind": s.kind(), "name": n}))
            .collect();
        return print_json(&rows);
    }
    if entries.is_empty() {
        info(ctx, "no secrets");
        return Ok(());
    }
    let rows: Vec<[String; 2]> = entries
        .iter()
        .map(|(scope, name)| [scope.to_string(), name.clone()])
        .collect();
    print_table(&["scope", "name"], &rows)
}

fn recipients(ctx: &Context, cmd: RecipientsCommand) -> anyhow::Result<()> {
    let dir = ctx.project_dir.as_path();
    match cmd {
        RecipientsCommand::List => {
            let keys = Recipients::load(dir)?.keys();
            if ctx.json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| json!({"public_key": k.to_string()}))
                    .collect();
                print_json(&rows)?;
            } else if keys.is_empty() {
                info(
                    ctx,
                    &format!("no recipients in {RECIPIENTS_FILE}: run `meshroom secrets init`"),
                );
            } else {
                to_stdout(|out| keys.iter().try_for_each(|k| writeln!(out, "{k}")))?;
            }
            Ok(())
        }
        RecipientsCommand::Add { key, label } => {
            let key = secrets::parse_recipient(&key)?;
            let mut store = SecretStore::open(dir)?;
            if store.add_recipient(key.clone(), label.as_deref())? {
                info(
                    ctx,
                    &format!("added {key} to {RECIPIENTS_FILE}; {STORE_FILE} re-encrypted"),
                );
            } else {
                info(ctx, &format!("{key} is already a recipient"));
            }
            Ok(())
        }
        RecipientsCommand::Remove { key } => {
            let key = secrets::parse_recipient(&key)?;
            let mut store = SecretStore::open(dir)?;
            if !store.remove_recipient(&key)? {
                bail!("{key} is not a recipient (see `meshroom secrets recipients list`)");
            }
            info(
                ctx,
                &format!(
                    "removed {key}; {STORE_FILE} re-encrypted. It could read the secrets until \
                     now (and in git history): rotate them"
                ),
            );
            Ok(())
        }
    }
}

/// Whether `dir` looks like a meshroom project (so `init` may add a recipient).
fn is_project(dir: &Path) -> bool {
    ["products", "instances", RECIPIENTS_FILE, STORE_FILE]
        .iter()
        .any(|p| dir.join(p).exists())
}

/// The canonical path of the closest existing ancestor of `path`.
fn nearest_existing(path: &Path) -> Option<std::path::PathBuf> {
    path.ancestors().skip(1).find_map(|a| a.canonicalize().ok())
}

fn init(ctx: &Context, label: Option<String>) -> anyhow::Result<()> {
    let config = IdentityConfig::from_env();
    let Some(path) = config.identity_file_to_create().map(Path::to_path_buf) else {
        bail!(
            "cannot find your configuration folder (no $XDG_CONFIG_HOME nor $HOME): set \
             {} to the path of the identity file to create",
            secrets::identity::ENV_IDENTITY_FILE
        );
    };
    let dir = &ctx.project_dir;
    let from_env_key = config.identity_file.is_none() && config.identity.is_some();
    let (public, created) = if let (true, Some(key)) = (from_env_key, &config.identity) {
        // MESHROOM_AGE_IDENTITY is the identity: nothing to create.
        let ids = secrets::identity::parse_identities(
            age::secrecy::ExposeSecret::expose_secret(key),
            secrets::identity::ENV_IDENTITY,
        )?;
        let Some(first) = ids.first() else {
            bail!("no identity in {}", secrets::identity::ENV_IDENTITY);
        };
        (first.to_public(), false)
    } else if path.exists() {
        let ids = secrets::identity::parse_identity_file(&path, &path.display().to_string())?;
        let Some(first) = ids.first() else {
            bail!("no identity in `{}`", path.display());
        };
        (first.to_public(), false)
    } else {
        if is_project(dir)
            && let Ok(project) = dir.canonicalize()
            && nearest_existing(&path).is_some_and(|p| p.starts_with(&project))
        {
            bail!(
                "refusing to create the identity file `{}` inside the project: a private key \
                 must never be committed; point {} outside `{}`",
                path.display(),
                secrets::identity::ENV_IDENTITY_FILE,
                dir.display()
            );
        }
        let public = secrets::create_identity_file(&path)
            .with_context(|| format!("failed to create your identity `{}`", path.display()))?;
        info(
            ctx,
            &format!(
                "created your age identity {} (keep it private)",
                path.display()
            ),
        );
        (public, true)
    };
    let mut added = false;
    if is_project(dir) {
        let label = label.or_else(|| std::env::var("USER").ok());
        let mut store = SecretStore::open_with(dir, config);
        match store.add_recipient(public.clone(), label.as_deref()) {
            Ok(true) => {
                added = true;
                info(ctx, &format!("added your public key to {RECIPIENTS_FILE}"));
            }
            Ok(false) => info(
                ctx,
                &format!("your public key is already in {RECIPIENTS_FILE}"),
            ),
            Err(e @ (SecretsError::NotARecipient { .. } | SecretsError::NoIdentity { .. })) => {
                tracing::warn!("{e}");
                info(
                    ctx,
                    &format!(
                        "{STORE_FILE} exists and you cannot read it yet: ask a recipient to run \
                         `meshroom secrets recipients add {public}`"
                    ),
                );
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        info(
            ctx,
            &format!(
                "`{}` is not a meshroom project: in one, run `meshroom secrets recipients add {public}`",
                dir.display()
            ),
        );
    }
    if ctx.json {
        print_json(&json!({
            "identity_file": (!from_env_key).then(|| path.display().to_string()),
            "public_key": public.to_string(),
            "created": created,
            "recipient_added": added,
        }))?;
    } else {
        print_line(&public)?;
    }
    Ok(())
}
