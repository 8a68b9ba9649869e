//! [`Scope`]: what a command reads of the project. Each command asks for
//! the parts it needs ([`Project::load_scope`](super::Project::load_scope))
//! and the loader visits those folders and files and no others, so a
//! listing of plugs never `stat`s a product folder and `up edr1` reads
//! `edr1`, the instances its plugs reach and their products, not the mesh.
//!
//! What a load left out stays in the load cache untouched for the next
//! command (see [`super::reader`]); what it read is validated as any load
//! does, so no scope ever sees a stale file.
//!
//! A project loaded under a scope answers lookups outside it with an
//! error saying so, never with "no such product": see
//! [`Project::product`](super::Project::product).

use std::collections::BTreeSet;

/// Which products or instances a load reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Select {
    /// Every one in the project.
    All,
    /// Those named (names that do not exist are simply not found).
    Named(BTreeSet<String>),
}

impl Select {
    /// No product or instance.
    pub fn none() -> Select {
        Select::Named(BTreeSet::new())
    }

    /// Those named.
    pub fn named<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Select {
        Select::Named(names.into_iter().map(Into::into).collect())
    }

    /// Whether `name` is selected.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Select::All => true,
            Select::Named(names) => names.contains(name),
        }
    }

    /// Whether nothing is selected.
    pub fn is_empty(&self) -> bool {
        matches!(self, Select::Named(names) if names.is_empty())
    }
}

/// What a command reads of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Products (definitions, integrations, Python hook files). The
    /// products of the instances loaded are added when `instance_products`.
    pub products: Select,
    /// Instances (their `config.yaml`).
    pub instances: Select,
    /// The plugs whose source is a loaded instance, and the instances at
    /// their other end.
    pub plugs: bool,
    /// Also the products of every instance loaded.
    pub instance_products: bool,
}

impl Scope {
    /// The whole project.
    pub fn all() -> Scope {
        Scope {
            products: Select::All,
            instances: Select::All,
            plugs: true,
            instance_products: true,
        }
    }

    /// Products alone: definitions and integrations, no instance, no plug.
    pub fn products() -> Scope {
        Scope {
            products: Select::All,
            instances: Select::none(),
            plugs: false,
            instance_products: false,
        }
    }

    /// Every instance and plug, no product: what listings of the mesh show.
    pub fn mesh() -> Scope {
        Scope {
            products: Select::none(),
            instances: Select::All,
            plugs: false,
            instance_products: false,
        }
        .with_plugs()
    }

    /// Every product and instance, no plug.
    pub fn catalog() -> Scope {
        Scope {
            products: Select::All,
            instances: Select::All,
            plugs: false,
            instance_products: false,
        }
    }

    /// The instances named (any product), their plugs, the instances those
    /// reach, and all their products: what `plan`/`up` on a source
    /// instance touch.
    pub fn around<S: Into<String>>(instances: impl IntoIterator<Item = S>) -> Scope {
        Scope {
            products: Select::none(),
            instances: Select::named(instances),
            plugs: true,
            instance_products: true,
        }
    }

    /// This scope, with the plugs of its instances.
    pub fn with_plugs(mut self) -> Scope {
        self.plugs = true;
        self
    }

    /// This scope, with the product `name` too.
    pub fn with_product(mut self, name: impl Into<String>) -> Scope {
        if let Select::Named(names) = &mut self.products {
            names.insert(name.into());
        }
        self
    }

    /// Whether this scope reads everything.
    pub fn is_all(&self) -> bool {
        *self == Scope::all()
    }
}
