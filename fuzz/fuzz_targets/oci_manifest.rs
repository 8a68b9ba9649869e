//! An OCI image manifest as `pull` reads it from a registry: the input is
//! the manifest (`@blobN@` stands for the digest of the artifact's blob N),
//! stored in an image layout whose `index.json` names it `fuzz`.
#![no_main]

#[path = "common.rs"]
mod common;
#[path = "oci.rs"]
mod oci;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use meshroom_registry::Digest;

static SCRATCH: LazyLock<tempfile::TempDir> = LazyLock::new(common::scratch);

fuzz_target!(|data: &[u8]| {
    let manifest = oci::with_digests(data);
    let layout = common::clear(&SCRATCH.path().join("layout"));
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": Digest::of(&manifest).to_string(),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "fuzz"},
        }],
    });
    oci::write_layout(&layout, index.to_string().as_bytes(), Some(&manifest));
    oci::pull(
        SCRATCH.path(),
        &format!("oci-layout:{}:fuzz", layout.display()),
    );
});
