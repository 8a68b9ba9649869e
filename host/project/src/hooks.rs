//! Who can set up each side of an integration: the hooks products declare.
//!
//! The model never runs hooks; it only needs their *declarations* to list
//! integrations and resolve plugs. The engine fills a [`HookIndex`] from each
//! product's adapter (`describe()`), so resolution works the same whatever
//! the hooks are written in.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::capability::{Capability, CapabilityRef, Mode, Role};
use super::integration::IntegrationView;

/// The kinds of hook an adapter may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HookKind {
    Setup,
    Teardown,
    Check,
    Scaffold,
    Pull,
    Publish,
    Produce,
    Watch,
    Trigger,
    Execute,
}

/// When a hook runs among the hooks of the same integration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HookOrder {
    First,
    #[default]
    Unordered,
    At(i64),
    Last,
}

impl HookOrder {
    /// first < integers (ascending) < unordered < last.
    fn rank(self) -> (u8, i64) {
        match self {
            HookOrder::First => (0, 0),
            HookOrder::At(i) => (1, i),
            HookOrder::Unordered => (2, 0),
            HookOrder::Last => (3, 0),
        }
    }
}

impl Ord for HookOrder {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}
impl PartialOrd for HookOrder {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One hook a product declares. `None` scopes mean "any".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredHook {
    /// The hook's id in its adapter, passed back when calling it.
    pub id: String,
    pub title: String,
    pub kind: HookKind,
    /// The product whose adapter declares the hook.
    pub product: String,
    /// Only for integrations towards this product (`None`: generic, for any target).
    pub target_product: Option<String>,
    pub role: Option<Role>,
    pub topic: Option<String>,
    pub mode: Option<Mode>,
    pub format: Option<String>,
    /// A setup hook that configures both ends of the plug alone.
    pub owns_both: bool,
    /// Keep this generic hook even when a target-specific one exists.
    pub keep_when_overloaded: bool,
    pub order: HookOrder,
}

impl DeclaredHook {
    /// A generic setup hook of `product` for `role` on `topic` (handy in tests
    /// and for adapters that declare little).
    pub fn setup(product: &str, role: Role, topic: &str) -> DeclaredHook {
        DeclaredHook {
            id: format!("setup_{role}_{topic}"),
            title: format!("set up {topic} {role}"),
            kind: HookKind::Setup,
            product: product.to_string(),
            target_product: None,
            role: Some(role),
            topic: Some(topic.to_string()),
            mode: None,
            format: None,
            owns_both: false,
            keep_when_overloaded: false,
            order: HookOrder::Unordered,
        }
    }

    pub fn with_owns_both(mut self) -> Self {
        self.owns_both = true;
        self
    }
    pub fn with_target(mut self, target: &str) -> Self {
        self.target_product = Some(target.to_string());
        self
    }
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }
    pub fn with_format(mut self, format: &str) -> Self {
        self.format = Some(format.to_string());
        self
    }
    pub fn with_kind(mut self, kind: HookKind) -> Self {
        self.kind = kind;
        self
    }

    /// Whether this hook applies to `integration` (same product and role,
    /// compatible target, topic, mode and format).
    pub fn applies_to(&self, integration: &IntegrationView<'_>) -> bool {
        self.product == integration.product && self.applies_within_product(integration)
    }

    /// [`Self::applies_to`] for a hook known to be `integration.product`'s.
    fn applies_within_product(&self, integration: &IntegrationView<'_>) -> bool {
        self.role == Some(integration.role)
            && self
                .target_product
                .as_ref()
                .is_none_or(|t| t == integration.target_product)
            && self.topic.as_ref().is_none_or(|t| t == integration.topic)
            && self.mode.is_none_or(|m| m == integration.mode)
            && self
                .format
                .as_deref()
                .is_none_or(|f| integration.format == Some(f))
    }
}

/// Who can set an integration up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupOwnership {
    /// No setup hook: nothing configures this side.
    None,
    /// Setup hooks configure this side only.
    OwnSide,
    /// A setup hook configures both sides alone.
    Both,
}

impl SetupOwnership {
    pub fn describe(self) -> &'static str {
        match self {
            SetupOwnership::None => "no setup hook",
            SetupOwnership::OwnSide => "can set up self",
            SetupOwnership::Both => "can set up both",
        }
    }
}

/// Every declared hook of the project, indexed by product.
#[derive(Debug, Clone, Default)]
pub struct HookIndex {
    by_product: HashMap<String, Vec<DeclaredHook>>,
}

