//! Signing and verifying artifacts in a registry or an image-layout folder, with
//! cosign's tag scheme ([`crate::cosign`]).
//!
//! - [`Registry::sign`] adds a signature (one layer) to the `sha256-<hex>.sig`
//!   manifest of an artifact, keeping those already there;
//! - [`Registry::verify`] accepts an artifact only when a signature by one of the
//!   [`Requirement`]'s keys is over its exact manifest digest (one manifest and one
//!   payload blob fetched; a payload already cached is not fetched again);
//! - [`Registry::verify_locked`] re-checks a lockfile entry's recorded signature
//!   against the requirement and the cached payload: no request at all when cached;
//! - [`Registry::signatures`] lists every signature, for `meshroom verify`.
//!
//! Which keys are required where is the caller's business (the project's
//! `trust.yaml`): this module only takes keys and a policy label for its errors.

use std::collections::BTreeMap;

use oci_client::Reference;
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor};

use crate::cosign::{self, PayloadClaim, SignatureLayer};
use crate::digest::Digest;
use crate::error::{RegistryError, Result};
use crate::keys::{PrivateKey, PublicKey};
use crate::layout::Layout;
use crate::lockfile::{LockedProduct, LockedSignature};
use crate::reference::ArtifactRef;
use crate::registry::Registry;

/// A public key the policy allows, with its name (for messages and the lockfile).
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// Its name in the policy.
    pub name: String,
    /// The key.
    pub key: PublicKey,
}

/// What an artifact must carry to be accepted: a signature by one of `keys`.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// The allowed keys (an empty list accepts nothing).
    pub keys: Vec<TrustedKey>,
    /// The policy line this comes from, quoted in refusals.
    pub policy: String,
}

impl Requirement {
    fn tried(&self) -> String {
        if self.keys.is_empty() {
            return "none (the policy rule lists no key: add the vendor's public key to it)"
                .to_string();
        }
        self.keys
            .iter()
            .map(|k| format!("{} ({})", k.name, short(&k.key.fingerprint())))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn refuse(&self, reference: &str, digest: &Digest, reason: String) -> RegistryError {
        RegistryError::Untrusted {
            reference: reference.to_string(),
            digest: digest.to_string(),
            reason,
            tried: self.tried(),
            policy: self.policy.clone(),
        }
    }
}

/// The result of [`Registry::sign`].
#[derive(Debug, Clone)]
pub struct Signed {
    /// The signed manifest digest.
    pub manifest_digest: Digest,
    /// The signature tag (`sha256-<hex>.sig`).
    pub signature_tag: String,
    /// Signatures in the signature manifest now.
    pub signatures: usize,
    /// False when this key had already signed this digest (nothing was written).
    pub added: bool,
}

/// One signature found on an artifact, for `meshroom verify`.
#[derive(Debug, Clone)]
pub struct FoundSignature {
    /// The layer.
    pub layer: SignatureLayer,
    /// What its payload claims, or why it could not be read.
    pub claim: std::result::Result<PayloadClaim, String>,
    /// The given keys whose signature it is (whatever the payload claims).
    pub verified_by: Vec<String>,
}

fn short(d: &Digest) -> String {
    format!("sha256:{}", d.short())
}

impl Registry {
    /// Signs the artifact `of` (a tag is resolved to its digest first) with `key`,
    /// appending a layer to its signature manifest.
    pub async fn sign(&self, of: &ArtifactRef, key: &PrivateKey) -> Result<Signed> {
        let digest = self.resolve(of).await?;
        let tag = cosign::signature_tag(&digest);
        let sig_ref = signature_ref(of, &tag);
        let mut layers = match self.manifest_by_tag(&sig_ref).await? {
            None => Vec::new(),
            Some(bytes) => cosign::read_signature_manifest(&bytes).map_err(|reason| {
                RegistryError::InvalidArtifact {
                    reference: sig_ref.to_string(),
                    reason: format!("the signature tag holds something else: {reason}; delete that tag, then sign again"),
                }
            })?,
        };
        let payload = cosign::payload(&docker_reference(of), &digest);
        let payload_digest = Digest::of(&payload);
        let public = key.public_key();
        for layer in &layers {
            if layer.payload_digest == payload_digest && public.verifies(&payload, &layer.signature)
            {
                return Ok(Signed {
                    manifest_digest: digest,
                    signature_tag: tag,
                    signatures: layers.len(),
                    added: false,
                });
            }
        }
        layers.push(SignatureLayer {
            payload_digest: payload_digest.clone(),
            payload_size: i64::try_from(payload.len()).unwrap_or(i64::MAX),
            signature: key.sign(&payload),
            annotations: BTreeMap::new(),
        });
        let built = cosign::signature_manifest(&layers).map_err(|reason| {
            RegistryError::InvalidArtifact {
                reference: sig_ref.to_string(),
                reason,
            }
        })?;
        let blobs = [
            (payload_digest, payload),
            (Digest::of(&built.config), built.config.clone()),
        ];
        match &sig_ref {
            ArtifactRef::Remote(r) => {
                let remote = self.connect(r)?;
                for (digest, bytes) in blobs {
                    if !remote.has_blob(r, &digest).await? {
                        remote.push_blob(r, &digest, bytes).await?;
                    }
                }
                remote.push_manifest(r, built.manifest.clone()).await?;
            }
            ArtifactRef::Layout { dir, .. } => {
                let layout = Layout::create(&self.layout_dir(dir))?;
                for (digest, bytes) in blobs {
                    layout.put_blob(&digest, &bytes)?;
                }
                layout.put_blob(&built.manifest_digest, &built.manifest)?;
                let name = sig_ref.layout_ref_name().unwrap_or_else(|| tag.clone());
                layout.tag(
                    &name,
                    &built.manifest_digest,
                    OCI_IMAGE_MEDIA_TYPE,
                    built.manifest.len(),
                )?;
            }
        }
        tracing::info!(reference = %of, digest = %digest, signatures = layers.len(), "signed");
        Ok(Signed {
            manifest_digest: digest,
            signature_tag: tag,
            signatures: layers.len(),
            added: true,
        })
    }

