//! `meshroom.lock` (`Lockfile::load`): a lockfile that loads is recorded
//! entry by entry into a new one, saved, and must load back equal; each
//! entry's reference goes through the reference parser `pull` uses.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use meshroom_registry::{ArtifactRef, Lockfile};

static SCRATCH: LazyLock<tempfile::TempDir> = LazyLock::new(common::scratch);

fuzz_target!(|data: &[u8]| {
    let path = SCRATCH.path().join("meshroom.lock");
    common::write(&path, data);
    let Ok(lock) = Lockfile::load(&path) else {
        return;
    };
    let mut again = Lockfile::default();
    for entry in &lock.products {
        let _ = entry.source_label();
        let _ = ArtifactRef::parse(&entry.reference);
        let _ = lock.change_for(entry);
        let _ = again.record(entry.clone(), false);
    }
    let saved = SCRATCH.path().join("saved.lock");
    // The nesting guard counts brackets inside scalars too (see the
    // definition target): a refusal is what a saved file deep in unclosed
    // brackets gives, by design.
    let too_deep = |path: &std::path::Path| {
        std::fs::read(path).is_ok_and(|b| meshroom_fsutil::yaml_too_deep(&b).is_some())
    };
    if again.save(&saved).is_ok() && !too_deep(&saved) {
        match Lockfile::load(&saved) {
            Ok(back) => assert_eq!(back, again, "a saved lockfile loads back different"),
            Err(e) => panic!("a saved lockfile does not load: {e}"),
        }
    }
});
