//! Registry credentials: where they come from, in order of precedence.
//!
//! 1. `MESHROOM_REGISTRY_USER` / `MESHROOM_REGISTRY_PASSWORD` (for CI);
//! 2. meshroom's login store (`meshroom registry login`), docker-config format in
//!    `$MESHROOM_AUTH_FILE`, else `~/.config/meshroom/auth.json`;
//! 3. the user's docker config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
//!    `credHelpers`, then `auths`, then `credsStore`.
//!
//! A config file's `credHelpers`/`credsStore` run `docker-credential-<name> get`.
//! Passwords never appear in `Debug` output or errors.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::error::{RegistryError, Result};
use crate::fsutil::{read_if_exists, save_private};

/// User name variable for CI credentials.
pub const USER_ENV: &str = "MESHROOM_REGISTRY_USER";
/// Password variable for CI credentials.
pub const PASSWORD_ENV: &str = "MESHROOM_REGISTRY_PASSWORD";
/// Overrides the path of meshroom's login store.
pub const AUTH_FILE_ENV: &str = "MESHROOM_AUTH_FILE";

/// A user name and password (the password is wiped from memory on drop).
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: Zeroizing<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where credentials are looked up.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// Credentials given directly (from the environment, for CI).
    pub explicit: Option<Credentials>,
    /// meshroom's login store (docker-config format).
    pub login_file: Option<PathBuf>,
    /// The user's docker config file.
    pub docker_config: Option<PathBuf>,
    /// `PATH` used to find `docker-credential-*` helpers (`None`: inherit).
    pub helper_path: Option<OsString>,
}

/// Credentials found for one registry, with a description of their source.
#[derive(Clone)]
pub struct ResolvedAuth {
    pub(crate) auth: RegistryAuth,
    /// Where they came from, e.g. `credentials from MESHROOM_REGISTRY_USER` (never the secret).
    pub source: String,
}

