//! What the OCI targets share: a real product artifact built once, an image
//! layout holding it, and a pull from that layout as `meshroom pull` does.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use meshroom_registry::{
    ArtifactRef, AuthConfig, BlobCache, BuiltArtifact, Digest, Metadata, PackageFile,
    ProductPackage, Registry, build,
};

/// The artifact the layouts hold: a component, a definition, an
/// integration file and a conformance file.
pub static ARTIFACT: LazyLock<BuiltArtifact> = LazyLock::new(|| {
    let package = ProductPackage {
        name: "acme".to_string(),
        component: b"\0asm\x0d\0\x01\0".to_vec(),
        definition: b"description: fuzz\nproduces:\n  events: [{mode: push}]\n".to_vec(),
        files: vec![
            PackageFile {
                path: "integrations/other/events_producer.yml".to_string(),
                bytes: b"format: json\n".to_vec(),
            },
            PackageFile {
                path: "tests/check.yaml".to_string(),
                bytes: b"meshroom_scenario: 1\n".to_vec(),
            },
        ],
        metadata: Metadata::default(),
    };
    build(&package).unwrap_or_else(|e| panic!("cannot build the artifact: {e}"))
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"))
});

/// `text` with `@blob0@`, `@blob1@`… replaced by the digests of the
/// artifact's blobs (config, component, definition, files), `@size0@`…
/// by their sizes, and `@manifest@` by the manifest's digest: the fuzzer
/// cannot compute sha256, the seeds name blobs that way.
pub fn with_digests(bytes: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    let mut text = text.replace("@manifest@", &ARTIFACT.manifest_digest.to_string());
    text = text.replace("@manifestsize@", &ARTIFACT.manifest.len().to_string());
    for (i, blob) in ARTIFACT.blobs.iter().enumerate() {
        text = text.replace(&format!("@blob{i}@"), &blob.descriptor.digest);
        text = text.replace(&format!("@size{i}@"), &blob.bytes.len().to_string());
    }
    text.into_bytes()
}

/// Writes an image layout at `dir`: `index.json`, the artifact's manifest
/// and blobs, and `manifest` (when given) as one more blob.
pub fn write_layout(dir: &Path, index: &[u8], manifest: Option<&[u8]>) {
    let blobs = dir.join("blobs/sha256");
    let put = |bytes: &[u8]| {
        let digest = Digest::of(bytes);
        super::common::write(&blobs.join(digest.hex()), bytes);
    };
    put(&ARTIFACT.manifest);
    for blob in &ARTIFACT.blobs {
        put(&blob.bytes);
    }
    if let Some(m) = manifest {
        put(m);
    }
    super::common::write(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    );
    super::common::write(&dir.join("index.json"), index);
}

/// Pulls `reference` (`oci-layout:<dir>:<tag>`) with an empty cache under
/// `scratch`, and reads back what was pulled.
pub fn pull(scratch: &Path, reference: &str) {
    let cache: PathBuf = super::common::clear(&scratch.join("cache"));
    let Ok(reference) = ArtifactRef::parse(reference) else {
        return;
    };
    let registry = Registry::new(
        BlobCache::new(cache),
        AuthConfig::anonymous(),
        scratch.join("default-layout"),
    );
    match RUNTIME.block_on(registry.pull(&reference)) {
        Ok(pulled) => {
            let _ = pulled.lock_entry();
        }
        // What the seeds reach, when a seed needs fixing.
        Err(e) if std::env::var_os("MESHROOM_FUZZ_DEBUG").is_some() => eprintln!("pull: {e}"),
        Err(_) => {}
    }
}
