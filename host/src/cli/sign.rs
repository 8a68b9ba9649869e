//! `meshroom sign REF --key KEY`: sign an artifact already in a registry or an
//! image-layout folder, as `cosign sign --key` does (a layer added to its
//! `sha256-<hex>.sig` manifest; signatures already there are kept).

use anyhow::Context as _;
use meshroom_registry::{ArtifactRef, PrivateKey, Registry, Signed};

use super::Context;
use super::common::{print_json, print_line};
use super::keys::{PassphraseArgs, load_private_key};
use super::oci::{RegistryFlags, registry};

/// Sign a published product artifact with a key (cosign's signature scheme, so
/// `cosign verify --key KEY.pub` accepts it too)
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The artifact: `HOST[:PORT]/REPO:TAG`, `…@sha256:DIGEST`, `oci-layout:DIR:TAG` or
    /// `REPO:TAG` (the local default registry); a tag is resolved to its digest first
    pub reference: String,
    /// The signing key: a name from `meshroom keys list`, or the path of a PEM private key
    #[arg(long, value_name = "KEY")]
    pub key: String,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

/// Runs `meshroom sign`.
pub fn exec(args: SignArgs, ctx: &Context) -> anyhow::Result<()> {
    let reference = ArtifactRef::parse(&args.reference)?;
    let key = load_private_key(&args.key, &args.passphrase, ctx)?;
    let registry = registry(ctx, &args.registry)?;
    let signed = ctx
        .runtime()?
        .block_on(sign(&registry, &reference, &key))
        .with_context(|| format!("failed to sign `{reference}` with key `{}`", args.key))?;
    report(ctx, &reference, &args.key, &key, &signed)
}

/// Signs `reference` with `key`.
pub async fn sign(
    registry: &Registry,
    reference: &ArtifactRef,
    key: &PrivateKey,
) -> anyhow::Result<Signed> {
    Ok(registry.sign(reference, key).await?)
}

/// Prints what a signature did (shared with `publish --sign`).
pub fn report(
    ctx: &Context,
    reference: &ArtifactRef,
    key_name: &str,
    key: &PrivateKey,
    signed: &Signed,
) -> anyhow::Result<()> {
    let pinned = reference.pinned(&signed.manifest_digest);
    let fingerprint = key.public_key().fingerprint();
    if ctx.json {
        print_json(&serde_json::json!({
            "reference": pinned.to_string(),
            "manifest_digest": signed.manifest_digest.as_str(),
            "key": key_name,
            "key_fingerprint": fingerprint.as_str(),
            "signature_tag": signed.signature_tag,
            "signatures": signed.signatures,
            "added": signed.added,
        }))
    } else {
        let verb = if signed.added {
            "signed"
        } else {
            "already signed"
        };
        print_line(format_args!(
            "{verb} {pinned} with {key_name} ({fingerprint}); {} signature(s) under tag {}",
            signed.signatures, signed.signature_tag
        ))
    }
}
