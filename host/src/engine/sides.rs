//! Which integrations serve each side of an existing plug, and who sets it
//! up — the original Meshroom's rule, applied again when the plug is run
//! (adapters may have changed since it was plugged):
//!
//! 1. a source/destination pair whose integrations each set up their own side;
//! 2. else a source integration whose setup hook owns both sides;
//! 3. else a destination integration owning both;
//! 4. else nothing sets the plug up.
//!
//! The plug's `owner` ([`PlugOwner`]: one instance, or each side its own)
//! restricts the choice.

use crate::project::{
    HookIndex, Integration, IntegrationFilter, Plug, PlugOwner, Project, Role, SetupBy,
    SetupOwnership,
};

/// The two integrations of a plug and who sets it up.
#[derive(Debug, Clone)]
pub struct PlugSides {
    /// Producer (or trigger) side.
    pub source: Integration,
    /// Consumer (or executor) side.
    pub destination: Integration,
    /// Who runs setup; `None`: no adapter declares a setup hook for it.
    pub setup_by: Option<SetupBy>,
}

/// The integrations serving `plug` (generic placeholders when a side has
/// none), chosen as described in the module docs.
pub fn plug_sides(
    project: &Project,
    hooks: &HookIndex,
    plug: &Plug,
) -> Result<PlugSides, crate::project::ProjectError> {
    let (src, dst) = project.plug_ends(plug)?;
    let (src_role, dst_role) = if plug.is_trigger() {
        (Role::Trigger, Role::Executor)
    } else {
        (Role::Producer, Role::Consumer)
    };
    let side = |product: &str, target: &str, role: Role| -> Vec<(Integration, SetupOwnership)> {
        let filter = IntegrationFilter {
            product: Some(product),
            target: Some(target),
            topic: Some(&plug.topic),
            role: Some(role),
            mode: Some(plug.mode),
            format: plug.format.as_deref(),
        };
        project
            .list_integrations(hooks, &filter)
            .into_iter()
            .map(|l| (l.integration.to_integration(), l.setup))
            .collect()
    };
    let sources = side(&src.product, &dst.product, src_role);
    let dests = side(&dst.product, &src.product, dst_role);
    let placeholder = |product: &str, target: &str, role: Role| Integration {
        product: product.to_string(),
        target_product: target.to_string(),
        topic: plug.topic.clone(),
        role,
        mode: plug.mode,
        format: plug.format.clone(),
        generic: true,
        path: None,
        manifest: Default::default(),
    };
    let permits =
        |by: SetupBy| PlugOwner::permits_opt(plug.owner.as_ref(), by, &src.name, &dst.name);
    let first = |list: &[(Integration, SetupOwnership)], product: &str, target: &str, role| {
        list.first()
            .map(|(i, _)| i.clone())
            .unwrap_or_else(|| placeholder(product, target, role))
    };
    if permits(SetupBy::EachOwnSide) {
        let s = sources.iter().find(|(_, o)| *o == SetupOwnership::OwnSide);
        let d = dests.iter().find(|(_, o)| *o == SetupOwnership::OwnSide);
        if let (Some((s, _)), Some((d, _))) = (s, d) {
            return Ok(PlugSides {
                source: s.clone(),
                destination: d.clone(),
                setup_by: Some(SetupBy::EachOwnSide),
            });
        }
    }
    if permits(SetupBy::Source)
        && let Some((s, _)) = sources.iter().find(|(_, o)| *o == SetupOwnership::Both)
    {
        return Ok(PlugSides {
            source: s.clone(),
            destination: first(&dests, &dst.product, &src.product, dst_role),
            setup_by: Some(SetupBy::Source),
        });
    }
    if permits(SetupBy::Destination)
        && let Some((d, _)) = dests.iter().find(|(_, o)| *o == SetupOwnership::Both)
    {
        return Ok(PlugSides {
            source: first(&sources, &src.product, &dst.product, src_role),
            destination: d.clone(),
            setup_by: Some(SetupBy::Destination),
        });
    }
    Ok(PlugSides {
        source: first(&sources, &src.product, &dst.product, src_role),
        destination: first(&dests, &dst.product, &src.product, dst_role),
        setup_by: None,
    })
}
