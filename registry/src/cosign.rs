//! Cosign's signature scheme (sigstore/cosign `specs/SIGNATURE_SPEC.md`), so
//! `cosign verify --key` reads what meshroom signs and meshroom reads what cosign signs.
//!
//! - The signatures of the manifest `sha256:<hex>` are one OCI image manifest tagged
//!   `sha256-<hex>.sig` in the same repository.
//! - Each signature is one layer of media type [`SIMPLE_SIGNING_MEDIA_TYPE`]: the
//!   blob is the simple-signing payload (`critical.image.docker-manifest-digest`,
//!   `critical.identity.docker-reference`, `critical.type` =
//!   `cosign container image signature`), the layer's [`SIGNATURE_ANNOTATION`] holds
//!   the base64 ASN.1 DER ECDSA-P256 signature over SHA-256 of those payload bytes.
//! - A second signature appends a layer; the first stays.
//!
//! This module is pure (bytes in, bytes out); [`crate::Registry`] moves them.

use std::collections::BTreeMap;

use oci_client::manifest::{
    IMAGE_CONFIG_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest,
};
use serde_json::{Value, json};

use crate::digest::Digest;

/// Media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of a cosign signature payload.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";

/// The tag of the signatures of `digest`: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

/// The simple-signing payload for `digest` in `docker_reference` (the repository,
/// without tag), serialised as cosign does.
pub fn payload(docker_reference: &str, digest: &Digest) -> Vec<u8> {
    let value = json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest.as_str()},
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    });
    value.to_string().into_bytes()
}

/// What a payload claims to be signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadClaim {
    /// `critical.image.docker-manifest-digest`.
    pub manifest_digest: String,
    /// `critical.identity.docker-reference` (informative: the spec says it is ignored).
    pub docker_reference: String,
}

/// Reads a simple-signing payload; `Err` says why it is not one.
pub fn read_payload(bytes: &[u8]) -> Result<PayloadClaim, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the payload is not JSON ({e})"))?;
    let critical = value
        .get("critical")
        .ok_or("the payload has no `critical` section")?;
    // Go's JSON decoder, which cosign uses, matches keys case-insensitively
    // (the spec's own example says `Docker-manifest-digest`).
    let field = |section: &Value, key: &str| -> Option<String> {
        section.as_object()?.iter().find_map(|(k, v)| {
            k.eq_ignore_ascii_case(key)
                .then(|| v.as_str().map(str::to_string))
                .flatten()
        })
    };
    let kind = field(critical, "type").ok_or("the payload has no `critical.type`")?;
    if kind != PAYLOAD_TYPE {
        return Err(format!(
            "the payload's `critical.type` is `{kind}`, not `{PAYLOAD_TYPE}`"
        ));
    }
    let image = critical
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("image")))
        .map(|(_, v)| v)
        .ok_or("the payload has no `critical.image`")?;
    let manifest_digest = field(image, "docker-manifest-digest")
        .ok_or("the payload has no `critical.image.docker-manifest-digest`")?;
    let docker_reference = critical
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("identity")))
        .and_then(|(_, v)| field(v, "docker-reference"))
        .unwrap_or_default();
    Ok(PayloadClaim {
        manifest_digest,
        docker_reference,
    })
}

/// One signature layer of a signature manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLayer {
    /// The payload blob's digest.
    pub payload_digest: Digest,
    /// The payload blob's size.
    pub payload_size: i64,
    /// The base64 signature of the payload.
    pub signature: String,
    /// The layer's other annotations (certificates, bundles: kept, not used).
    pub annotations: BTreeMap<String, String>,
}

impl SignatureLayer {
    fn descriptor(&self) -> OciDescriptor {
        let mut annotations = self.annotations.clone();
        annotations.insert(SIGNATURE_ANNOTATION.to_string(), self.signature.clone());
        OciDescriptor {
            media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
            digest: self.payload_digest.to_string(),
            size: self.payload_size,
            annotations: Some(annotations),
            ..Default::default()
        }
    }

    /// The descriptor of its payload blob (to fetch it).
    pub fn payload_descriptor(&self) -> OciDescriptor {
        OciDescriptor {
            media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
            digest: self.payload_digest.to_string(),
            size: self.payload_size,
            ..Default::default()
        }
    }
}

