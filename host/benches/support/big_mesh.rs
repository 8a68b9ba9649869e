//! The benchmark mesh of 200 products, 1,000 instances and 3,000 plugs
//! (half of them up), with the hook index their adapters would declare.
//! Shared by the project bench and the dashboard bench; included with
//! `#[path]`: not a bench itself.

#![allow(dead_code)]

use std::path::Path;

use meshroom::project::{DeclaredHook, HookIndex, Role};

pub const PRODUCTS: usize = 200;
pub const INSTANCES_PER_PRODUCT: usize = 5;
pub const PLUGS: usize = 3_000;

/// Product kinds: (topics produced, topics consumed, triggers, executes).
/// Topics produced, consumed, triggered, executed.
type Kind = (
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

const KINDS: [Kind; 4] = [
    (&["alerts"], &["events", "threats"], &["deny"], &[]), // SIEM-like
    (&["events", "alerts"], &[], &[], &["deny", "contain"]), // EDR-like
    (&["threats"], &["threats", "sightings"], &[], &[]),   // TIP-like
    (&["events", "sightings"], &["alerts"], &[], &["deny"]), // WAF/NDR-like
];

fn kind(p: usize) -> usize {
    p % KINDS.len()
}

fn definition(p: usize) -> String {
    let (prod, cons, trig, exec) = KINDS[kind(p)];
    let mut s = format!(
        "name: product{p}\ndescription: generated product {p}\ntags: [bench]\nsettings:\n  - name: url\n    required: true\n"
    );
    for (key, topics) in [
        ("produces", prod),
        ("consumes", cons),
        ("triggers", trig),
        ("executes", exec),
    ] {
        if topics.is_empty() {
            continue;
        }
        s.push_str(&format!("{key}:\n"));
        for t in topics {
            s.push_str(&format!("  {t}:\n    - format: ocsf\n    - mode: pull\n"));
        }
    }
    s
}

pub fn hooks() -> HookIndex {
    let mut idx = HookIndex::new();
    for p in 0..PRODUCTS {
        let (prod, cons, trig, exec) = KINDS[kind(p)];
        let product = format!("product{p}");
        for (role, topics) in [
            (Role::Producer, prod),
            (Role::Consumer, cons),
            (Role::Trigger, trig),
            (Role::Executor, exec),
        ] {
            for t in topics {
                let mut h = DeclaredHook::setup(&product, role, t);
                h.target_product = None;
                idx.extend([h]);
            }
        }
    }
    idx
}

/// Every (source product, destination product, topic) edge the capabilities allow.
fn feasible_edges() -> Vec<(usize, usize, &'static str)> {
    let mut out = Vec::new();
    for a in 0..PRODUCTS {
        let (prod, _, trig, _) = KINDS[kind(a)];
        for b in 0..PRODUCTS {
            if a == b {
                continue;
            }
            let (_, cons, _, exec) = KINDS[kind(b)];
            for t in prod
                .iter()
                .filter(|t| cons.contains(t))
                .chain(trig.iter().filter(|t| exec.contains(t)))
            {
                out.push((a, b, *t));
            }
        }
    }
    out
}

pub fn generate(root: &Path) {
    std::fs::create_dir_all(root.join("instances")).unwrap();
    for p in 0..PRODUCTS {
        let dir = root.join(format!("products/product{p}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("definition.yaml"), definition(p)).unwrap();
        for i in 0..INSTANCES_PER_PRODUCT {
            let inst = root.join(format!("instances/product{p}/p{p}i{i}"));
            std::fs::create_dir_all(&inst).unwrap();
            std::fs::write(
                inst.join("config.yaml"),
                format!("name: p{p}i{i}\nproduct: product{p}\nsettings:\n  url: https://p{p}i{i}.example\n"),
            )
            .unwrap();
        }
    }
    let edges = feasible_edges();
    let step = edges.len() / PLUGS;
    for n in 0..PLUGS {
        let (a, b, topic) = edges[n * step];
        let (ia, ib) = (n % INSTANCES_PER_PRODUCT, (n / 7) % INSTANCES_PER_PRODUCT);
        let dir = root.join(format!("instances/product{a}/p{a}i{ia}/plugs/p{b}i{ib}"));
        std::fs::create_dir_all(&dir).unwrap();
        let kind = if ["deny", "contain"].contains(&topic) {
            "kind: trigger\n"
        } else {
            ""
        };
        let status = if n % 2 == 0 { "status: up\n" } else { "" };
        std::fs::write(
            dir.join(format!("{topic}.yaml")),
            format!("src_instance: p{a}i{ia}\ndst_instance: p{b}i{ib}\ntopic: {topic}\nmode: push\nformat: ocsf\n{kind}{status}"),
        )
        .unwrap();
    }
}