impl fmt::Debug for ResolvedAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedAuth")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// The standard sources, read from the environment and the home folder.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let explicit = match (var(USER_ENV), var(PASSWORD_ENV)) {
            (Some(username), Some(password)) => Some(Credentials {
                username,
                password: Zeroizing::new(password),
            }),
            _ => None,
        };
        let login_file = var(AUTH_FILE_ENV)
            .map(PathBuf::from)
            .or_else(|| dirs::config_dir().map(|d| d.join("meshroom").join("auth.json")));
        let docker_config = var("DOCKER_CONFIG")
            .map(|d| PathBuf::from(d).join("config.json"))
            .or_else(|| dirs::home_dir().map(|h| h.join(".docker").join("config.json")));
        AuthConfig {
            explicit,
            login_file,
            docker_config,
            helper_path: None,
        }
    }

    /// No credentials at all (anonymous access).
    pub fn anonymous() -> Self {
        AuthConfig::default()
    }

    /// Finds the credentials for `registry` (a host or `host:port`).
    pub fn resolve(&self, registry: &str) -> Result<ResolvedAuth> {
        if let Some(c) = &self.explicit {
            return Ok(basic(
                c,
                format!(
                    "credentials from {USER_ENV}/{PASSWORD_ENV} (user `{}`)",
                    c.username
                ),
            ));
        }
        for file in [&self.login_file, &self.docker_config]
            .into_iter()
            .flatten()
        {
            if let Some(found) = self.lookup_config_file(file, registry)? {
                return Ok(found);
            }
        }
        Ok(ResolvedAuth {
            auth: RegistryAuth::Anonymous,
            source: "no credentials (anonymous)".to_string(),
        })
    }

    fn lookup_config_file(&self, file: &Path, registry: &str) -> Result<Option<ResolvedAuth>> {
        let Some(config) = read_config(file, registry)? else {
            return Ok(None);
        };
        let described = |what: &str, c: &Credentials| {
            format!("{what} in `{}` (user `{}`)", file.display(), c.username)
        };
        if let Some(helper) = config
            .pointer(&format!(
                "/credHelpers/{}",
                registry.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(Value::as_str)
            && let Some(c) = self.helper_get(helper, registry)?
        {
            return Ok(Some(basic(
                &c,
                described(
                    &format!("credential helper `docker-credential-{helper}`"),
                    &c,
                ),
            )));
        }
        if let Some(auths) = config.get("auths").and_then(Value::as_object) {
            for (key, entry) in auths {
                if normalize_server(key) != registry {
                    continue;
                }
                if let Some(c) = decode_auth_entry(entry, file, registry)? {
                    return Ok(Some(basic(&c, described("saved login", &c))));
                }
            }
        }
        if let Some(store) = config.get("credsStore").and_then(Value::as_str)
            && let Some(c) = self.helper_get(store, registry)?
        {
            return Ok(Some(basic(
                &c,
                described(&format!("credential store `docker-credential-{store}`"), &c),
            )));
        }
        Ok(None)
    }

    fn helper_command(&self, helper: &str, action: &str) -> Command {
        let mut cmd = Command::new(format!("docker-credential-{helper}"));
        cmd.arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = &self.helper_path {
            cmd.env("PATH", path);
        }
        cmd
    }

    /// Runs `docker-credential-<helper> get`; `None` when the helper knows no credentials.
    fn helper_get(&self, helper: &str, registry: &str) -> Result<Option<Credentials>> {
        let fail = |reason: String| RegistryError::Credentials {
            registry: registry.to_string(),
            reason,
        };
        let output = run_helper(self.helper_command(helper, "get"), registry.as_bytes())
            .map_err(|e| fail(format!("cannot run `docker-credential-{helper} get`: {e}")))?;
        if !output.status.success() {
            // The protocol's answer for "nothing stored" is a failure with this message.
            return Ok(None);
        }
        let v: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
            fail(format!(
                "`docker-credential-{helper} get` printed invalid JSON: {e}"
            ))
        })?;
        let username = v
            .get("Username")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let secret = v.get("Secret").and_then(Value::as_str).unwrap_or_default();
        if secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credentials {
            username: username.to_string(),
            password: Zeroizing::new(secret.to_string()),
        }))
    }

    /// Saves credentials for `registry` in meshroom's login store: through its `credsStore`
    /// helper if it names one, else as a docker-config `auths` entry in a file only the
    /// user can read.
    pub fn save_login(&self, registry: &str, credentials: &Credentials) -> Result<PathBuf> {
        let file = self
            .login_file
            .clone()
            .ok_or_else(|| RegistryError::Credentials {
                registry: registry.to_string(),
                reason: format!("no login store: set {AUTH_FILE_ENV} or HOME"),
            })?;
        let mut config = read_config(&file, registry)?.unwrap_or_else(|| json!({}));
        if let Some(store) = config.get("credsStore").and_then(Value::as_str) {
            let payload = Zeroizing::new(
                json!({"ServerURL": registry, "Username": credentials.username, "Secret": credentials.password.as_str()})
                    .to_string(),
            );
            let output = run_helper(self.helper_command(store, "store"), payload.as_bytes())
                .map_err(|e| RegistryError::Credentials {
                    registry: registry.to_string(),
                    reason: format!("cannot run `docker-credential-{store} store`: {e}"),
                })?;
            if !output.status.success() {
                return Err(RegistryError::Credentials {
                    registry: registry.to_string(),
                    reason: format!(
                        "`docker-credential-{store} store` failed: {}",
                        String::from_utf8_lossy(&output.stderr).trim()
                    ),
                });
            }
            return Ok(file);
        }
        let token = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            credentials.username,
            credentials.password.as_str()
        )));
        let Some(obj) = config.as_object_mut() else {
            return Err(RegistryError::Credentials {
                registry: registry.to_string(),
                reason: format!("`{}` is not a JSON object", file.display()),
            });
        };
        let auths = obj.entry("auths").or_insert_with(|| json!({}));
        if !auths.is_object() {
            *auths = json!({});
        }
        if let Some(map) = auths.as_object_mut() {
            map.insert(registry.to_string(), json!({ "auth": token.as_str() }));
        }
        let bytes = Zeroizing::new(serde_json::to_vec_pretty(&config).unwrap_or_default());
        save_private(&file, &bytes)?;
        Ok(file)
    }

    /// Removes saved credentials for `registry` from meshroom's login store; true if there were some.
    pub fn remove_login(&self, registry: &str) -> Result<bool> {
        let Some(file) = &self.login_file else {
            return Ok(false);
        };
        let Some(mut config) = read_config(file, registry)? else {
            return Ok(false);
        };
        let removed = config
            .get_mut("auths")
            .and_then(Value::as_object_mut)
            .map(|m| {
                let keys: Vec<String> = m
                    .keys()
                    .filter(|k| normalize_server(k) == registry)
                    .cloned()
                    .collect();
                keys.iter()
                    .filter(|k| m.remove(k.as_str()).is_some())
                    .count()
                    > 0
            })
            .unwrap_or(false);
        if removed {
            let bytes = Zeroizing::new(serde_json::to_vec_pretty(&config).unwrap_or_default());
            save_private(file, &bytes)?;
        }
        Ok(removed)
    }
}

fn basic(c: &Credentials, source: String) -> ResolvedAuth {
    ResolvedAuth {
        auth: RegistryAuth::Basic(c.username.clone(), c.password.to_string()),
        source,
    }
}

fn read_config(file: &Path, registry: &str) -> Result<Option<Value>> {
    let Some(bytes) = read_if_exists(file)? else {
        return Ok(None);
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| RegistryError::Credentials {
            registry: registry.to_string(),
            reason: format!(
                "`{}` is not valid JSON (line {}, column {}): fix or remove it",
                file.display(),
                e.line(),
                e.column()
            ),
        })
}