/// Reads a signature manifest's signature layers; `Err` says why it is not one.
/// Layers of other media types are skipped (cosign ignores them too).
pub fn read_signature_manifest(bytes: &[u8]) -> Result<Vec<SignatureLayer>, String> {
    let manifest: OciImageManifest = serde_json::from_slice(bytes)
        .map_err(|e| format!("it is not an OCI image manifest ({e})"))?;
    let mut layers = Vec::new();
    for layer in manifest.layers {
        if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
            continue;
        }
        let payload_digest = Digest::parse(&layer.digest)
            .map_err(|_| format!("a signature layer has the digest `{}`", layer.digest))?;
        let mut annotations = layer.annotations.unwrap_or_default();
        let signature = annotations.remove(SIGNATURE_ANNOTATION).ok_or_else(|| {
            format!("signature layer {payload_digest} has no `{SIGNATURE_ANNOTATION}` annotation")
        })?;
        layers.push(SignatureLayer {
            payload_digest,
            payload_size: layer.size,
            signature,
            annotations,
        });
    }
    Ok(layers)
}

/// A signature manifest built from its layers: manifest bytes, and the config blob.
#[derive(Debug, Clone)]
pub struct SignatureManifest {
    /// The manifest, exactly as pushed.
    pub manifest: Vec<u8>,
    /// Its digest.
    pub manifest_digest: Digest,
    /// The config blob (an empty image config listing the payloads, as cosign writes).
    pub config: Vec<u8>,
}

/// Builds the signature manifest holding `layers`, in order.
pub fn signature_manifest(layers: &[SignatureLayer]) -> Result<SignatureManifest, String> {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.payload_digest.as_str()).collect();
    let config = json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    })
    .to_string()
    .into_bytes();
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_string()),
        config: OciDescriptor {
            media_type: IMAGE_CONFIG_MEDIA_TYPE.to_string(),
            digest: Digest::of(&config).to_string(),
            size: i64::try_from(config.len()).unwrap_or(i64::MAX),
            ..Default::default()
        },
        layers: layers.iter().map(SignatureLayer::descriptor).collect(),
        subject: None,
        artifact_type: None,
        annotations: None,
    };
    let manifest = serde_json::to_vec(&manifest)
        .map_err(|e| format!("cannot encode the signature manifest: {e}"))?;
    Ok(SignatureManifest {
        manifest_digest: Digest::of(&manifest),
        manifest,
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_reads_back_and_refuses_other_types() {
        let digest = Digest::of(b"m");
        let bytes = payload("127.0.0.1:5000/acme/ips", &digest);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/acme/ips"},"image":{"docker-manifest-digest":"sha256:"#),
            "{text}"
        );
        let claim = read_payload(&bytes).unwrap();
        assert_eq!(claim.manifest_digest, digest.as_str());
        let spec_example = br#"{"critical":{"identity":{"docker-reference":"x"},"image":{"Docker-manifest-digest":"sha256:20be"},"type":"cosign container image signature"},"optional":{"creator":"Bob"}}"#;
        assert_eq!(
            read_payload(spec_example).unwrap().manifest_digest,
            "sha256:20be"
        );
        let other = br#"{"critical":{"identity":{},"image":{"docker-manifest-digest":"sha256:1"},"type":"atomic container signature"}}"#;
        assert!(read_payload(other).unwrap_err().contains("critical.type"));
        assert!(read_payload(b"garbage").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn the_signature_manifest_round_trips() {
        let layer = |s: &str| SignatureLayer {
            payload_digest: Digest::of(b"p"),
            payload_size: 1,
            signature: s.to_string(),
            annotations: BTreeMap::new(),
        };
        let built = signature_manifest(&[layer("a"), layer("b")]).unwrap();
        let read = read_signature_manifest(&built.manifest).unwrap();
        assert_eq!(read, vec![layer("a"), layer("b")]);
        assert_eq!(
            signature_tag(&Digest::of(b"m")),
            format!("sha256-{}.sig", Digest::of(b"m").hex())
        );
        assert!(read_signature_manifest(b"{}").is_err());
    }
}
