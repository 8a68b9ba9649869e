//! What reading the original's Python hook files statically costs a
//! listing: a generated project of 200 products, each with a `setup.py` of
//! four decorated hooks (one without a mode) and one integration hook file.
//! `load_uncached` parses every file (tree-sitter), as the first command
//! after a change; `load` answers them from the project's load cache, as
//! every later command; `list_integrations` is the whole listing (load,
//! hook index from the static view, rows written to a sink).
//!
//! Run: `cargo bench -p meshroom-host --bench python_hooks`
//!
//! CPU time of this process, as the project benchmark measures it.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unsafe_code)] // `support/cpu_time.rs` calls `clock_gettime`

#[path = "support/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;
use std::path::Path;

use cpu_time::CpuTime;
use criterion::{Criterion, criterion_group, criterion_main};

use meshroom::cli::list;
use meshroom::project::{IntegrationFilter, Project};

const PRODUCTS: usize = 200;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn generate(root: &Path) {
    std::fs::create_dir_all(root.join("instances")).unwrap();
    for p in 0..PRODUCTS {
        let (produces, consumes) = if p % 2 == 0 {
            ("events", "alerts")
        } else {
            ("alerts", "events")
        };
        write(
            root,
            &format!("products/product{p}/definition.yaml"),
            &format!(
                "name: product{p}\nproduces:\n  {produces}:\n    - mode: pull\n    - format: ocsf\n"
            ),
        );
        write(
            root,
            &format!("products/product{p}/setup.py"),
            &format!(
                r#"from meshroom.decorators import setup_consumer, teardown_consumer, setup_producer, watch
from meshroom.model import Integration, Plug, Instance
import requests

API = "https://product{p}.example/api"


class Client(requests.Session):
    def request(self, method, url, **kwargs):
        return super().request(method, API + url, **kwargs)


@setup_consumer("{consumes}", order="first", owns_both=True)
def setup_{consumes}_consumer(integration: Integration, plug: Plug, instance: Instance):
    """Create an intake receiving the {consumes}"""
    r = Client().post("/intakes", json={{"name": plug.src_instance}})
    r.raise_for_status()
    plug.settings["intake"] = r.json()["id"]
    plug.save()


@teardown_consumer("{consumes}")
def teardown_{consumes}_consumer(integration: Integration, plug: Plug):
    Client().delete(f"/intakes/{{plug.settings['intake']}}")


@setup_producer("{produces}", mode="push", format="ocsf")
def setup_{produces}_producer(plug: Plug):
    pass


@watch("{consumes}")
def watch_{consumes}(instance: Instance):
    yield from []
"#
            ),
        );
        let target = (p + 1) % PRODUCTS;
        write(
            root,
            &format!("products/product{p}/integrations/product{target}/{produces}_producer.yml"),
            "description: explicit\n",
        );
        write(
            root,
            &format!("products/product{p}/integrations/product{target}/{produces}_producer.py"),
            "from meshroom.decorators import setup\n\n\n@setup(title=\"Export\")\ndef export(integration, plug):\n    pass\n",
        );
    }
}

fn bench(c: &mut Criterion<CpuTime>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    generate(root);
    {
        let p = Project::load_uncached(root).unwrap();
        assert_eq!(p.python_hooks().len(), PRODUCTS * 5);
        assert!(p.python_hook_problems().is_empty());
        let hooks = meshroom::engine::listing_hook_index(&p).unwrap();
        eprintln!(
            "generated: {} products, {} Python hooks, {} integrations",
            p.products().len(),
            p.python_hooks().len(),
            p.list_integrations(&hooks, &IntegrationFilter::default())
                .len()
        );
    }
    let mut g = c.benchmark_group("python_hooks");
    g.sample_size(20);
    g.bench_function("load_uncached", |b| {
        b.iter(|| black_box(Project::load_uncached(root).unwrap()))
    });
    std::thread::sleep(meshroom::project::LOAD_CACHE_RACY);
    Project::load(root).unwrap();
    g.bench_function("load", |b| {
        b.iter(|| black_box(Project::load(root).unwrap()))
    });
    g.bench_function("list_integrations", |b| {
        b.iter(|| {
            let p = Project::load(root).unwrap();
            let hooks = meshroom::engine::listing_hook_index(&p).unwrap();
            let listed = p.list_integrations(&hooks, &IntegrationFilter::default());
            list::write_integrations(&mut std::io::sink(), &p, &listed, false, false).unwrap();
            black_box(listed.len())
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench
}
criterion_main!(benches);
