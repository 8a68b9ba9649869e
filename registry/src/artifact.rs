//! The product artifact: how a product package maps onto one OCI manifest, and back.
//!
//! Layout (the CNCF Wasm artifact layout, plus plain files any OCI client can read):
//! - config `application/vnd.wasm.config.v0+json` (oci-wasm's `WasmConfig`: the
//!   component's imports and exports, `layerDigests` listing every layer);
//! - layer 0: the adapter component, `application/wasm`;
//! - layer 1: the product definition, [`DEFINITION_MEDIA_TYPE`], titled `definition.yaml`;
//! - further layers: the product's other files (integration manifests), [`FILE_MEDIA_TYPE`],
//!   each titled with its path relative to the product folder (as `oras pull` expects);
//! - the conformance suite (`tests/`: scenarios, cassettes, their large bodies), one layer
//!   per file of [`TEST_MEDIA_TYPE`], titled `tests/…`: a pulled product can be tested
//!   offline before `up`, and a cassette unchanged between versions is one shared blob;
//! - manifest annotations: `org.opencontainers.image.{title,description,version,vendor,source,created}`.
//!
//! Building is pure and deterministic: the same inputs give the same manifest digest.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use oci_wasm::{
    COMPONENT_OS, WASM_ARCHITECTURE, WASM_LAYER_MEDIA_TYPE, WASM_MANIFEST_CONFIG_MEDIA_TYPE,
    WasmConfig,
};

use crate::digest::Digest;
use crate::error::{RegistryError, Result};

/// Media type of the product definition layer (`definition.yaml`).
pub const DEFINITION_MEDIA_TYPE: &str = "application/vnd.meshroom.product.definition.v1+yaml";
/// Media type of the product's other files (integration manifests).
pub const FILE_MEDIA_TYPE: &str = "application/vnd.meshroom.product.file.v1+yaml";
/// Media type of a file of the product's conformance suite (below `tests/`).
pub const TEST_MEDIA_TYPE: &str = "application/vnd.meshroom.product.test.v1";
/// The standard title annotation (product name on the manifest, file path on a layer).
pub const TITLE: &str = "org.opencontainers.image.title";
/// Standard annotation keys.
pub const DESCRIPTION: &str = "org.opencontainers.image.description";
#[allow(missing_docs)]
pub const VERSION: &str = "org.opencontainers.image.version";
#[allow(missing_docs)]
pub const VENDOR: &str = "org.opencontainers.image.vendor";
#[allow(missing_docs)]
pub const SOURCE: &str = "org.opencontainers.image.source";
#[allow(missing_docs)]
pub const CREATED: &str = "org.opencontainers.image.created";
/// The WIT package the adapter contract lives in (its version is recorded in the lockfile).
pub const WIT_PACKAGE: &str = "meshroom:adapter";

/// When the artifact says it was created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Created {
    /// `SOURCE_DATE_EPOCH` if set, else 1970-01-01T00:00:00Z: reproducible.
    #[default]
    Reproducible,
    /// The current time (not reproducible).
    Now,
    /// A given time.
    At(DateTime<Utc>),
}

impl Created {
    fn resolve(&self) -> DateTime<Utc> {
        match self {
            Created::Now => Utc::now(),
            Created::At(t) => *t,
            Created::Reproducible => std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .and_then(|secs| DateTime::from_timestamp(secs, 0))
                .unwrap_or(DateTime::UNIX_EPOCH),
        }
    }
}

/// A file of the product other than its definition (e.g. `integrations/x/events_consumer.yml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    /// Path relative to the product folder, `/`-separated.
    pub path: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// Descriptive metadata, written as standard annotations.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// One-line description (newlines are folded into spaces).
    pub description: Option<String>,
    /// Version of the product artifact.
    pub version: Option<String>,
    /// Vendor name.
    pub vendor: Option<String>,
    /// Source URL.
    pub source: Option<String>,
    /// Creation time.
    pub created: Created,
}

