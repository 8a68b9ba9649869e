//! The project loader (`Project::load_uncached`) on a project written from
//! one input: the parts (separated by `#---` lines) are `acme`'s
//! `definition.yaml`, an integration file (its name on the first line, so
//! file names are fuzzed too), instance `acme/a1`'s `config.yaml`, and a plug
//! file of `a1` to `o1` (name on the first line). Then listings and graphs.
#![no_main]

#[path = "common.rs"]
mod common;

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use meshroom_project::{HookIndex, IntegrationFilter, Project, graph, parse_file_stem};

static SCRATCH: LazyLock<tempfile::TempDir> = LazyLock::new(common::scratch);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let [definition, integration, config, plug] = common::parts(text, 4)[..] else {
        return;
    };
    let root = common::clear(&SCRATCH.path().join("project"));
    let products = root.join("products");
    common::write(
        &products.join("acme/definition.yaml"),
        definition.as_bytes(),
    );
    common::write(&products.join("other/definition.yaml"), b"");
    common::write(
        &root.join("instances/acme/a1/config.yaml"),
        config.as_bytes(),
    );
    common::write(&root.join("instances/other/o1/config.yaml"), b"");
    let (name, content) = integration.split_once('\n').unwrap_or((integration, ""));
    if let Some(name) = common::file_name(name) {
        let _ = parse_file_stem(name.trim_end_matches(".yml"));
        common::write(
            &products.join("acme/integrations/other").join(&name),
            content.as_bytes(),
        );
    }
    let (name, content) = plug.split_once('\n').unwrap_or((plug, ""));
    if let Some(name) = common::file_name(name) {
        common::write(
            &root.join("instances/acme/a1/plugs/o1").join(&name),
            content.as_bytes(),
        );
    }
    load(&root);
});

fn load(root: &Path) {
    let project = match Project::load_uncached(root) {
        Ok(project) => project,
        // What the seeds reach, when a seed needs fixing.
        Err(e) => {
            if std::env::var_os("MESHROOM_FUZZ_DEBUG").is_some() {
                eprintln!("load: {e}");
            }
            return;
        }
    };
    let hooks = HookIndex::new();
    let _ = project.list_integrations(&hooks, &IntegrationFilter::default());
    let _ = graph::mesh_graph(&project);
    let _ = graph::capability_graph(&project, &hooks);
    for instance in project.instances() {
        if let Ok(product) = project.product(&instance.product) {
            let _ = instance.effective_settings(&product.definition);
        }
        let _ = project.plugs_of(instance).count();
    }
    for plug in project.plugs() {
        let _ = plug.state();
        let _ = plug.file_name();
    }
}
