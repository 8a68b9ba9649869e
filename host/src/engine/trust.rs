//! The project's trust policy (`trust.yaml`, [`crate::project::trust`]) applied to
//! an artifact reference: which keys must have signed it, if any. The registry
//! checks the signatures; this only picks the rule and reads its keys.

use meshroom_registry::{ArtifactRef, PublicKey, Requirement, TrustedKey, trust_scope};

use super::error::EngineError;
use crate::project::{Require, TrustPolicy};

/// The requirement of `policy` for `reference`: `None` when nothing is required
/// (no policy, or a `require: any` rule); an error when no rule matches it.
pub fn requirement_for(
    policy: Option<&TrustPolicy>,
    reference: &ArtifactRef,
) -> Result<Option<Requirement>, EngineError> {
    let Some(policy) = policy else {
        return Ok(None);
    };
    let (scope, remote) = trust_scope(reference);
    let Some(rule) = policy.rule_for(&scope, remote) else {
        return Err(EngineError::NoTrustRule {
            reference: reference.to_string(),
            scope,
            path: policy.path().to_path_buf(),
        });
    };
    if rule.require == Require::Any {
        return Ok(None);
    }
    let mut keys = Vec::with_capacity(rule.keys.len());
    for name in &rule.keys {
        keys.push(trusted_key(policy, name)?);
    }
    Ok(Some(Requirement {
        keys,
        policy: policy.describe(rule),
    }))
}

/// Every key `policy` lists (for `meshroom verify`, which names any signer it knows).
pub fn policy_keys(policy: &TrustPolicy) -> Result<Vec<TrustedKey>, EngineError> {
    policy
        .keys()
        .map(|(name, _)| trusted_key(policy, name))
        .collect()
}

fn trusted_key(policy: &TrustPolicy, name: &str) -> Result<TrustedKey, EngineError> {
    let path = policy.key_path(name).ok_or_else(|| {
        EngineError::Registry(Box::new(meshroom_registry::RegistryError::Key {
            key: name.to_string(),
            reason: format!(
                "`{}` does not list it under `keys:`",
                policy.path().display()
            ),
        }))
    })?;
    Ok(TrustedKey {
        name: name.to_string(),
        key: PublicKey::from_file(path).map_err(|e| EngineError::TrustKey {
            name: name.to_string(),
            policy: policy.path().to_path_buf(),
            source: Box::new(e),
        })?,
    })
}
