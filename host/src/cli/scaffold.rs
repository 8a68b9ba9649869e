//! The scaffold step of `meshroom create integration`: runs the scaffold
//! hooks of both products' adapters for the new integration (the product's
//! side and the target's complementary side) and writes the files they
//! return below `products/<product>/integrations/<target>/` only.

use super::Context;
use super::common::{done, print_json};
use crate::project::{Integration, Project};

/// Runs both sides' scaffold hooks for `integration` and reports the files.
pub fn run(ctx: &Context, project: &Project, integration: &Integration, force: bool) -> anyhow::Result<()> {
    let needs_adapter = [&integration.product, &integration.target_product]
        .iter()
        .any(|p| project.find_product(p).is_some_and(|p| p.definition.adapter.is_some()));
    if !needs_adapter {
        return Ok(());
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
    let scaffolded = ctx.runtime()?.block_on(async {
        let engine = crate::engine::Engine::start(project, crate::runtime::RuntimeConfig::default()).await?;
        Ok::<_, anyhow::Error>(crate::engine::vendor::scaffold(&engine, project, &sides, force).await?)
    })?;
    if ctx.json {
        return print_json(&scaffolded);
    }
    for s in &scaffolded {
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