/// `https://host:port/v1/` → `host:port` (docker config keys may carry a scheme and a path).
fn normalize_server(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

fn decode_auth_entry(entry: &Value, file: &Path, registry: &str) -> Result<Option<Credentials>> {
    if let (Some(u), Some(p)) = (
        entry.get("username").and_then(Value::as_str),
        entry.get("password").and_then(Value::as_str),
    ) {
        return Ok(Some(Credentials {
            username: u.to_string(),
            password: Zeroizing::new(p.to_string()),
        }));
    }
    let Some(auth) = entry
        .get("auth")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    else {
        return Ok(None);
    };
    let bad = || RegistryError::Credentials {
        registry: registry.to_string(),
        reason: format!(
            "the `auth` entry for {registry} in `{}` is not base64 of `user:password`",
            file.display()
        ),
    };
    let decoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(auth)
            .map_err(|_| bad())?,
    );
    let text = std::str::from_utf8(&decoded).map_err(|_| bad())?;
    let (u, p) = text.split_once(':').ok_or_else(bad)?;
    Ok(Some(Credentials {
        username: u.to_string(),
        password: Zeroizing::new(p.to_string()),
    }))
}

fn run_helper(mut cmd: Command, input: &[u8]) -> std::io::Result<std::process::Output> {
    let mut child = cmd.spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input)?;
    }
    child.wait_with_output()
}

/// The docker-config `auths` keys of a login store, for listing (no secrets).
pub fn saved_registries(file: &Path) -> Result<Vec<String>> {
    let Some(config) = read_config(file, "any registry")? else {
        return Ok(Vec::new());
    };
    let map: BTreeMap<String, Value> = config
        .get("auths")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(map.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials {
            username: u.into(),
            password: Zeroizing::new(p.into()),
        }
    }

    #[test]
    fn explicit_credentials_win_and_never_show_the_password() {
        let cfg = AuthConfig {
            explicit: Some(creds("ci", "s3cret")),
            ..Default::default()
        };
        let r = cfg.resolve("127.0.0.1:5000").unwrap();
        assert_eq!(r.auth, RegistryAuth::Basic("ci".into(), "s3cret".into()));
        assert!(r.source.contains(USER_ENV));
        assert!(!format!("{cfg:?}").contains("s3cret"));
    }

    #[test]
    fn login_store_round_trip_is_private_and_removable() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = AuthConfig {
            login_file: Some(dir.path().join("auth.json")),
            ..Default::default()
        };
        cfg.save_login("127.0.0.1:5000", &creds("alice", "pw:with:colons"))
            .unwrap();
        let r = cfg.resolve("127.0.0.1:5000").unwrap();
        assert_eq!(
            r.auth,
            RegistryAuth::Basic("alice".into(), "pw:with:colons".into())
        );
        assert!(r.source.contains("saved login"), "{}", r.source);
        let text = std::fs::read_to_string(dir.path().join("auth.json")).unwrap();
        assert!(!text.contains("pw:with:colons"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("auth.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
        assert_eq!(
            cfg.resolve("other:5000").unwrap().auth,
            RegistryAuth::Anonymous
        );
        assert!(cfg.remove_login("127.0.0.1:5000").unwrap());
        assert_eq!(
            cfg.resolve("127.0.0.1:5000").unwrap().auth,
            RegistryAuth::Anonymous
        );
    }

    #[test]
    fn docker_config_keys_with_scheme_match_and_helpers_run() {
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-fake");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread server\n[ \"$1\" = get ] && [ \"$server\" = \"reg.example:443\" ] && echo '{\"ServerURL\":\"x\",\"Username\":\"bob\",\"Secret\":\"tok\"}' && exit 0\necho 'credentials not found in native keychain'; exit 1\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let docker = dir.path().join("config.json");
        let token = base64::engine::general_purpose::STANDARD.encode("carol:pw");
        std::fs::write(
            &docker,
            format!(r#"{{"auths":{{"http://127.0.0.1:5000/v2/":{{"auth":"{token}"}}}},"credsStore":"fake"}}"#),
        )
        .unwrap();
        let cfg = AuthConfig {
            docker_config: Some(docker),
            helper_path: Some(dir.path().as_os_str().to_owned()),
            ..Default::default()
        };
        assert_eq!(
            cfg.resolve("127.0.0.1:5000").unwrap().auth,
            RegistryAuth::Basic("carol".into(), "pw".into())
        );
        let r = cfg.resolve("reg.example:443").unwrap();
        assert_eq!(r.auth, RegistryAuth::Basic("bob".into(), "tok".into()));
        assert!(r.source.contains("docker-credential-fake"), "{}", r.source);
        assert_eq!(
            cfg.resolve("nothing.example").unwrap().auth,
            RegistryAuth::Anonymous
        );
    }

    #[test]
    fn a_broken_config_file_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        std::fs::write(&file, "{\n  \"auths\": ,\n}").unwrap();
        let cfg = AuthConfig {
            login_file: Some(file),
            ..Default::default()
        };
        let err = cfg.resolve("127.0.0.1:5000").unwrap_err().to_string();
        assert!(err.contains("auth.json") && err.contains("line 2"), "{err}");
    }
}
