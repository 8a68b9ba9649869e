//! An image layout's `index.json` as `pull` reads it: the input is the
//! index (`@manifest@` stands for the digest of a real artifact's manifest,
//! stored in the layout with its blobs); `fuzz` is pulled by tag.
#![no_main]

#[path = "common.rs"]
mod common;
#[path = "oci.rs"]
mod oci;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static SCRATCH: LazyLock<tempfile::TempDir> = LazyLock::new(common::scratch);

fuzz_target!(|data: &[u8]| {
    let index = oci::with_digests(data);
    let layout = common::clear(&SCRATCH.path().join("layout"));
    oci::write_layout(&layout, &index, None);
    oci::pull(
        SCRATCH.path(),
        &format!("oci-layout:{}:fuzz", layout.display()),
    );
});