impl HookIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the hooks one product's adapter declares.
    pub fn extend(&mut self, hooks: impl IntoIterator<Item = DeclaredHook>) {
        for h in hooks {
            self.by_product
                .entry(h.product.clone())
                .or_default()
                .push(h);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_product.is_empty()
    }

    /// Every hook declared by `product`.
    pub fn of_product(&self, product: &str) -> &[DeclaredHook] {
        self.by_product
            .get(product)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The hooks of `kind` that apply to `integration`, in run order. When a
    /// target-specific hook exists, generic ones are dropped unless marked
    /// `keep_when_overloaded` (as the original's overloading rule).
    pub fn for_integration(
        &self,
        kind: HookKind,
        integration: &IntegrationView<'_>,
    ) -> Vec<&DeclaredHook> {
        let mut hooks: Vec<&DeclaredHook> = self
            .of_product(integration.product)
            .iter()
            .filter(|h| h.kind == kind && h.applies_within_product(integration))
            .collect();
        if hooks.iter().any(|h| h.target_product.is_some()) {
            hooks.retain(|h| h.target_product.is_some() || h.keep_when_overloaded);
        }
        hooks.sort_by_key(|h| h.order);
        hooks
    }

    /// Who can set `integration` up (same rules as [`Self::for_integration`]).
    pub fn ownership(&self, integration: &IntegrationView<'_>) -> SetupOwnership {
        ownership_among(self.of_product(integration.product), integration)
    }

    /// Capabilities implied by generic setup hooks (no target product): a
    /// mode-less hook supports both modes, as the original.
    pub fn capabilities(&self, product: &str) -> Vec<Capability> {
        self.capability_refs(product)
            .map(CapabilityRef::to_owned)
            .collect()
    }

    /// [`Self::capabilities`], borrowed.
    pub fn capability_refs(&self, product: &str) -> impl Iterator<Item = CapabilityRef<'_>> {
        self.of_product(product).iter().flat_map(|h| {
            let modes: &[Mode] = match (h.role, h.kind, &h.target_product, &h.mode) {
                (Some(_), HookKind::Setup, None, Some(m)) => std::slice::from_ref(m),
                (Some(_), HookKind::Setup, None, None) => &[Mode::Push, Mode::Pull],
                _ => &[],
            };
            modes.iter().filter_map(move |&mode| {
                Some(CapabilityRef {
                    topic: h.topic.as_deref(),
                    role: h.role?,
                    mode,
                    format: h.format.as_deref(),
                })
            })
        })
    }
}

/// Who can set `integration` up, given the hooks of its product (without
/// allocating: listings call it once per integration).
pub fn ownership_among(
    product_hooks: &[DeclaredHook],
    integration: &IntegrationView<'_>,
) -> SetupOwnership {
    let applicable = || {
        product_hooks
            .iter()
            .filter(|h| h.kind == HookKind::Setup && h.applies_within_product(integration))
    };
    let overloaded = applicable().any(|h| h.target_product.is_some());
    let mut any = false;
    for h in
        applicable().filter(|h| !overloaded || h.target_product.is_some() || h.keep_when_overloaded)
    {
        if h.owns_both {
            return SetupOwnership::Both;
        }
        any = true;
    }
    if any {
        SetupOwnership::OwnSide
    } else {
        SetupOwnership::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integration<'a>(
        product: &'a str,
        target: &'a str,
        topic: &'a str,
        role: Role,
        mode: Mode,
    ) -> IntegrationView<'a> {
        IntegrationView {
            product,
            target_product: target,
            topic,
            role,
            mode,
            format: None,
            explicit: None,
        }
    }

    #[test]
    fn ownership_from_setup_hooks() {
        let mut idx = HookIndex::new();
        idx.extend([
            DeclaredHook::setup("a", Role::Consumer, "events"),
            DeclaredHook::setup("a", Role::Consumer, "stuff")
                .with_mode(Mode::Pull)
                .with_owns_both(),
            DeclaredHook::setup("a", Role::Producer, "alerts").with_kind(HookKind::Teardown),
        ]);
        let i = |t, r, m| integration("a", "b", t, r, m);
        assert_eq!(
            idx.ownership(&i("events", Role::Consumer, Mode::Push)),
            SetupOwnership::OwnSide
        );
        assert_eq!(
            idx.ownership(&i("events", Role::Consumer, Mode::Pull)),
            SetupOwnership::OwnSide
        );
        assert_eq!(
            idx.ownership(&i("stuff", Role::Consumer, Mode::Pull)),
            SetupOwnership::Both
        );
        assert_eq!(
            idx.ownership(&i("stuff", Role::Consumer, Mode::Push)),
            SetupOwnership::None
        );
        assert_eq!(
            idx.ownership(&i("events", Role::Producer, Mode::Push)),
            SetupOwnership::None
        );
        assert_eq!(
            idx.ownership(&i("alerts", Role::Producer, Mode::Push)),
            SetupOwnership::None
        );
    }

    #[test]
    fn target_specific_hooks_overload_generic_ones() {
        let mut idx = HookIndex::new();
        let mut kept = DeclaredHook::setup("a", Role::Producer, "events");
        kept.id = "kept".into();
        kept.keep_when_overloaded = true;
        kept.order = HookOrder::Last;
        let mut specific = DeclaredHook::setup("a", Role::Producer, "events").with_target("b");
        specific.id = "specific".into();
        let mut dropped = DeclaredHook::setup("a", Role::Producer, "events");
        dropped.id = "dropped".into();
        dropped.order = HookOrder::First;
        idx.extend([kept, specific, dropped]);
        let ids = |t: &str| -> Vec<String> {
            idx.for_integration(
                HookKind::Setup,
                &integration("a", t, "events", Role::Producer, Mode::Push),
            )
            .iter()
            .map(|h| h.id.clone())
            .collect()
        };
        assert_eq!(ids("b"), ["specific", "kept"]);
        assert_eq!(ids("c"), ["dropped", "kept"]);
    }

    #[test]
    fn orders_first_integers_unordered_last() {
        let mut v = vec![
            HookOrder::Last,
            HookOrder::Unordered,
            HookOrder::At(2),
            HookOrder::First,
            HookOrder::At(-1),
        ];
        v.sort();
        assert_eq!(
            v,
            [
                HookOrder::First,
                HookOrder::At(-1),
                HookOrder::At(2),
                HookOrder::Unordered,
                HookOrder::Last
            ]
        );
    }

    #[test]
    fn generic_setup_hooks_imply_capabilities() {
        let mut idx = HookIndex::new();
        idx.extend([
            DeclaredHook::setup("a", Role::Consumer, "events").with_format("ecs"),
            DeclaredHook::setup("a", Role::Consumer, "x").with_target("b"),
        ]);
        let caps: Vec<String> = idx
            .capabilities("a")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            caps,
            ["events consumer (ecs)", "events consumer (pull ecs)"]
        );
    }
}
