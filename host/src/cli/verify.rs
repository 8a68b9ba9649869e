//! `meshroom verify REF`: who signed an artifact, and whether the project's trust
//! policy (`trust.yaml`) accepts it.

use anyhow::Context as _;
use meshroom_registry::{ArtifactRef, KeyStore, PublicKey, TrustedKey};

use super::Context;
use super::common::{print_json, to_stdout};
use super::oci::{RegistryFlags, registry};
use crate::engine::{policy_keys, requirement_for};
use crate::project::TrustPolicy;

/// Print who signed an artifact (each signature of its `sha256-<hex>.sig` tag and the
/// known key that made it) and check it against the project's trust policy; fails
/// when the policy refuses it
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The artifact: `HOST[:PORT]/REPO:TAG`, `…@sha256:DIGEST`, `oci-layout:DIR:TAG` or `REPO:TAG`
    pub reference: String,
    /// Also name signers by this public key (a PEM file, or a key name from `meshroom keys
    /// list`); repeatable. The keys of `trust.yaml` are always known
    #[arg(long, value_name = "KEY")]
    pub key: Vec<String>,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

/// Runs `meshroom verify`.
pub fn exec(args: VerifyArgs, ctx: &Context) -> anyhow::Result<()> {
    let reference = ArtifactRef::parse(&args.reference)?;
    let policy = TrustPolicy::load(&ctx.project_dir)?;
    let mut known: Vec<TrustedKey> = match &policy {
        Some(p) => policy_keys(p)?,
        None => Vec::new(),
    };
    for key in &args.key {
        known.push(public_key(key)?);
    }
    let requirement = requirement_for(policy.as_ref(), &reference)?;
    let registry = registry(ctx, &args.registry)?;
    let rt = ctx.runtime()?;
    let (digest, found) = rt
        .block_on(registry.signatures(&reference, &known))
        .with_context(|| format!("failed to read the signatures of `{reference}`"))?;
    let verdict = requirement
        .as_ref()
        .map(|req| rt.block_on(registry.verify(&reference, &digest, req)));
    let pinned = reference.pinned(&digest).to_string();
    let policy_line = requirement.as_ref().map(|r| r.policy.clone());
    if ctx.json {
        let signatures: Vec<serde_json::Value> = found
            .iter()
            .map(|s| {
                serde_json::json!({
                    "payload_digest": s.layer.payload_digest.as_str(),
                    "signed_digest": s.claim.as_ref().ok().map(|c| c.manifest_digest.clone()),
                    "matches_digest": s.claim.as_ref().is_ok_and(|c| c.manifest_digest == digest.as_str()),
                    "signed_by": s.verified_by,
                    "error": s.claim.as_ref().err(),
                })
            })
            .collect();
        print_json(&serde_json::json!({
            "reference": pinned,
            "manifest_digest": digest.as_str(),
            "signatures": signatures,
            "required": requirement.is_some(),
            "policy": policy_line,
            "trusted_by": verdict.as_ref().and_then(|v| v.as_ref().ok()).map(|s| s.key.clone()),
        }))?;
    } else {
        let mut out = format!("{pinned}\n");
        if found.is_empty() {
            out.push_str("no signatures\n");
        }
        for (i, s) in found.iter().enumerate() {
            let who = if s.verified_by.is_empty() {
                "an unknown key".to_string()
            } else {
                s.verified_by.join(", ")
            };
            let over = match &s.claim {
                Ok(c) if c.manifest_digest == digest.as_str() => {
                    format!("over {} (this digest)", c.manifest_digest)
                }
                Ok(c) => format!("over ANOTHER digest {}", c.manifest_digest),
                Err(e) => format!("unreadable payload: {e}"),
            };
            out.push_str(&format!("signature {}: by {who}, {over}\n", i + 1));
        }
        match (&verdict, &policy_line) {
            (Some(Ok(signed)), Some(line)) => out.push_str(&format!(
                "trusted: signed by {} (policy: {line})\n",
                signed.key
            )),
            (None, _) if policy.is_some() => {
                out.push_str("trusted: the trust policy requires no signature here\n")
            }
            (None, _) => out.push_str("no trust policy (no trust.yaml): nothing is required\n"),
            _ => {}
        }
        let text = super::terminal::for_stdout(&out).into_owned();
        to_stdout(|w| w.write_all(text.as_bytes()))?;
    }
    match verdict {
        Some(Err(e)) => Err(e.into()),
        _ => Ok(()),
    }
}

/// A `--key` argument: a PEM public key file, or a key name of this machine.
fn public_key(key: &str) -> anyhow::Result<TrustedKey> {
    let store = KeyStore::from_env()?;
    let path = if std::path::Path::new(key).is_file() {
        std::path::PathBuf::from(key)
    } else {
        store.public_path(key)
    };
    let name = path
        .file_stem()
        .map_or_else(|| key.to_string(), |s| s.to_string_lossy().into_owned());
    Ok(TrustedKey {
        name,
        key: PublicKey::from_file(&path).with_context(|| {
            format!(
                "--key {key}: not a public key file nor a key of `{}`",
                store.dir().display()
            )
        })?,
    })
}
