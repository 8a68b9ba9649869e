//! Instance settings from `-c key=value`, `-s NAME` and terminal prompts,
//! typed by the product's definition. Shared by `add` and `configure`.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::project::{Instance, Product, Setting, SettingType, names::closest, parse_value};
use crate::secrets::{self, SecretScope, SecretStore};

/// Flags shared by `add` and `configure`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SettingsArgs {
    /// Set a setting, typed by the product's definition: `key=value` (numbers, booleans, JSON arrays/objects)
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Read the secret setting NAME from stdin, one line per secret (repeatable)
    #[arg(short = 's', long = "read-secret", value_name = "NAME")]
    pub secrets: Vec<String>,
}

/// Whether `setting` must go to the secrets store: the one place deciding it.
pub fn is_secret_setting(setting: &Setting) -> bool {
    crate::project::is_secret_setting(setting)
}

/// Stores the secret settings of an instance in the encrypted store, scoped
/// to it: the `-s` ones from stdin (one line each, in order) or hidden
/// prompts, and, on a terminal, every other secret setting of the product
/// (Enter keeps the current value). Fails before reading anything when the
/// store cannot be written (no identity, no recipient).
fn store_secrets(
    root: &Path,
    instance: &Instance,
    product: &Product,
    names: &[String],
    interactive: bool,
) -> anyhow::Result<()> {
    let others: Vec<&Setting> = product
        .definition
        .settings
        .iter()
        .filter(|s| is_secret_setting(s) && !names.contains(&s.name))
        .collect();
    let prompts_others = interactive && !others.is_empty();
    if names.is_empty() && !prompts_others {
        return Ok(());
    }
    let mut store = SecretStore::open(root)?;
    if let Err(e) = store.check_writable() {
        if !names.is_empty() {
            return Err(e.into());
        }
        // Only prompting for secrets nobody asked to set: a store that is
        // not set up is a hint, not a failure.
        tracing::warn!(
            "secret settings of `{}` not prompted for: {e}; set them later with `meshroom \
             configure {} -s NAME`",
            instance.name,
            instance.name
        );
        return Ok(());
    }
    let scope = SecretScope::instance(&instance.product, &instance.name);
    for (name, value) in secrets::read_secrets_from_stdin(names, interactive)? {
        store.set(&scope, &name, value)?;
    }
    if interactive {
        for setting in others {
            let has_current = store.get(&scope, &setting.name)?.is_some();
            if let Some(value) =
                secrets::prompt_secret(&setting.name, has_current, setting.required)?
            {
                store.set(&scope, &setting.name, value)?;
            }
        }
    }
    store.save()?;
    Ok(())
}

/// Warns about the secret settings of `instance` that are neither given nor
/// already in the store (checked only when the store can be read).
fn warn_unset_secrets(root: &Path, instance: &Instance, unset: &[&Setting]) {
    if unset.is_empty() {
        return;
    }
    let scope = SecretScope::instance(&instance.product, &instance.name);
    let stored = match SecretStore::open(root).and_then(|s| s.names(&scope)) {
        Ok(names) => names,
        Err(e) => {
            tracing::debug!("cannot check the stored secrets of {scope}: {e}");
            Vec::new()
        }
    };
    for setting in unset.iter().filter(|s| !stored.contains(&s.name)) {
        tracing::warn!(
            "secret setting `{}` of `{}` is not set: pass `-s {}` (its value on stdin) or run \
             `meshroom secrets set {scope} {}`",
            setting.name,
            instance.name,
            setting.name,
            setting.name
        );
    }
}