    /// Accepts `digest` (the manifest `of` resolved to) only with a signature by one of
    /// `requirement`'s keys over exactly that digest; returns which one, for the lockfile.
    pub async fn verify(
        &self,
        of: &ArtifactRef,
        digest: &Digest,
        requirement: &Requirement,
    ) -> Result<LockedSignature> {
        let shown = of.to_string();
        let tag = cosign::signature_tag(digest);
        let sig_ref = signature_ref(of, &tag);
        let refuse = |reason: String| requirement.refuse(&shown, digest, reason);
        let bytes = match self.manifest_by_tag(&sig_ref).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(refuse(format!(
                    "it is not signed (no `{tag}` signature tag); ask its publisher to sign it (`meshroom sign {} --key KEY`)",
                    strip_pin(&shown)
                )));
            }
            Err(RegistryError::InvalidArtifact { reason, .. }) => {
                return Err(refuse(format!(
                    "its signature tag `{tag}` points at garbage ({reason})"
                )));
            }
            Err(e) => return Err(e),
        };
        let layers = cosign::read_signature_manifest(&bytes).map_err(|reason| {
            refuse(format!(
                "its signature tag `{tag}` points at garbage: {reason}"
            ))
        })?;
        if layers.is_empty() {
            return Err(refuse(format!(
                "its signature tag `{tag}` holds no signature layer"
            )));
        }
        let mut problems = Vec::new();
        for layer in &layers {
            let payload = match self.payload(&sig_ref, layer).await {
                Ok(payload) => payload,
                Err(e) => {
                    problems.push(format!("payload {}: {e}", short(&layer.payload_digest)));
                    continue;
                }
            };
            let Some(key) = requirement
                .keys
                .iter()
                .find(|k| k.key.verifies(&payload, &layer.signature))
            else {
                problems.push(format!(
                    "the signature of payload {} verifies with none of the allowed keys (another signer, or a tampered payload)",
                    short(&layer.payload_digest)
                ));
                continue;
            };
            match cosign::read_payload(&payload) {
                Ok(claim) if claim.manifest_digest == digest.as_str() => {
                    return Ok(LockedSignature {
                        key: key.name.clone(),
                        key_fingerprint: key.key.fingerprint(),
                        payload_digest: layer.payload_digest.clone(),
                        signature: layer.signature.clone(),
                    });
                }
                Ok(claim) => problems.push(format!(
                    "`{}` signed another digest ({}) in that tag's payload",
                    key.name, claim.manifest_digest
                )),
                Err(reason) => problems.push(format!(
                    "`{}` signed payload {}, which is not a cosign payload: {reason}",
                    key.name,
                    short(&layer.payload_digest)
                )),
            }
        }
        problems.dedup();
        Err(refuse(format!(
            "no signature is acceptable ({} found: {})",
            layers.len(),
            problems.join("; ")
        )))
    }

    /// Re-checks the signature `entry` records against `requirement`: its key must be
    /// one of the allowed keys and it must verify over the cached payload, which must
    /// name the locked digest. No request when the payload is cached; otherwise the
    /// signatures are read again from the registry, with only the locked key allowed.
    pub async fn verify_locked(
        &self,
        entry: &LockedProduct,
        requirement: &Requirement,
    ) -> Result<()> {
        let digest = &entry.manifest_digest;
        let refuse = |reason: String| requirement.refuse(&entry.reference, digest, reason);
        let Some(locked) = &entry.signature else {
            return Err(refuse(format!(
                "`meshroom.lock` records no signature for product `{}` (it was pulled when no signature was required); run `meshroom pull {}` to verify it",
                entry.product, entry.reference
            )));
        };
        let Some(key) = requirement
            .keys
            .iter()
            .find(|k| k.key.fingerprint() == locked.key_fingerprint)
        else {
            return Err(refuse(format!(
                "`meshroom.lock` records a signature by `{}` ({}), a key this rule no longer allows; run `meshroom pull {}` to verify it with the allowed keys",
                locked.key,
                short(&locked.key_fingerprint),
                entry.reference
            )));
        };
        let Some(payload) = self.cache().get(&locked.payload_digest)? else {
            let of = ArtifactRef::parse(&entry.reference)?;
            let only = Requirement {
                keys: vec![key.clone()],
                policy: requirement.policy.clone(),
            };
            self.verify(&of, digest, &only).await?;
            return Ok(());
        };
        if !key.key.verifies(&payload, &locked.signature) {
            return Err(refuse(format!(
                "the signature `meshroom.lock` records does not verify with `{}`; run `meshroom pull {}` again",
                key.name, entry.reference
            )));
        }
        match cosign::read_payload(&payload) {
            Ok(claim) if claim.manifest_digest == digest.as_str() => Ok(()),
            Ok(claim) => Err(refuse(format!(
                "the payload `meshroom.lock` names is signed over another digest ({})",
                claim.manifest_digest
            ))),
            Err(reason) => Err(refuse(reason)),
        }
    }

    /// Every signature of the artifact `of` (a tag is resolved first), each checked
    /// against `keys`; the resolved digest comes first.
    pub async fn signatures(
        &self,
        of: &ArtifactRef,
        keys: &[TrustedKey],
    ) -> Result<(Digest, Vec<FoundSignature>)> {
        let digest = self.resolve(of).await?;
        let sig_ref = signature_ref(of, &cosign::signature_tag(&digest));
        let Some(bytes) = self.manifest_by_tag(&sig_ref).await? else {
            return Ok((digest, Vec::new()));
        };
        let layers = cosign::read_signature_manifest(&bytes).map_err(|reason| {
            RegistryError::InvalidArtifact {
                reference: sig_ref.to_string(),
                reason: format!("the signature tag points at garbage: {reason}"),
            }
        })?;
        let mut found = Vec::new();
        for layer in layers {
            let (claim, verified_by) = match self.payload(&sig_ref, &layer).await {
                Ok(payload) => (
                    cosign::read_payload(&payload),
                    keys.iter()
                        .filter(|k| k.key.verifies(&payload, &layer.signature))
                        .map(|k| k.name.clone())
                        .collect(),
                ),
                Err(e) => (Err(e.to_string()), Vec::new()),
            };
            found.push(FoundSignature {
                layer,
                claim,
                verified_by,
            });
        }
        Ok((digest, found))
    }

    /// The manifest digest `of` names: its pinned digest, else its tag resolved.
    async fn resolve(&self, of: &ArtifactRef) -> Result<Digest> {
        if let Some(digest) = of.digest() {
            return Ok(digest);
        }
        let shown = of.to_string();
        match of {
            ArtifactRef::Remote(r) => Ok(self.connect(r)?.pull_manifest(r).await?.1),
            ArtifactRef::Layout { dir, .. } => {
                let layout = Layout::open(&self.layout_dir(dir), &shown)?;
                let name = of
                    .layout_ref_name()
                    .ok_or_else(|| RegistryError::InvalidReference {
                        reference: shown.clone(),
                        reason: "needs a tag or a digest".to_string(),
                    })?;
                Ok(layout
                    .resolve(&name)?
                    .ok_or_else(|| RegistryError::NotFound {
                        reference: shown.clone(),
                        detail: format!(
                            "no manifest named `{name}` in `{}`",
                            self.layout_dir(dir).display()
                        ),
                    })?
                    .digest)
            }
        }
    }

    /// The manifest a tag reference names; `None` when the tag does not exist.
    async fn manifest_by_tag(&self, of: &ArtifactRef) -> Result<Option<Vec<u8>>> {
        let shown = of.to_string();
        match of {
            ArtifactRef::Remote(r) => match self.connect(r)?.pull_manifest(r).await {
                Ok((bytes, _)) => Ok(Some(bytes)),
                Err(RegistryError::NotFound { .. }) => Ok(None),
                // A tag holding another kind of manifest (an index, a Docker v2 one).
                Err(RegistryError::Protocol { detail, .. }) => {
                    Err(RegistryError::InvalidArtifact {
                        reference: shown,
                        reason: detail,
                    })
                }
                Err(e) => Err(e),
            },
            ArtifactRef::Layout { dir, .. } => {
                let layout = match Layout::open(&self.layout_dir(dir), &shown) {
                    Ok(layout) => layout,
                    Err(RegistryError::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let Some(name) = of.layout_ref_name() else {
                    return Ok(None);
                };
                match layout.resolve(&name)? {
                    Some(entry) => Ok(Some(layout.get_blob(&entry.digest, &shown)?)),
                    None => Ok(None),
                }
            }
        }
    }

    /// A signature layer's payload: from the cache, else fetched (and cached).
    async fn payload(&self, sig_ref: &ArtifactRef, layer: &SignatureLayer) -> Result<Vec<u8>> {
        let digest = &layer.payload_digest;
        if let Some(bytes) = self.cache().get(digest)? {
            return Ok(bytes);
        }
        let shown = sig_ref.to_string();
        let bytes = match sig_ref {
            ArtifactRef::Remote(r) => {
                let descriptor: OciDescriptor = layer.payload_descriptor();
                let path = self
                    .connect(r)?
                    .pull_blob(r, &descriptor, self.cache(), "signature payload", &|_| {})
                    .await?;
                std::fs::read(&path).map_err(|e| RegistryError::io("read", &path, e))?
            }
            ArtifactRef::Layout { dir, .. } => {
                Layout::open(&self.layout_dir(dir), &shown)?.get_blob(digest, &shown)?
            }
        };
        digest.verify(&bytes, &format!("signature payload of `{shown}`"))?;
        self.cache().put(digest, &bytes)?;
        Ok(bytes)
    }
}

/// The reference of the signature tag `tag` in `of`'s repository.
fn signature_ref(of: &ArtifactRef, tag: &str) -> ArtifactRef {
    match of {
        ArtifactRef::Remote(r) => ArtifactRef::Remote(Reference::with_tag(
            r.registry().to_string(),
            r.repository().to_string(),
            tag.to_string(),
        )),
        ArtifactRef::Layout {
            dir, repository, ..
        } => ArtifactRef::Layout {
            dir: dir.clone(),
            repository: repository.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        },
    }
}

/// `critical.identity.docker-reference`: the repository, without tag or digest.
pub(crate) fn docker_reference(of: &ArtifactRef) -> String {
    match of {
        ArtifactRef::Remote(r) => format!("{}/{}", r.registry(), r.repository()),
        ArtifactRef::Layout { .. } => {
            let shown = signature_ref(of, "x").to_string();
            shown.strip_suffix(":x").unwrap_or(&shown).to_string()
        }
    }
}

/// The repository of a reference as policies match it (`REGISTRY/REPO`, `REPO` in the
/// embedded registry, `oci-layout:DIR`), and
/// whether it is in a distribution registry.
pub fn trust_scope(of: &ArtifactRef) -> (String, bool) {
    (docker_reference(of), matches!(of, ArtifactRef::Remote(_)))
}

fn strip_pin(shown: &str) -> &str {
    shown.split_once('@').map_or(shown, |(r, _)| r)
}
