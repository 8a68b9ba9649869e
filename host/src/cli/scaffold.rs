//! The scaffold step of `meshroom create integration`: runs the scaffold
//! hooks of both products' adapters for the integration (the product's
//! side and the target's complementary side) and writes the files they
//! return below `products/<product>/integrations/<target>/` only. The hooks
//! run and their files are checked before the command changes anything.

use super::Context;
use super::common::done;
use crate::engine::vendor::ScaffoldPlan;
use crate::project::{Integration, Project};

/// Runs both sides' scaffold hooks for `integration`; `None` when neither
/// product has an adapter.
pub fn plan(
    ctx: &Context,
    project: &Project,
    integration: &Integration,
    force: bool,
) -> anyhow::Result<Option<ScaffoldPlan>> {
    let has_adapter = [&integration.product, &integration.target_product]
        .iter()
        .any(|p| {
            project
                .find_product(p)
                .is_some_and(|p| p.definition.adapter.is_some())
        });
    if !has_adapter {
        return Ok(None);
    }
    let complement = Integration {
        product: integration.target_product.clone(),
        target_product: integration.product.clone(),
        role: integration.role.complement(),
        generic: true,
        path: None,
        manifest: Default::default(),
        ..integration.clone()
    };
    let sides = [integration.clone(), complement];
    let plan = ctx.runtime()?.block_on(async {
        let engine =
            crate::engine::Session::start(project, crate::runtime::RuntimeConfig::default())
                .await?;
        Ok::<_, anyhow::Error>(
            crate::engine::vendor::scaffold(&engine, project, &sides, force).await?,
        )
    })?;
    Ok(Some(plan))
}

/// Writes the planned files and reports them.
pub fn write(ctx: &Context, project: &Project, plan: Option<ScaffoldPlan>) -> anyhow::Result<()> {
    let Some(plan) = plan else {
        return Ok(());
    };
    for s in plan.write(project)? {
        for f in &s.files.created {
            done(ctx, format!("scaffolded {f} ({})", s.product));
        }
        for f in &s.files.overwritten {
            done(ctx, format!("scaffolded {f} ({}, overwritten)", s.product));
        }
        for f in &s.files.unchanged {
            done(ctx, format!("{f} is up to date ({})", s.product));
        }
    }
    Ok(())
}