/// Everything a product artifact holds.
#[derive(Debug, Clone)]
pub struct ProductPackage {
    /// Product name (the manifest's title; the folder name under `products/` on pull).
    pub name: String,
    /// The adapter, a WebAssembly component.
    pub component: Vec<u8>,
    /// `definition.yaml`.
    pub definition: Vec<u8>,
    /// Other files: integration manifests, and the conformance suite
    /// (paths below `tests/`).
    pub files: Vec<PackageFile>,
    /// Annotations.
    pub metadata: Metadata,
}

/// A blob of a built artifact.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Its descriptor in the manifest.
    pub descriptor: OciDescriptor,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// A product package turned into an OCI manifest and its blobs.
#[derive(Debug, Clone)]
pub struct BuiltArtifact {
    /// The manifest bytes, exactly as pushed.
    pub manifest: Vec<u8>,
    /// The manifest's digest.
    pub manifest_digest: Digest,
    /// The component layer's digest.
    pub component_digest: Digest,
    /// Config first, then the layers in manifest order.
    pub blobs: Vec<Blob>,
}

/// Refuses anything but a WebAssembly component (core modules included).
pub fn check_component(bytes: &[u8]) -> Result<()> {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0x00, 0x01, 0x00]) => Ok(()),
        Some([0, b'a', b's', b'm', 0x01, 0x00, 0x00, 0x00]) => Err(RegistryError::InvalidComponent(
            "this is a core WebAssembly module, not a component; build the adapter for wasm32-wasip2".to_string(),
        )),
        _ => Err(RegistryError::InvalidComponent(
            "not a WebAssembly component (it does not start with the component header)".to_string(),
        )),
    }
}

/// Checks a product file path: relative, `/`-separated, no `..`, no empty or hidden tricks.
pub fn check_relative_path(path: &str) -> std::result::Result<(), String> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains(':')
        || path.chars().any(char::is_control)
        || path
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        Err(format!(
            "unsafe file path `{path}` (must be relative, `/`-separated, without `..`)"
        ))
    } else {
        Ok(())
    }
}

/// Folds an annotation value onto one line (registries reject newlines in annotations).
fn one_line(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn descriptor(media_type: &str, bytes: &[u8], title: Option<&str>) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_string(),
        digest: Digest::of(bytes).to_string(),
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        urls: None,
        annotations: title.map(|t| BTreeMap::from([(TITLE.to_string(), t.to_string())])),
        ..Default::default()
    }
}

