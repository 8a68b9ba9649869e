//! Reading secret values from the user: one line per secret on stdin (as
//! the original Meshroom's `-s NAME`), or a hidden prompt on a terminal.

use std::io::BufRead;

use zeroize::Zeroizing;

use super::{SecretValue, SecretsError};

/// Reads one value per name, in order: hidden prompts when `interactive`
/// (stdin and stderr are terminals), else one line of stdin each.
///
/// Leading and trailing whitespace is trimmed; an empty value, or stdin
/// ending before every name got its line, is an error naming the secret.
pub fn read_secrets_from_stdin(
    names: &[String],
    interactive: bool,
) -> Result<Vec<(String, SecretValue)>, SecretsError> {
    if interactive {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let typed = rpassword::prompt_password(format!("{name} (secret, hidden): "))
                .map(Zeroizing::new)
                .map_err(|e| {
                    SecretsError::Input(format!(
                        "failed to read secret `{name}` from the terminal: {e}"
                    ))
                })?;
            out.push((name.clone(), to_value(name, &typed)?));
        }
        return Ok(out);
    }
    read_secret_lines(&mut std::io::stdin().lock(), names)
}

/// Asks for one secret on the terminal, hidden. An empty answer returns
/// `None` (keep the current value) unless the secret is `required` and has
/// no current value, in which case it asks again. Call only on a terminal.
pub fn prompt_secret(
    name: &str,
    has_current: bool,
    required: bool,
) -> Result<Option<SecretValue>, SecretsError> {
    let hint = if has_current {
        "secret, hidden; Enter keeps the current value"
    } else if required {
        "secret, hidden, required"
    } else {
        "secret, hidden; Enter skips"
    };
    loop {
        let typed = rpassword::prompt_password(format!("{name} ({hint}): "))
            .map(Zeroizing::new)
            .map_err(|e| {
                SecretsError::Input(format!(
                    "failed to read secret `{name}` from the terminal: {e}"
                ))
            })?;
        let value = typed.trim();
        if !value.is_empty() {
            return Ok(Some(SecretValue::new(value.to_owned())));
        }
        if has_current || !required {
            return Ok(None);
        }
        eprintln!("`{name}` is required");
    }
}

/// Reads one line per name from `input` (the non-interactive path).
pub fn read_secret_lines(
    input: &mut impl BufRead,
    names: &[String],
) -> Result<Vec<(String, SecretValue)>, SecretsError> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        // Sized up front so a typical value never reallocates (and leaves
        // no unwiped copy).
        let mut line = Zeroizing::new(String::with_capacity(8192));
        let n = input.read_line(&mut line).map_err(|e| {
            SecretsError::Input(format!("failed to read secret `{name}` from stdin: {e}"))
        })?;
        if n == 0 {
            return Err(SecretsError::Input(format!(
                "stdin ended before the value of secret `{name}`: give one line per secret, in \
                 the order of the -s options (e.g. `printf '%s\\n' \"$VALUE\" | meshroom …`)"
            )));
        }
        out.push((name.clone(), to_value(name, &line)?));
    }
    Ok(out)
}

fn to_value(name: &str, raw: &str) -> Result<SecretValue, SecretsError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(SecretsError::Input(format!(
            "empty value for secret `{name}`"
        )));
    }
    Ok(SecretValue::new(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_secret() {
        let names = vec!["api_key".to_string(), "password".to_string()];
        let mut input = std::io::Cursor::new("  k1 \r\np2\nextra\n");
        let got = read_secret_lines(&mut input, &names).unwrap();
        assert_eq!(got[0].0, "api_key");
        assert_eq!(got[0].1.expose(), "k1");
        assert_eq!(got[1].1.expose(), "p2");

        let mut short = std::io::Cursor::new("only-one\n");
        let err = read_secret_lines(&mut short, &names)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`password`"), "{err}");
        assert!(!err.contains("only-one"), "{err}");

        let mut empty = std::io::Cursor::new("\n");
        assert!(read_secret_lines(&mut empty, &names[..1]).is_err());
    }
}
