//! The graph model of a project, for every front end (`meshroom graph`,
//! a dashboard): the mesh (one node per instance, one edge per plug, with
//! its state) and the capability graph (one node per product, one edge per
//! feasible product pair). Rendering (dot, Mermaid, SVG) is the front
//! end's job.

use crate::{HookIndex, IntegrationFilter, Mode, Project, Role};

/// A graph ready to render: nodes (id, label, group) and edges.
#[derive(Debug, Default, serde::Serialize)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, serde::Serialize)]
pub struct Node {
    pub id: String,
    pub label: String,
    /// The product (mesh graph) or the first tag (capability graph).
    pub group: String,
}

#[derive(Debug, serde::Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: String,
    /// `up`/`down`/`failed` for plugs; `feasible` for capability edges.
    pub status: String,
    pub trigger: bool,
}

/// The mesh: one node per instance, one edge per plug.
pub fn mesh_graph(project: &Project) -> Graph {
    let mut g = Graph::default();
    for i in project.instances() {
        g.nodes.push(Node {
            id: i.name.clone(),
            label: format!("{}\n({})", i.name, i.product),
            group: i.product.clone(),
        });
    }
    for p in project.plugs() {
        let mut label = p.topic.clone();
        if p.mode == Mode::Pull {
            label.push_str(" (pull)");
        }
        if let Some(f) = &p.format {
            label.push_str(&format!(" [{f}]"));
        }
        g.edges.push(Edge {
            from: p.src_instance.clone(),
            to: p.dst_instance.clone(),
            label,
            status: p.state().as_str().to_string(),
            trigger: p.is_trigger(),
        });
    }
    g
}

/// The capability graph: one node per product, one edge per feasible
/// (source product, destination product, data or command) with its topics.
pub fn capability_graph(project: &Project, hooks: &HookIndex) -> Graph {
    let mut g = Graph::default();
    for p in project.products() {
        g.nodes.push(Node {
            id: p.name.clone(),
            label: p.name.clone(),
            group: p.definition.tags.first().cloned().unwrap_or_default(),
        });
    }
    let filter = IntegrationFilter::default();
    let views = project.integration_views(hooks, &filter);
    // Sorted by product then target: each (product, target) run of source
    // ends gives the data edge, then the command edge.
    let sources: Vec<_> = views.iter().filter(|i| i.role.is_source()).collect();
    for run in
        sources.chunk_by(|a, b| (a.product, a.target_product) == (b.product, b.target_product))
    {
        for trigger in [false, true] {
            let mut topics: Vec<(&str, Mode)> = Vec::new();
            for i in run.iter().filter(|i| (i.role == Role::Trigger) == trigger) {
                if !topics.contains(&(i.topic, i.mode)) {
                    topics.push((i.topic, i.mode));
                }
            }
            if !topics.is_empty() {
                g.edges.push(Edge {
                    from: run[0].product.to_string(),
                    to: run[0].target_product.to_string(),
                    label: topics
                        .iter()
                        .map(|(topic, mode)| match mode {
                            Mode::Pull => format!("{topic} (pull)"),
                            Mode::Push => topic.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    status: "feasible".into(),
                    trigger,
                });
            }
        }
    }
    g
}