/// Builds the artifact of a product package (pure and deterministic).
pub fn build(package: &ProductPackage) -> Result<BuiltArtifact> {
    check_component(&package.component)?;
    if package.name.is_empty()
        || check_relative_path(&package.name).is_err()
        || package.name.contains('/')
    {
        return Err(RegistryError::InvalidArtifact {
            reference: package.name.clone(),
            reason: "the product name must be one non-empty path segment".to_string(),
        });
    }
    let component = oci_wasm::Component::from_raw_component(&package.component).map_err(|e| {
        RegistryError::InvalidComponent(format!("cannot decode its WIT world: {e:#}"))
    })?;

    let mut files = package.files.clone();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for pair in files.windows(2) {
        if pair[0].path == pair[1].path {
            return Err(RegistryError::InvalidArtifact {
                reference: package.name.clone(),
                reason: format!("file `{}` is given twice", pair[0].path),
            });
        }
    }
    let mut layers = vec![
        Blob {
            descriptor: descriptor(
                WASM_LAYER_MEDIA_TYPE,
                &package.component,
                Some(&format!("{}.wasm", package.name)),
            ),
            bytes: package.component.clone(),
        },
        Blob {
            descriptor: descriptor(
                DEFINITION_MEDIA_TYPE,
                &package.definition,
                Some("definition.yaml"),
            ),
            bytes: package.definition.clone(),
        },
    ];
    for file in files {
        check_relative_path(&file.path).map_err(|reason| RegistryError::InvalidArtifact {
            reference: package.name.clone(),
            reason,
        })?;
        if file.path == "definition.yaml" {
            continue;
        }
        let media_type = if file.path.starts_with("tests/") {
            TEST_MEDIA_TYPE
        } else {
            FILE_MEDIA_TYPE
        };
        layers.push(Blob {
            descriptor: descriptor(media_type, &file.bytes, Some(&file.path)),
            bytes: file.bytes,
        });
    }

    let created = package.metadata.created.resolve();
    let config = WasmConfig {
        created,
        author: package.metadata.vendor.as_deref().map(one_line),
        architecture: WASM_ARCHITECTURE.to_string(),
        os: COMPONENT_OS.to_string(),
        layer_digests: layers.iter().map(|l| l.descriptor.digest.clone()).collect(),
        component: Some(component),
    };
    let config_bytes = serde_json::to_vec(&config)
        .map_err(|e| RegistryError::InvalidComponent(format!("cannot encode its config: {e}")))?;
    let config_blob = Blob {
        descriptor: descriptor(WASM_MANIFEST_CONFIG_MEDIA_TYPE, &config_bytes, None),
        bytes: config_bytes,
    };

    let meta = &package.metadata;
    let mut annotations = BTreeMap::new();
    annotations.insert(TITLE.to_string(), package.name.clone());
    annotations.insert(
        CREATED.to_string(),
        created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    for (key, value) in [
        (DESCRIPTION, &meta.description),
        (VERSION, &meta.version),
        (VENDOR, &meta.vendor),
        (SOURCE, &meta.source),
    ] {
        if let Some(v) = value.as_deref().map(one_line).filter(|v| !v.is_empty()) {
            annotations.insert(key.to_string(), v);
        }
    }
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_string()),
        config: config_blob.descriptor.clone(),
        layers: layers.iter().map(|l| l.descriptor.clone()).collect(),
        subject: None,
        artifact_type: None,
        annotations: Some(annotations),
    };
    let manifest_bytes = serde_json::to_vec(&manifest)
        .map_err(|e| RegistryError::InvalidComponent(format!("cannot encode the manifest: {e}")))?;
    let component_digest = Digest::of(&package.component);
    let mut blobs = vec![config_blob];
    blobs.extend(layers);
    Ok(BuiltArtifact {
        manifest_digest: Digest::of(&manifest_bytes),
        manifest: manifest_bytes,
        component_digest,
        blobs,
    })
}

/// A manifest read back: which blob is which.
#[derive(Debug, Clone)]
pub(crate) struct ParsedManifest {
    pub config: OciDescriptor,
    pub component: OciDescriptor,
    pub definition: OciDescriptor,
    /// (path, descriptor) of the other files.
    pub files: Vec<(String, OciDescriptor)>,
    pub annotations: BTreeMap<String, String>,
}

/// Reads a manifest and checks it is a meshroom product artifact.
pub(crate) fn parse_manifest(bytes: &[u8], reference: &str) -> Result<ParsedManifest> {
    let invalid = |reason: String| RegistryError::InvalidArtifact {
        reference: reference.to_string(),
        reason,
    };
    let manifest: OciImageManifest = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("the manifest is not an OCI image manifest: {e}")))?;
    if manifest.config.media_type != WASM_MANIFEST_CONFIG_MEDIA_TYPE {
        return Err(invalid(format!(
            "config media type is `{}`, expected `{WASM_MANIFEST_CONFIG_MEDIA_TYPE}` (not a Wasm artifact)",
            manifest.config.media_type
        )));
    }
    let by_type = |t: &str| {
        manifest
            .layers
            .iter()
            .filter(|l| l.media_type == t)
            .cloned()
            .collect::<Vec<_>>()
    };
    let [component] =
        <[OciDescriptor; 1]>::try_from(by_type(WASM_LAYER_MEDIA_TYPE)).map_err(|v| {
            invalid(format!(
                "expected exactly one `{WASM_LAYER_MEDIA_TYPE}` layer, found {}",
                v.len()
            ))
        })?;
    let [definition] = <[OciDescriptor; 1]>::try_from(by_type(DEFINITION_MEDIA_TYPE))
        .map_err(|v| invalid(format!("expected exactly one `{DEFINITION_MEDIA_TYPE}` layer (the product definition), found {}", v.len())))?;
    let mut files = Vec::new();
    for layer in by_type(FILE_MEDIA_TYPE)
        .into_iter()
        .chain(by_type(TEST_MEDIA_TYPE))
    {
        let path = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(TITLE))
            .cloned()
            .ok_or_else(|| {
                invalid(format!(
                    "file layer {} has no `{TITLE}` annotation",
                    layer.digest
                ))
            })?;
        check_relative_path(&path).map_err(invalid)?;
        files.push((path, layer));
    }
    for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
        Digest::parse(&d.digest)
            .map_err(|_| invalid(format!("unsupported digest `{}`", d.digest)))?;
    }
    Ok(ParsedManifest {
        config: manifest.config,
        component,
        definition,
        files,
        annotations: manifest.annotations.unwrap_or_default(),
    })
}

