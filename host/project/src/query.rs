//! Listing integrations: explicit ones from files, plus generic ones derived
//! from every pair of matching capabilities, with who can set each up.
//!
//! A mesh of a few hundred products has a hundred thousand generic
//! integrations or more, so listings borrow every name
//! ([`IntegrationView`]), work one source product at a time, and order rows
//! by ranks (a name's place in sorted order) instead of comparing strings.

use std::collections::HashMap;

use foldhash::HashMap as FastMap;
use serde::Serialize;

use super::capability::{Capability, CapabilityRef, Mode, Role, formats_compatible};
use super::hooks::{HookIndex, SetupOwnership, ownership_among};
use super::integration::{Integration, IntegrationView};
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

impl IntegrationFilter<'_> {
    /// Whether a capability can take part in an integration this filter lists.
    fn admits(&self, c: &CapabilityRef<'_>) -> bool {
        self.topic.is_none_or(|t| c.topic.is_none_or(|c| c == t))
            && self.mode.is_none_or(|m| c.mode == m)
            && self.format.is_none_or(|f| c.format.is_none_or(|c| c == f))
    }

    fn admits_explicit(&self, i: &Integration) -> bool {
        self.product.is_none_or(|p| i.product == p)
            && self.target.is_none_or(|t| i.target_product == t)
            && self.topic.is_none_or(|t| i.topic == t)
            && self.role.is_none_or(|r| i.role == r)
            && self.mode.is_none_or(|m| i.mode == m)
            && self
                .format
                .is_none_or(|f| i.format.as_deref().is_none_or(|g| g == f))
    }
}

/// An integration with who can set it up, as listed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ListedIntegration<'a> {
    #[serde(flatten)]
    pub integration: IntegrationView<'a>,
    pub setup: SetupOwnership,
}

impl Project {
    /// Every capability of `product`: declared in its definition, plus those
    /// implied by its generic setup hooks; without duplicates, in order.
    pub fn capabilities(&self, product: &str, hooks: &HookIndex) -> Vec<Capability> {
        self.capability_refs(product, hooks)
            .into_iter()
            .map(CapabilityRef::to_owned)
            .collect()
    }

    /// [`Self::capabilities`], borrowed.
    fn capability_refs<'a>(
        &'a self,
        product: &str,
        hooks: &'a HookIndex,
    ) -> Vec<CapabilityRef<'a>> {
        let declared = self
            .find_product(product)
            .into_iter()
            .flat_map(|p| p.definition.capability_refs());
        let mut out: Vec<CapabilityRef<'a>> = Vec::new();
        for c in declared.chain(hooks.capability_refs(product)) {
            // A product has a handful of capabilities: a scan beats hashing.
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// The integrations matching `filter`, sorted, as owned values: for
    /// callers that keep a few. Listings use [`Self::integration_views`].
    pub fn integrations(
        &self,
        hooks: &HookIndex,
        filter: &IntegrationFilter<'_>,
    ) -> Vec<Integration> {
        self.integration_views(hooks, filter)
            .iter()
            .map(IntegrationView::to_integration)
            .collect()
    }

    /// The integrations matching `filter`, sorted, borrowed.
    pub fn integration_views<'a>(
        &'a self,
        hooks: &'a HookIndex,
        filter: &IntegrationFilter<'_>,
    ) -> Vec<IntegrationView<'a>> {
        let mut out = Vec::new();
        self.each_source(hooks, filter, |_, rows| out.extend_from_slice(rows));
        out
    }

    /// The integrations matching `filter`, sorted, with who can set each one up.
    pub fn list_integrations<'a>(
        &'a self,
        hooks: &'a HookIndex,
        filter: &IntegrationFilter<'_>,
    ) -> Vec<ListedIntegration<'a>> {
        let mut out = Vec::new();
        self.each_source(hooks, filter, |product, rows| {
            let product_hooks = hooks.of_product(product);
            // Without target-specific hooks, who sets an integration up does
            // not depend on its target: one answer per (topic, role, mode,
            // format) serves every target.
            let per_target = product_hooks.iter().any(|h| h.target_product.is_some());
            let mut known: Vec<(IntegrationView<'a>, SetupOwnership)> = Vec::new();
            for &integration in rows {
                let same = |(k, _): &&(IntegrationView<'a>, SetupOwnership)| {
                    (k.role, k.mode, k.topic, k.format)
                        == (
                            integration.role,
                            integration.mode,
                            integration.topic,
                            integration.format,
                        )
                };
                let setup = match known.iter().find(same) {
                    Some((_, setup)) => *setup,
                    None => {
                        let setup = ownership_among(product_hooks, &integration);
                        if !per_target {
                            known.push((integration, setup));
                        }
                        setup
                    }
                };
                out.push(ListedIntegration { integration, setup });
            }
        });
        out
    }

    /// How many integrations each product has, without listing them;
    /// products with none are absent.
    pub fn integration_counts<'a>(&'a self, hooks: &'a HookIndex) -> HashMap<&'a str, usize> {
        let mut out = HashMap::new();
        self.each_source(hooks, &IntegrationFilter::default(), |product, rows| {
            out.insert(product, rows.len());
        });
        out
    }

    /// Calls `emit` for each product, in name order, with its integrations
    /// matching `filter`, sorted by target, topic, role, mode, explicit
    /// before generic, then format. Generic ones are one per matching
    /// (target, topic, role, mode, format) that no explicit one implements
    /// (same ends, topic, role and mode, and its format or any). Cost:
    /// linear in the number of capabilities plus the number of
    /// integrations listed (sorted per product, by integer keys).
    fn each_source<'a>(
        &'a self,
        hooks: &'a HookIndex,
        filter: &IntegrationFilter<'_>,
        mut emit: impl FnMut(&'a str, &[IntegrationView<'a>]),
    ) {
        let selected = |only: Option<&str>| -> Vec<&'a str> {
            match only {
                Some(n) => self
                    .find_product(n)
                    .map(|p| vec![p.name.as_str()])
                    .unwrap_or_default(),
                None => self.products().iter().map(|p| p.name.as_str()).collect(),
            }
        };
        let explicit: Vec<&'a Integration> = self
            .explicit_integrations()
            .iter()
            .filter(|i| filter.admits_explicit(i))
            .collect();
        let mut sources = selected(filter.product);
        sources.extend(explicit.iter().map(|i| i.product.as_str()));
        sources.sort_unstable();
        sources.dedup();
        let targets = selected(filter.target);
        let caps_of = |p: &str| -> Vec<CapabilityRef<'a>> {
            let mut caps = self.capability_refs(p, hooks);
            caps.retain(|c| filter.admits(c));
            caps
        };
        let target_caps: Vec<Vec<CapabilityRef<'a>>> = targets.iter().map(|p| caps_of(p)).collect();
        let mut source_caps: Vec<Vec<CapabilityRef<'a>>> =
            sources.iter().map(|p| caps_of(p)).collect();
        for caps in &mut source_caps {
            caps.retain(|c| filter.role.is_none_or(|r| c.role == r));
        }
        let matcher = Matcher::new(&targets, &target_caps, &source_caps, &explicit);
        let mut explicit_of: FastMap<&str, Vec<&'a Integration>> = FastMap::default();
        for i in explicit {
            explicit_of.entry(i.product.as_str()).or_default().push(i);
        }

        let mut rows = Rows::default();
        let mut listed: Vec<IntegrationView<'a>> = Vec::new();
        for (&product, caps) in sources.iter().zip(&source_caps) {
            rows.clear();
            for &i in explicit_of.get(product).into_iter().flatten() {
                rows.push(matcher.explicit_key(i), i.view());
            }
            for a in caps {
                matcher.generic(product, a, &mut rows);
            }
            rows.listed(&mut listed);
            if !listed.is_empty() {
                emit(product, &listed);
            }
        }
    }
}

