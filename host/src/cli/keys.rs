//! `meshroom keys generate NAME` and `meshroom keys list`: the signing key pairs of
//! this machine (`$MESHROOM_KEYS_DIR`, default `~/.config/meshroom/keys`), and how
//! a command gets a key's passphrase (stdin or an environment variable, never argv).

use std::io::BufRead as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use meshroom_registry::{KEYS_DIR_ENV, KeyStore, PrivateKey, Zeroizing};

use super::Context;
use super::common::{done, print_json, print_line, print_table};

/// Manage signing keys (ECDSA P-256): `generate NAME`, `list`
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// `meshroom keys` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Make a key pair NAME.key (PEM PKCS#8, owner-only; encrypted when a passphrase is
    /// given) and NAME.pub (PEM SPKI, for operators' `trust.yaml` and `cosign verify --key`)
    Generate {
        /// The key's name (letters, digits, `-`, `_`, `.`)
        name: String,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// List the key pairs with their fingerprints (`--json` for scripts)
    List,
}

/// Where a key's passphrase comes from: never the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct PassphraseArgs {
    /// Read the key's passphrase from the first line of stdin
    #[arg(long)]
    pub passphrase_stdin: bool,
    /// The environment variable that holds the key's passphrase (used when set)
    #[arg(long, value_name = "VAR", default_value = "MESHROOM_KEY_PASSPHRASE")]
    pub passphrase_env: String,
}

impl PassphraseArgs {
    /// The passphrase from stdin (with `--passphrase-stdin`) or the environment
    /// variable; `None` when neither gives one.
    pub fn read(&self) -> anyhow::Result<Option<Zeroizing<String>>> {
        if self.passphrase_stdin {
            let mut line = Zeroizing::new(String::new());
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("failed to read the passphrase from stdin")?;
            let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
            if trimmed.is_empty() {
                bail!("--passphrase-stdin: stdin gave an empty passphrase");
            }
            return Ok(Some(trimmed));
        }
        Ok(std::env::var(&self.passphrase_env)
            .ok()
            .filter(|v| !v.is_empty())
            .map(Zeroizing::new))
    }
}

/// Reads the private key a `--key`/`--sign` argument names (a key of this machine
/// by name, or a PEM file), asking for its passphrase on a terminal when it is
/// encrypted and none was given.
pub fn load_private_key(
    key: &str,
    passphrase: &PassphraseArgs,
    ctx: &Context,
) -> anyhow::Result<PrivateKey> {
    let path = KeyStore::from_env()?.resolve_private(key)?;
    let pem = Zeroizing::new(
        std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read the key `{}`", path.display()))?,
    );
    let mut given = passphrase.read()?;
    if given.is_none() && PrivateKey::is_encrypted_pem(&pem) && ctx.interactive() {
        given = Some(Zeroizing::new(
            rpassword::prompt_password(format!("passphrase of key `{key}` (hidden): "))
                .context("failed to read the passphrase from the terminal")?,
        ));
    }
    if given.is_none() && PrivateKey::is_encrypted_pem(&pem) {
        bail!(
            "key `{}` is encrypted: give its passphrase in ${} or with --passphrase-stdin",
            path.display(),
            passphrase.passphrase_env
        );
    }
    Ok(PrivateKey::from_pem(
        &pem,
        given.as_ref().map(|p| p.as_bytes()),
        &path.display().to_string(),
    )?)
}

/// Runs `meshroom keys`.
pub fn exec(args: KeysArgs, ctx: &Context) -> anyhow::Result<()> {
    let store = KeyStore::from_env()?;
    match args.command {
        KeysCommand::Generate { name, passphrase } => {
            let passphrase = passphrase.read()?;
            let made = store.generate(&name, passphrase.as_ref().map(|p| p.as_bytes()))?;
            if passphrase.is_none() {
                tracing::warn!(
                    "the private key is not encrypted; protect it with a passphrase (MESHROOM_KEY_PASSPHRASE or --passphrase-stdin) unless it is a throwaway"
                );
            }
            if ctx.json {
                print_json(&made)?;
            } else {
                print_line(format_args!("{} {}", made.name, made.fingerprint))?;
                done(
                    ctx,
                    format!(
                        "wrote `{}` (private, keep it) and `{}` (public, give it to operators for their trust.yaml)",
                        shown(&made.private_key),
                        shown(&made.public_key)
                    ),
                );
            }
        }
        KeysCommand::List => {
            let keys = store.list()?;
            if ctx.json {
                print_json(&keys)?;
            } else if keys.is_empty() {
                done(
                    ctx,
                    format!(
                        "no keys in `{}` (${KEYS_DIR_ENV}); make one with `meshroom keys generate NAME`",
                        store.dir().display()
                    ),
                );
            } else {
                let rows: Vec<[String; 4]> = keys
                    .iter()
                    .map(|k| {
                        [
                            k.name.clone(),
                            k.fingerprint.clone(),
                            if k.encrypted { "yes" } else { "no" }.to_string(),
                            shown(&k.public_key),
                        ]
                    })
                    .collect();
                print_table(&["NAME", "FINGERPRINT", "ENCRYPTED", "PUBLIC KEY"], &rows)?;
            }
        }
    }
    Ok(())
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}
