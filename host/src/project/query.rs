//! Listing integrations: explicit ones from files, plus generic ones derived
//! from every pair of matching capabilities, with who can set each up.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::capability::{Capability, Mode, Role, formats_compatible};
use super::hooks::{HookIndex, SetupOwnership};
use super::integration::Integration;
use super::project::Project;

/// Which integrations to list; `None` = any.
#[derive(Debug, Clone, Default)]
pub struct IntegrationFilter<'a> {
    pub product: Option<&'a str>,
    pub target: Option<&'a str>,
    pub topic: Option<&'a str>,
    pub role: Option<Role>,
    pub mode: Option<Mode>,
    /// Integrations accepting this format (those without format accept any).
    pub format: Option<&'a str>,
}

/// An integration with who can set it up, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct ListedIntegration {
    #[serde(flatten)]
    pub integration: Integration,
    pub setup: SetupOwnership,
}

impl Project {
    /// Every capability of `product`: declared in its definition, plus those
    /// implied by its generic setup hooks; without duplicates, in order.
    pub fn capabilities(&self, product: &str, hooks: &HookIndex) -> Vec<Capability> {
        let mut seen = HashSet::new();
        let declared = self
            .find_product(product)
            .into_iter()
            .flat_map(|p| p.definition.capabilities());
        declared
            .chain(hooks.capabilities(product))
            .filter(|c| seen.insert(c.clone()))
            .collect()
    }

    /// The integrations matching `filter`, explicit ones first for the same
    /// (product, target, topic, role, mode), sorted. Cost: linear in the
    /// number of capabilities plus the number of integrations listed.
    pub fn integrations(
        &self,
        hooks: &HookIndex,
        filter: &IntegrationFilter<'_>,
    ) -> Vec<Integration> {
        let cap_ok = |c: &Capability| {
            filter
                .topic
                .is_none_or(|t| c.topic.is_none() || c.topic.as_deref() == Some(t))
                && filter.mode.is_none_or(|m| c.mode == m)
                && filter
                    .format
                    .is_none_or(|f| c.format.is_none() || c.format.as_deref() == Some(f))
        };
        let names = |only: Option<&str>| -> Vec<String> {
            match only {
                Some(n) => self
                    .find_product(n)
                    .map(|p| vec![p.name.clone()])
                    .unwrap_or_default(),
                None => self.products().iter().map(|p| p.name.clone()).collect(),
            }
        };
        // Index the targets' capabilities by (topic, role, mode); topic-less
        // ones (from hooks) are kept apart and match every topic.
        type Key = (String, Role, Mode);
        let mut by_key: HashMap<Key, Vec<(usize, Option<String>)>> = HashMap::new();
        let mut wildcards: Vec<(usize, Capability)> = Vec::new();
        let targets = names(filter.target);
        for (ti, target) in targets.iter().enumerate() {
            for c in self
                .capabilities(target, hooks)
                .into_iter()
                .filter(|c| cap_ok(c))
            {
                match &c.topic {
                    Some(t) => by_key
                        .entry((t.clone(), c.role, c.mode))
                        .or_default()
                        .push((ti, c.format.clone())),
                    None => wildcards.push((ti, c)),
                }
            }
        }

        let mut out: Vec<Integration> = self
            .explicit_integrations()
            .iter()
            .filter(|i| {
                filter.product.is_none_or(|p| i.product == p)
                    && filter.target.is_none_or(|t| i.target_product == t)
                    && filter.topic.is_none_or(|t| i.topic == t)
                    && filter.role.is_none_or(|r| i.role == r)
                    && filter.mode.is_none_or(|m| i.mode == m)
                    && filter
                        .format
                        .is_none_or(|f| i.format.is_none() || i.format.as_deref() == Some(f))
            })
            .cloned()
            .collect();
        let mut seen: HashSet<(String, String, String, Role, Mode)> = out
            .iter()
            .map(|i| {
                (
                    i.product.clone(),
                    i.target_product.clone(),
                    i.topic.clone(),
                    i.role,
                    i.mode,
                )
            })
            .collect();

        let mut generic = Vec::new();
        for product in names(filter.product) {
            for a in self.capabilities(&product, hooks) {
                if !cap_ok(&a) || filter.role.is_some_and(|r| a.role != r) {
                    continue;
                }
                let mut push = |target: &str, topic: &str, format: Option<&str>| {
                    if !formats_compatible(a.format.as_deref(), format) {
                        return;
                    }
                    let key = (
                        product.clone(),
                        target.to_string(),
                        topic.to_string(),
                        a.role,
                        a.mode,
                    );
                    if seen.contains(&key) {
                        return;
                    }
                    seen.insert(key);
                    generic.push(Integration {
                        product: product.clone(),
                        target_product: target.to_string(),
                        topic: topic.to_string(),
                        role: a.role,
                        mode: a.mode,
                        format: a.format.clone().or_else(|| format.map(str::to_string)),
                        generic: true,
                        path: None,
                        manifest: Default::default(),
                    });
                };
                let complement = a.role.complement();
                match &a.topic {
                    Some(topic) => {
                        if let Some(list) = by_key.get(&(topic.clone(), complement, a.mode)) {
                            for (ti, format) in list {
                                push(&targets[*ti], topic, format.as_deref());
                            }
                        }
                        for (ti, w) in &wildcards {
                            if w.role == complement && w.mode == a.mode {
                                push(&targets[*ti], topic, w.format.as_deref());
                            }
                        }
                    }
                    None => {
                        for ((topic, role, mode), list) in &by_key {
                            if *role == complement
                                && *mode == a.mode
                                && filter.topic.is_none_or(|t| t == topic)
                            {
                                for (ti, format) in list {
                                    push(&targets[*ti], topic, format.as_deref());
                                }
                            }
                        }
                    }
                }
            }
        }
        out.extend(generic);
        out.sort_by(|a, b| {
            (
                &a.product,
                &a.target_product,
                &a.topic,
                a.role,
                a.mode,
                a.generic,
                &a.format,
            )
                .cmp(&(
                    &b.product,
                    &b.target_product,
                    &b.topic,
                    b.role,
                    b.mode,
                    b.generic,
                    &b.format,
                ))
        });
        out
    }

    /// [`Self::integrations`] with who can set each one up.
    pub fn list_integrations(
        &self,
        hooks: &HookIndex,
        filter: &IntegrationFilter<'_>,
    ) -> Vec<ListedIntegration> {
        self.integrations(hooks, filter)
            .into_iter()
            .map(|integration| ListedIntegration {
                setup: hooks.ownership(&integration),
                integration,
            })
            .collect()
    }
}