/// The targets' capabilities, indexed for matching, and the ranks of every
/// name a listing orders by; built once per listing.
struct Matcher<'a> {
    names: Ranks<'a>,
    topics: Ranks<'a>,
    formats: Ranks<'a>,
    /// The targets' capabilities by (topic, role, mode).
    by_key: FastMap<(&'a str, Role, Mode), Vec<End<'a>>>,
    /// Topic-less ones (from hooks) apart: they match every topic.
    wildcards: Vec<(End<'a>, CapabilityRef<'a>)>,
}

impl<'a> Matcher<'a> {
    fn new(
        targets: &[&'a str],
        target_caps: &[Vec<CapabilityRef<'a>>],
        source_caps: &[Vec<CapabilityRef<'a>>],
        explicit: &[&'a Integration],
    ) -> Matcher<'a> {
        let all_caps = || source_caps.iter().chain(target_caps).flatten();
        let mut m = Matcher {
            names: Ranks::new(
                targets
                    .iter()
                    .copied()
                    .chain(explicit.iter().map(|i| i.target_product.as_str())),
            ),
            topics: Ranks::new(
                all_caps()
                    .filter_map(|c| c.topic)
                    .chain(explicit.iter().map(|i| i.topic.as_str())),
            ),
            formats: Ranks::new(
                all_caps()
                    .filter_map(|c| c.format)
                    .chain(explicit.iter().filter_map(|i| i.format.as_deref())),
            ),
            by_key: FastMap::default(),
            wildcards: Vec::new(),
        };
        for (&target, caps) in targets.iter().zip(target_caps) {
            for c in caps {
                let end = End {
                    rank: m.names.of(target),
                    product: target,
                    format: c.format,
                    format_rank: m.format_rank(c.format),
                };
                match c.topic {
                    Some(t) => m.by_key.entry((t, c.role, c.mode)).or_default().push(end),
                    None => m.wildcards.push((end, *c)),
                }
            }
        }
        m
    }

    /// 0 for any format, else the format's rank + 1.
    fn format_rank(&self, format: Option<&str>) -> u32 {
        format.map_or(0, |f| self.formats.of(f) + 1)
    }

    fn explicit_key(&self, i: &Integration) -> RowKey {
        RowKey::new(
            self.names.of(&i.target_product),
            self.topics.of(&i.topic),
            i.role,
            i.mode,
            false,
            self.format_rank(i.format.as_deref()),
        )
    }

    /// Adds to `rows` every generic integration of `product` through its
    /// capability `a`: one per target capability it matches.
    fn generic(&self, product: &'a str, a: &CapabilityRef<'a>, rows: &mut Rows<'a>) {
        let complement = a.role.complement();
        let a_format_rank = self.format_rank(a.format);
        let mut add = |topic: &'a str, topic_rank: u32, end: &End<'a>| {
            if !formats_compatible(a.format, end.format) {
                return;
            }
            let (format, format_rank) = match a.format {
                Some(f) => (Some(f), a_format_rank),
                None => (end.format, end.format_rank),
            };
            rows.push(
                RowKey::new(end.rank, topic_rank, a.role, a.mode, true, format_rank),
                IntegrationView {
                    product,
                    target_product: end.product,
                    topic,
                    role: a.role,
                    mode: a.mode,
                    format,
                    explicit: None,
                },
            );
        };
        match a.topic {
            Some(topic) => {
                let rank = self.topics.of(topic);
                for end in self
                    .by_key
                    .get(&(topic, complement, a.mode))
                    .into_iter()
                    .flatten()
                {
                    add(topic, rank, end);
                }
                for (end, w) in &self.wildcards {
                    if w.role == complement && w.mode == a.mode {
                        add(topic, rank, end);
                    }
                }
            }
            None => {
                for (&(topic, role, mode), ends) in &self.by_key {
                    if role == complement && mode == a.mode {
                        let rank = self.topics.of(topic);
                        for end in ends {
                            add(topic, rank, end);
                        }
                    }
                }
            }
        }
    }
}

/// One product's rows, and their keys with the row's index: sorting these
/// small pairs is cheaper than moving rows, and the index keeps explicit
/// rows of equal keys in file order.
#[derive(Default)]
struct Rows<'a> {
    views: Vec<IntegrationView<'a>>,
    keys: Vec<(RowKey, u32)>,
}

impl<'a> Rows<'a> {
    fn clear(&mut self) {
        self.views.clear();
        self.keys.clear();
    }

    fn push(&mut self, key: RowKey, view: IntegrationView<'a>) {
        self.keys.push((key, self.views.len() as u32));
        self.views.push(view);
    }

    /// Sorts the rows into `out`, keeping what the listing shows: explicit
    /// rows come first in their (target, topic, role, mode) group and hide
    /// the generic ones they implement; duplicate generic rows are one.
    fn listed(&mut self, out: &mut Vec<IntegrationView<'a>>) {
        self.keys.sort_unstable();
        out.clear();
        let mut group = None;
        let mut explicit_formats: Vec<u32> = Vec::new();
        let mut last_generic = None;
        for &(key, index) in &self.keys {
            if group != Some(key.group()) {
                group = Some(key.group());
                explicit_formats.clear();
            }
            if !key.generic() {
                explicit_formats.push(key.format());
            } else if explicit_formats
                .iter()
                .any(|&f| f == 0 || f == key.format())
                || last_generic == Some(key)
            {
                continue;
            } else {
                last_generic = Some(key);
            }
            out.push(self.views[index as usize]);
        }
    }
}

/// The other end of a generic integration: a target product, its rank, and
/// the format its capability accepts.
struct End<'a> {
    rank: u32,
    product: &'a str,
    format: Option<&'a str>,
    format_rank: u32,
}

/// Where a row goes in one product's listing: target, topic, role, mode,
/// explicit before generic, format, as one integer (sorting integers is
/// several times faster than comparing field by field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey(u128);

impl RowKey {
    /// `format` is 0 for any format, else the format's rank + 1.
    fn new(target: u32, topic: u32, role: Role, mode: Mode, generic: bool, format: u32) -> RowKey {
        RowKey(
            (u128::from(target) << 96)
                | (u128::from(topic) << 64)
                | (u128::from(role as u8) << 40)
                | (u128::from(mode as u8) << 36)
                | (u128::from(generic) << 32)
                | u128::from(format),
        )
    }

    /// The (target, topic, role, mode) group explicit rows hide generic ones in.
    fn group(self) -> u128 {
        self.0 >> 36
    }

    fn generic(self) -> bool {
        (self.0 >> 32) & 1 == 1
    }

    fn format(self) -> u32 {
        self.0 as u32
    }
}

/// Each name's place in sorted order, so comparing ranks compares names.
struct Ranks<'a>(FastMap<&'a str, u32>);

impl<'a> Ranks<'a> {
    fn new(names: impl IntoIterator<Item = &'a str>) -> Ranks<'a> {
        let mut sorted: Vec<&str> = names.into_iter().collect();
        sorted.sort_unstable();
        sorted.dedup();
        Ranks(sorted.into_iter().zip(0..).collect())
    }

    fn of(&self, name: &str) -> u32 {
        self.0.get(name).copied().unwrap_or(u32::MAX - 1)
    }
}
