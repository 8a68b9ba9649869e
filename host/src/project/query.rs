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

    /// The integrations matching `filter`, sorted: explicit ones, and one
    /// generic integration per matching (topic, role, mode, format) that no
    /// explicit one implements. Cost: linear in the
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
        let selected = |only: Option<&str>| -> Vec<&str> {
            match only {
                Some(n) => self
                    .find_product(n)
                    .map(|p| vec![p.name.as_str()])
                    .unwrap_or_default(),
                None => self.products().iter().map(|p| p.name.as_str()).collect(),
            }
        };
        let sources = selected(filter.product);
        let targets = selected(filter.target);
        let source_caps: Vec<Vec<Capability>> = sources
            .iter()
            .map(|p| {
                self.capabilities(p, hooks)
                    .into_iter()
                    .filter(|c| cap_ok(c) && filter.role.is_none_or(|r| c.role == r))
                    .collect()
            })
            .collect();
        let target_caps: Vec<Vec<Capability>> = targets
            .iter()
            .map(|p| {
                self.capabilities(p, hooks)
                    .into_iter()
                    .filter(|c| cap_ok(c))
                    .collect()
            })
            .collect();

        // The targets' capabilities by (topic, role, mode); topic-less ones
        // (from hooks) apart, as they match every topic.
        type Targets<'t> = Vec<(usize, Option<&'t str>)>;
        let mut by_key: HashMap<(&str, Role, Mode), Targets<'_>> = HashMap::new();
        let mut wildcards: Vec<(usize, &Capability)> = Vec::new();
        for (ti, caps) in target_caps.iter().enumerate() {
            for c in caps {
                match &c.topic {
                    Some(t) => by_key
                        .entry((t.as_str(), c.role, c.mode))
                        .or_default()
                        .push((ti, c.format.as_deref())),
                    None => wildcards.push((ti, c)),
                }
            }
        }

        let explicit: Vec<&Integration> = self
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
            .collect();
        // An explicit integration hides the generic ones it implements: same
        // ends, topic, role and mode, and its format (or any when unset).
        type Key<'k> = (&'k str, &'k str, &'k str, Role, Mode);
        let mut explicit_formats: HashMap<Key<'_>, Vec<Option<&str>>> = HashMap::new();
        for i in &explicit {
            explicit_formats
                .entry((
                    i.product.as_str(),
                    i.target_product.as_str(),
                    i.topic.as_str(),
                    i.role,
                    i.mode,
                ))
                .or_default()
                .push(i.format.as_deref());
        }
        let mut seen: HashSet<(Key<'_>, Option<&str>)> = HashSet::new();
        let mut out: Vec<Integration> = explicit.into_iter().cloned().collect();

        for (si, caps) in source_caps.iter().enumerate() {
            let product = sources[si];
            for a in caps {
                let complement = a.role.complement();
                let mut candidates: Vec<(usize, &str, Option<&str>)> = Vec::new();
                match &a.topic {
                    Some(topic) => {
                        if let Some(list) = by_key.get(&(topic.as_str(), complement, a.mode)) {
                            candidates.extend(list.iter().map(|(ti, f)| (*ti, topic.as_str(), *f)));
                        }
                        for (ti, w) in &wildcards {
                            if w.role == complement && w.mode == a.mode {
                                candidates.push((*ti, topic.as_str(), w.format.as_deref()));
                            }
                        }
                    }
                    None => {
                        for ((topic, role, mode), list) in &by_key {
                            if *role == complement
                                && *mode == a.mode
                                && filter.topic.is_none_or(|t| t == *topic)
                            {
                                candidates.extend(list.iter().map(|(ti, f)| (*ti, *topic, *f)));
                            }
                        }
                    }
                }
                for (ti, topic, format) in candidates {
                    if !formats_compatible(a.format.as_deref(), format) {
                        continue;
                    }
                    let target = targets[ti];
                    let key = (product, target, topic, a.role, a.mode);
                    let format = a.format.as_deref().or(format);
                    if explicit_formats
                        .get(&key)
                        .is_some_and(|fs| fs.iter().any(|f| f.is_none() || *f == format))
                        || !seen.insert((key, format))
                    {
                        continue;
                    }
                    out.push(Integration {
                        product: product.to_string(),
                        target_product: target.to_string(),
                        topic: topic.to_string(),
                        role: a.role,
                        mode: a.mode,
                        format: format.map(str::to_string),
                        generic: true,
                        path: None,
                        manifest: Default::default(),
                    });
                }
            }
        }
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