/// Applies `args` (and, on a terminal, prompts) to `instance`'s settings.
/// Nothing is written here; the caller saves. Errors name the setting.
pub fn apply(
    root: &Path,
    instance: &mut Instance,
    product: &Product,
    args: &SettingsArgs,
    interactive: bool,
) -> anyhow::Result<()> {
    let settings = &product.definition.settings;
    let known = || settings.iter().map(|s| s.name.as_str());
    let lookup = |key: &str| -> anyhow::Result<&Setting> {
        settings.iter().find(|s| s.name == key).with_context(|| {
            if settings.is_empty() {
                format!(
                    "product `{}` declares no settings, so `{key}` cannot be set",
                    product.name
                )
            } else {
                let hint = closest(key, known())
                    .first()
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                format!(
                    "unknown setting `{key}` for product `{}`; {hint}known settings: {}",
                    product.name,
                    known().collect::<Vec<_>>().join(", ")
                )
            }
        })
    };

    // Secrets first, so a refusal changes nothing.
    let mut secret_names: Vec<String> = Vec::new();
    for name in &args.secrets {
        lookup(name)?;
        secret_names.push(name.clone());
    }
    let mut given: Vec<(String, Value)> = Vec::new();
    for pair in &args.config {
        let Some((key, raw)) = pair.split_once('=') else {
            bail!("`-c {pair}`: expected KEY=VALUE");
        };
        let setting = lookup(key.trim())?;
        if is_secret_setting(setting) {
            bail!(
                "setting `{}` is secret: pass it with `-s {}` (read from stdin), never on the command line",
                setting.name,
                setting.name
            );
        }
        let value = parse_value(setting, raw).map_err(anyhow::Error::msg)?;
        given.push((setting.name.clone(), value));
    }
    store_secrets(root, instance, product, &secret_names, interactive)?;

    for (k, v) in given {
        instance.config.settings.insert(k, v);
    }

    let mut missing = Vec::new();
    let mut unset_secrets = Vec::new();
    for setting in settings {
        if is_secret_setting(setting) {
            if !interactive && !secret_names.contains(&setting.name) {
                unset_secrets.push(setting);
            }
            continue;
        }
        if args.config.iter().any(|p| {
            p.split_once('=')
                .is_some_and(|(k, _)| k.trim() == setting.name)
        }) {
            continue;
        }
        if interactive {
            let current = instance.config.settings.get(&setting.name).cloned();
            if let Some(v) = prompt(setting, current.as_ref())? {
                instance.config.settings.insert(setting.name.clone(), v);
            }
        } else if setting.required
            && setting.default.is_none()
            && !instance.config.settings.contains_key(&setting.name)
        {
            missing.push(setting.name.clone());
        }
    }
    warn_unset_secrets(root, instance, &unset_secrets);
    if !missing.is_empty() {
        bail!(
            "missing required setting{} {} for instance `{}` of `{}`: pass {} (no terminal to prompt on)",
            if missing.len() > 1 { "s" } else { "" },
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
            instance.name,
            product.name,
            missing
                .iter()
                .map(|m| format!("-c {m}=…"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    Ok(())
}

/// Asks for one setting on the terminal (stderr prompt, stdin answer) until
/// the answer parses; empty keeps the current value or the default.
fn prompt(setting: &Setting, current: Option<&Value>) -> anyhow::Result<Option<Value>> {
    let shown = current.or(setting.default.as_ref());
    let mut label = setting.name.clone();
    if !setting.description.is_empty() {
        label.push_str(&format!(" ({})", setting.description));
    }
    label.push_str(match setting.kind {
        SettingType::Boolean => " [true/false]",
        SettingType::Array => " [comma-separated or JSON array]",
        SettingType::Object => " [JSON object]",
        SettingType::Integer => " [integer]",
        SettingType::Number | SettingType::Float => " [number]",
        SettingType::String => "",
    });
    if let Some(v) = shown {
        label.push_str(&format!(
            " [{}]",
            match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        ));
    }
    let stdin = std::io::stdin();
    loop {
        eprint!("{label}: ");
        std::io::stderr().flush().ok();
        let mut line = String::new();
        if stdin
            .lock()
            .read_line(&mut line)
            .context("failed to read the terminal")?
            == 0
        {
            bail!("no answer for setting `{}` (end of input)", setting.name);
        }
        let answer = line.trim_end_matches(['\n', '\r']);
        if answer.trim().is_empty() {
            if shown.is_some() {
                return Ok(current.is_none().then(|| shown.cloned()).flatten());
            }
            if setting.required {
                eprintln!("`{}` is required", setting.name);
                continue;
            }
            return Ok(None);
        }
        match parse_value(setting, answer) {
            Ok(v) => return Ok(Some(v)),
            Err(e) => eprintln!("{e}"),
        }
    }
}
