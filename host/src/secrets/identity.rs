//! Where the key that opens `secrets.age` comes from, without ever waiting
//! for a terminal that is not there.
//!
//! In order: `MESHROOM_AGE_IDENTITY_FILE` (an age identity file, as written by
//! `age-keygen` or `meshroom secrets init`), `MESHROOM_AGE_IDENTITY` (the
//! `AGE-SECRET-KEY-1…` key itself), `MESHROOM_SECRETS_PASSPHRASE` (for a
//! passphrase-encrypted store), then the default identity file
//! (`$XDG_CONFIG_HOME/meshroom/identity.txt`, else `~/.config/meshroom/identity.txt`).
//! A passphrase is prompted for only when stdin and stderr are terminals.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use age::x25519;
use zeroize::Zeroizing;

use super::SecretsError;

/// Path of an age identity file.
pub const ENV_IDENTITY_FILE: &str = "MESHROOM_AGE_IDENTITY_FILE";
/// An age identity (`AGE-SECRET-KEY-1…`), several separated by newlines.
pub const ENV_IDENTITY: &str = "MESHROOM_AGE_IDENTITY";
/// The passphrase of a passphrase-encrypted store.
pub const ENV_PASSPHRASE: &str = "MESHROOM_SECRETS_PASSPHRASE";

/// Where to look for identities. [`IdentityConfig::from_env`] reads the
/// process environment; tests and embedders fill the fields themselves.
#[derive(Default)]
pub struct IdentityConfig {
    /// An age identity file (`MESHROOM_AGE_IDENTITY_FILE`); must exist when set.
    pub identity_file: Option<PathBuf>,
    /// Identity text (`MESHROOM_AGE_IDENTITY`).
    pub identity: Option<SecretString>,
    /// Passphrase (`MESHROOM_SECRETS_PASSPHRASE`).
    pub passphrase: Option<SecretString>,
    /// The per-user identity file, used when it exists.
    pub default_identity_file: Option<PathBuf>,
    /// Whether a passphrase may be prompted for on the terminal.
    pub interactive: bool,
}

impl std::fmt::Debug for IdentityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityConfig")
            .field("identity_file", &self.identity_file)
            .field("identity", &self.identity.as_ref().map(|_| "[redacted]"))
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "[redacted]"),
            )
            .field("default_identity_file", &self.default_identity_file)
            .field("interactive", &self.interactive)
            .finish()
    }
}

impl IdentityConfig {
    /// From the environment variables above; interactive when stdin and
    /// stderr are both terminals.
    pub fn from_env() -> Self {
        let non_empty = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            identity_file: std::env::var_os(ENV_IDENTITY_FILE)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            identity: non_empty(ENV_IDENTITY).map(SecretString::from),
            passphrase: non_empty(ENV_PASSPHRASE).map(SecretString::from),
            default_identity_file: default_identity_path(),
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    /// Where `meshroom secrets init` writes a new identity: the
    /// `MESHROOM_AGE_IDENTITY_FILE` path when set, else the default one.
    pub fn identity_file_to_create(&self) -> Option<&Path> {
        self.identity_file
            .as_deref()
            .or(self.default_identity_file.as_deref())
    }

    /// The passphrase from the environment, else prompted on a terminal.
    pub(crate) fn passphrase_for(
        &self,
        store: &Path,
    ) -> Result<(SecretString, String), SecretsError> {
        if let Some(p) = &self.passphrase {
            return Ok((p.clone(), ENV_PASSPHRASE.to_owned()));
        }
        if self.interactive {
            let prompt = format!("Passphrase for {}: ", store.display());
            let typed = rpassword::prompt_password(prompt)
                .map_err(|e| SecretsError::io("read the passphrase for", store, e))?;
            return Ok((SecretString::from(typed), "the terminal".to_owned()));
        }
        Err(SecretsError::NoPassphrase {
            path: store.to_owned(),
        })
    }
}

/// `$XDG_CONFIG_HOME/meshroom/identity.txt`, else `~/.config/meshroom/identity.txt`.
pub fn default_identity_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("meshroom").join("identity.txt"))
}

/// The X25519 identities found, and where each came from (for messages).
pub struct Keyring {
    identities: Vec<x25519::Identity>,
    sources: Vec<String>,
}

impl Keyring {
    /// Loads every identity `config` points at. A variable that is set but
    /// wrong (missing file, bad key) is an error, not silently skipped.
    pub fn load(config: &IdentityConfig) -> Result<Self, SecretsError> {
        let mut ring = Self {
            identities: Vec::new(),
            sources: Vec::new(),
        };
        if let Some(path) = &config.identity_file {
            let source = format!("{ENV_IDENTITY_FILE}={}", path.display());
            ring.add(parse_identity_file(path, &source)?, source);
        }
        if let Some(text) = &config.identity {
            let ids = parse_identities(text.expose_secret(), ENV_IDENTITY)?;
            ring.add(ids, ENV_IDENTITY.to_owned());
        }
        if let Some(path) = &config.default_identity_file
            && config.identity_file.as_deref() != Some(path.as_path())
            && path.exists()
        {
            let source = format!("default identity file {}", path.display());
            ring.add(parse_identity_file(path, &source)?, source);
        }
        Ok(ring)
    }

