//! Instance settings from `-c key=value`, `-s NAME` and terminal prompts,
//! typed by the product's definition. Shared by `add` and `configure`.

use std::io::{BufRead, Write};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::project::{Instance, Product, Setting, SettingType, names::closest, parse_value};

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

/// Stores secret settings of an instance. The encrypted store is not wired
/// yet: refuse rather than ever writing a secret in plaintext.
fn store_secrets(instance: &Instance, names: &[String]) -> anyhow::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    bail!(
        "secrets are not available yet: cannot store {} for instance `{}`; secret settings are never written in plaintext",
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
        instance.name
    )
}

/// Applies `args` (and, on a terminal, prompts) to `instance`'s settings.
/// Nothing is written here; the caller saves. Errors name the setting.
pub fn apply(
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
    store_secrets(instance, &secret_names)?;

    for (k, v) in given {
        instance.config.settings.insert(k, v);
    }

    let mut missing = Vec::new();
    for setting in settings {
        if is_secret_setting(setting) {
            if !secret_names.contains(&setting.name) {
                tracing::warn!(
                    "secret setting `{}` of `{}` not set: secrets are not available yet",
                    setting.name,
                    instance.name
                );
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