/// The version of the `meshroom:adapter` WIT package the component imports or exports.
pub fn wit_version(config: &[u8]) -> Option<String> {
    let config: WasmConfig = serde_json::from_slice(config).ok()?;
    let component = config.component?;
    component
        .exports
        .iter()
        .chain(&component.imports)
        .filter_map(|item| item.strip_prefix(WIT_PACKAGE))
        .find_map(|rest| rest.split_once('@').map(|(_, v)| v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component: its header alone.
    pub(crate) const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    fn package() -> ProductPackage {
        ProductPackage {
            name: "crowdsec".into(),
            component: EMPTY_COMPONENT.to_vec(),
            definition: b"name: crowdsec\n".to_vec(),
            files: vec![PackageFile {
                path: "integrations/x/events_consumer.yml".into(),
                bytes: b"a: 1\n".to_vec(),
            }],
            metadata: Metadata {
                description: Some("An IPS\nwith two lines".into()),
                version: Some("1.2.0".into()),
                vendor: Some("CrowdSec".into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn build_is_reproducible_and_parses_back() {
        let a = build(&package()).unwrap();
        let b = build(&package()).unwrap();
        assert_eq!(a.manifest_digest, b.manifest_digest);
        assert_eq!(a.manifest, b.manifest);
        let parsed = parse_manifest(&a.manifest, "x").unwrap();
        assert_eq!(parsed.annotations[DESCRIPTION], "An IPS with two lines");
        assert_eq!(parsed.annotations[CREATED], "1970-01-01T00:00:00Z");
        assert_eq!(parsed.annotations[TITLE], "crowdsec");
        assert_eq!(parsed.component.digest, a.component_digest.as_str());
        assert_eq!(parsed.files.len(), 1);
        assert_eq!(parsed.files[0].0, "integrations/x/events_consumer.yml");
        let config: serde_json::Value = serde_json::from_slice(&a.blobs[0].bytes).unwrap();
        assert_eq!(config["layerDigests"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn changing_created_changes_the_digest() {
        let mut p = package();
        p.metadata.created = Created::At(DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        assert_ne!(
            build(&p).unwrap().manifest_digest,
            build(&package()).unwrap().manifest_digest
        );
    }

    #[test]
    fn core_modules_and_garbage_are_refused() {
        let mut p = package();
        p.component = b"\0asm\x01\x00\x00\x00".to_vec();
        assert!(
            build(&p)
                .unwrap_err()
                .to_string()
                .contains("core WebAssembly module")
        );
        p.component = b"hello".to_vec();
        assert!(
            build(&p)
                .unwrap_err()
                .to_string()
                .contains("not a WebAssembly component")
        );
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in ["../x", "/etc/passwd", "a//b", "a/./b", "c:\\x", ""] {
            assert!(check_relative_path(bad).is_err(), "{bad}");
        }
        assert!(check_relative_path("integrations/a/b_consumer.yml").is_ok());
        let mut p = package();
        p.files.push(PackageFile {
            path: "../evil".into(),
            bytes: vec![],
        });
        assert!(build(&p).is_err());
    }
}