    fn add(&mut self, ids: Vec<x25519::Identity>, source: String) {
        self.identities.extend(ids);
        self.sources.push(source);
    }

    /// Whether no identity was found.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    /// The identities, to hand to a decryptor.
    pub fn identities(&self) -> &[x25519::Identity] {
        &self.identities
    }

    /// Public keys of the identities.
    pub fn public_keys(&self) -> Vec<x25519::Recipient> {
        self.identities.iter().map(|i| i.to_public()).collect()
    }

    /// Where the identities came from, for messages.
    pub fn sources(&self) -> String {
        self.sources.join(", ")
    }
}

/// Reads an age identity file (`#` comments, one `AGE-SECRET-KEY-1…` per line).
pub fn parse_identity_file(
    path: &Path,
    source: &str,
) -> Result<Vec<x25519::Identity>, SecretsError> {
    warn_if_shared(path);
    let text = std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|e| SecretsError::InvalidIdentity {
            source_name: source.to_owned(),
            reason: format!("cannot read the identity file: {e}"),
        })?;
    parse_identities(&text, source)
}

/// Warns when other users can read an identity file (as ssh does for keys).
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "identity file `{}` is readable by other users: run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Parses identity text. Errors name the line, never its content.
pub fn parse_identities(text: &str, source: &str) -> Result<Vec<x25519::Identity>, SecretsError> {
    let mut ids = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = x25519::Identity::from_str(line).map_err(|_| SecretsError::InvalidIdentity {
            source_name: source.to_owned(),
            reason: format!(
                "line {} is not an age X25519 identity (`AGE-SECRET-KEY-1…`; passphrase-protected \
                 and plugin identities are not supported)",
                i + 1
            ),
        })?;
        ids.push(id);
    }
    if ids.is_empty() {
        return Err(SecretsError::InvalidIdentity {
            source_name: source.to_owned(),
            reason: "no `AGE-SECRET-KEY-1…` identity in it".into(),
        });
    }
    Ok(ids)
}

/// Creates a new identity file at `path` (mode 0600, its folder 0700 when
/// created), in the `age-keygen` format; returns the public key.
/// Refuses to overwrite an existing file.
pub fn create_identity_file(path: &Path) -> Result<x25519::Recipient, SecretsError> {
    if path.exists() {
        return Err(SecretsError::Input(format!(
            "`{}` already exists; it was left untouched",
            path.display()
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let identity = x25519::Identity::generate();
    let public = identity.to_public();
    let mut text = Zeroizing::new(String::with_capacity(256));
    text.push_str(
        "# created by `meshroom secrets init`: keep this file private, never commit it\n",
    );
    text.push_str(&format!("# public key: {public}\n"));
    text.push_str(identity.to_string().expose_secret());
    text.push('\n');
    crate::fsutil::write_atomic_private(path, text.as_bytes())
        .map_err(|e| SecretsError::io("write the identity file", path, e))?;
    set_mode(path, 0o600)?;
    Ok(public)
}

fn create_private_dir(dir: &Path) -> Result<(), SecretsError> {
    if dir.is_dir() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| SecretsError::io("create", dir, e))
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(|e| SecretsError::io("create", dir, e))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), SecretsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| SecretsError::io("set permissions of", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_identity_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg/meshroom/identity.txt");
        let public = create_identity_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dmode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dmode & 0o777, 0o700);
        }
        let ids = parse_identity_file(&path, "test").unwrap();
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0].to_public(), public);
        assert!(create_identity_file(&path).is_err(), "never overwrites");
    }

    #[test]
    fn bad_identity_text_names_the_line_not_the_content() {
        let err = parse_identities("# c\nAGE-SECRET-KEY-1HUNTER2\n", "X")
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(!msg.contains("HUNTER2"), "{msg}");
        assert!(parse_identities("# only comments\n", "X").is_err());
    }

    #[test]
    fn keyring_from_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("id.txt");
        let from_file = create_identity_file(&file).unwrap();
        let inline = x25519::Identity::generate();
        let config = IdentityConfig {
            identity_file: Some(file.clone()),
            identity: Some(SecretString::from(
                inline.to_string().expose_secret().to_owned(),
            )),
            default_identity_file: Some(dir.path().join("absent.txt")),
            ..Default::default()
        };
        let ring = Keyring::load(&config).unwrap();
        assert_eq!(ring.public_keys(), vec![from_file, inline.to_public()]);
        assert!(ring.sources().contains(ENV_IDENTITY_FILE));

        let missing = IdentityConfig {
            identity_file: Some(dir.path().join("nope.txt")),
            ..Default::default()
        };
        let err = Keyring::load(&missing).err().unwrap().to_string();
        assert!(err.contains("nope.txt"), "{err}");
        assert!(
            Keyring::load(&IdentityConfig::default())
                .unwrap()
                .is_empty()
        );
    }
}
