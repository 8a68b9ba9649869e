//! Which setting names are secrets even without `secret: true`.

/// Whether a setting named `setting_name` should be handled as a secret even
/// when its definition lacks `secret: true` (the original Meshroom forces
/// `password|token|secret`; we add API keys, private keys, credentials…).
///
/// The name is compared case-insensitively, with `camelCase`, `-`, `.` and
/// spaces treated as word breaks, so `apiKey`, `API-KEY`, `api key` and
/// `x_api_key` all count. A name ending in the word `key` (`intake_key`,
/// `license_key`) counts too; `key_id`, `keyword` or `monkey_mode` do not.
pub fn looks_secret(setting_name: &str) -> bool {
    let words = words(setting_name);
    let joined: String = words.concat();
    const PARTS: [&str; 10] = [
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "credential",
        "apikey",
        "privatekey",
        "accesskey",
        "authorization",
    ];
    if PARTS.iter().any(|p| joined.contains(p)) {
        return true;
    }
    if words
        .iter()
        .any(|w| matches!(w.as_str(), "pwd" | "bearer" | "cookie"))
    {
        return true;
    }
    matches!(words.last().map(String::as_str), Some("key" | "keys"))
}

/// Splits a setting name into lowercase words at `_ - . space` and camelCase humps.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::looks_secret;

    #[test]
    fn secret_looking_names() {
        for name in [
            "password",
            "db_password",
            "DBPassword",
            "passwd",
            "token",
            "access_token",
            "refreshToken",
            "secret",
            "client_secret",
            "api_key",
            "apiKey",
            "API-KEY",
            "api key",
            "apikey",
            "x_api_key",
            "private_key",
            "privateKey",
            "intake_key",
            "license_key",
            "credentials",
            "aws_secret_access_key",
            "authorization",
            "pwd",
            "passphrase",
        ] {
            assert!(looks_secret(name), "{name} should look secret");
        }
    }

    #[test]
    fn ordinary_names() {
        for name in [
            "url",
            "host",
            "port",
            "verify_ssl",
            "key_id",
            "keyword",
            "monkey_mode",
            "username",
            "tenant",
            "community_uuid",
            "",
        ] {
            assert!(!looks_secret(name), "{name} should not look secret");
        }
    }
}
