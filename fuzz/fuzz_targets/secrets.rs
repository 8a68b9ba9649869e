//! The secrets store (`secrets.age`). An input whose first byte is even is
//! the plaintext document, encrypted here to the store's identity, so the
//! document parser behind the decryption is reached; an odd one is the
//! file itself (armor, age header). A store that reads is changed, saved
//! and must read back with every entry.
#![no_main]

#[path = "common.rs"]
mod common;

use std::io::Write as _;
use std::sync::LazyLock;

use age::secrecy::{ExposeSecret as _, SecretString};
use libfuzzer_sys::fuzz_target;
use meshroom::secrets::{
    IdentityConfig, RECIPIENTS_FILE, STORE_FILE, SecretScope, SecretStore, SecretValue,
};

static SCRATCH: LazyLock<tempfile::TempDir> = LazyLock::new(common::scratch);
static IDENTITY: LazyLock<age::x25519::Identity> = LazyLock::new(age::x25519::Identity::generate);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let dir = common::clear(&SCRATCH.path().join("project"));
    let file = if mode % 2 == 0 {
        encrypt(rest)
    } else {
        rest.to_vec()
    };
    common::write(&dir.join(STORE_FILE), &file);
    let recipient = IDENTITY.to_public().to_string();
    common::write(
        &dir.join(RECIPIENTS_FILE),
        format!("{recipient}\n").as_bytes(),
    );
    let mut store = SecretStore::open_with(&dir, config());
    let Ok(entries) = store.entries() else {
        return;
    };
    for (scope, name) in &entries {
        let _ = store.get(scope, name);
        let _ = store.names(scope);
    }
    let added = SecretScope::instance("acme", "fuzz");
    if let Err(e) = store.set(&added, "api_key", SecretValue::new("s3cret".to_string())) {
        panic!("cannot set a secret in a store that reads: {e}");
    }
    if let Err(e) = store.save() {
        panic!("cannot save a store that reads: {e}");
    }
    let back = SecretStore::open_with(&dir, config());
    match back.entries() {
        Ok(read) => {
            for entry in &entries {
                assert!(read.contains(entry), "entry {entry:?} lost by a save");
            }
            assert!(read.contains(&(added, "api_key".to_string())));
        }
        Err(e) => panic!("a saved store does not read back: {e}"),
    }
});

fn config() -> IdentityConfig {
    IdentityConfig {
        identity: Some(SecretString::from(
            IDENTITY.to_string().expose_secret().to_owned(),
        )),
        ..IdentityConfig::default()
    }
}

/// `plaintext` encrypted to the store's identity, ASCII-armored as meshroom writes it.
fn encrypt(plaintext: &[u8]) -> Vec<u8> {
    let recipient = IDENTITY.to_public();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap_or_else(|e| panic!("cannot encrypt: {e}"));
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .unwrap_or_else(|e| panic!("cannot armor: {e}"));
    let mut writer = encryptor
        .wrap_output(armor)
        .unwrap_or_else(|e| panic!("cannot encrypt: {e}"));
    writer
        .write_all(plaintext)
        .unwrap_or_else(|e| panic!("cannot encrypt: {e}"));
    let armor = writer
        .finish()
        .unwrap_or_else(|e| panic!("cannot encrypt: {e}"));
    armor
        .finish()
        .unwrap_or_else(|e| panic!("cannot armor: {e}"));
    out
}
