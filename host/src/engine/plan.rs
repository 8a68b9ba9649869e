//! Planning `up`, `down` and `check`: which plugs the scoping arguments
//! select, and, for each, the hooks that would run, in order, or why it is
//! skipped. Pure: reads the project and the hook index, calls nothing.
//!
//! Order inside a plug (as the original Meshroom): when each side sets up
//! its own end, pull mode sets up the producer side first and push mode the
//! consumer side first; an `owns_both` side runs alone. Teardown runs the
//! same sides in reverse. Inside a side, hooks run by `order` (first,
//! integers ascending, unordered, last); target-specific hooks override
//! product-wide ones.
//!
//! A plug left pending by a killed run (see [`Plug::pending`]) may be half
//! set up or half torn down: `up` runs its teardown hooks first, as
//! recovery steps whose failure does not stop the setup that follows
//! (they clean what the interrupted run may have left; an adapter finds it
//! by the plug's identity when no output was recorded), `down` tears it
//! down whatever its status says, and `check` fails it, naming the fix.

use serde::Serialize;

use crate::project::{
    DeclaredHook, HookIndex, HookKind, Integration, Mode, Plug, PlugState, PlugStatus, Project,
    SetupBy,
};

use super::sides::plug_sides;

/// What a command does to plugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `meshroom up`: setup hooks.
    Up,
    /// `meshroom down`: teardown hooks.
    Down,
    /// `meshroom check`: check hooks.
    Check,
}

/// Which plugs a command applies to: `[INSTANCE] [TARGET] [TOPIC] [MODE]`,
/// as the original (INSTANCE is the source instance).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub instance: Option<String>,
    pub target: Option<String>,
    pub topic: Option<String>,
    pub mode: Option<Mode>,
}

impl Selection {
    /// Whether `plug` is selected.
    pub fn matches(&self, plug: &Plug) -> bool {
        self.instance
            .as_ref()
            .is_none_or(|i| *i == plug.src_instance)
            && self.target.as_ref().is_none_or(|t| *t == plug.dst_instance)
            && self.topic.as_ref().is_none_or(|t| *t == plug.topic)
            && self.mode.is_none_or(|m| m == plug.mode)
    }
}

/// Which end of a plug a hook serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Producer or trigger (the plug's source instance).
    Source,
    /// Consumer or executor (the plug's destination instance).
    Destination,
}

/// One hook call of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The instance whose adapter runs (and whose API the hook touches).
    pub instance: String,
    pub product: String,
    pub side: Side,
    /// The hook's id in its adapter.
    pub hook: String,
    pub title: String,
    /// A teardown run before the setup of a plug a killed run left
    /// pending: its failure is reported and tolerated.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub recovery: bool,
    #[serde(skip)]
    pub integration: Integration,
}

/// What a command would do to one plug.
#[derive(Debug, Clone, Serialize)]
pub struct PlugPlan {
    /// `src --[topic:mode]-> dst`.
    pub plug: String,
    pub src_instance: String,
    pub dst_instance: String,
    pub topic: String,
    pub mode: Mode,
    /// Where it stands now.
    pub state: PlugState,
    /// The hooks that would run, in order (empty when skipped).
    pub steps: Vec<Step>,
    /// Why nothing runs (already up, no hook…), when skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
    /// Why it cannot run (no setup hook, a broken adapter…): it would fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether running the plan changes the plug's status (up or down).
    #[serde(skip)]
    pub changes_state: bool,
    #[serde(skip)]
    pub index: usize,
}

/// The plan of a command over the selected plugs.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub action: Action,
    pub plugs: Vec<PlugPlan>,
}

impl Plan {
    /// Every hook call the plan makes.
    pub fn step_count(&self) -> usize {
        self.plugs.iter().map(|p| p.steps.len()).sum()
    }
}

/// Plans `action` over the plugs `selection` picks. `broken(product)` tells
/// why a product's adapter is unusable (it failed to load).
/// `repair` names the plugs up in the project that `up` sets up again
/// (those `check` found drifted, for `up --repair`).
pub fn plan(
    project: &Project,
    hooks: &HookIndex,
    selection: &Selection,
    action: Action,
    broken: &dyn Fn(&str) -> Option<String>,
    repair: &dyn Fn(&Plug) -> bool,
) -> Plan {
    let plugs = project
        .plugs()
        .iter()
        .enumerate()
        .filter(|(_, p)| selection.matches(p))
        .map(|(index, plug)| {
            let again = action == Action::Up && repair(plug);
            plan_plug(project, hooks, plug, index, action, again, broken)
        })
        .collect();
    Plan { action, plugs }
}

fn plan_plug(
    project: &Project,
    hooks: &HookIndex,
    plug: &Plug,
    index: usize,
    action: Action,
    again: bool,
    broken: &dyn Fn(&str) -> Option<String>,
) -> PlugPlan {
    let mut out = PlugPlan {
        plug: plug.to_string(),
        src_instance: plug.src_instance.clone(),
        dst_instance: plug.dst_instance.clone(),
        topic: plug.topic.clone(),
        mode: plug.mode,
        state: plug.state(),
        steps: Vec::new(),
        skip: None,
        error: None,
        changes_state: false,
        index,
    };
    let failed = plug.last_error.is_some();
    let pending = plug.pending.is_some();
    match action {
        Action::Up if plug.status == PlugStatus::Up && !failed && !pending && !again => {
            out.skip = Some("already up".into());
            return out;
        }
        Action::Down if plug.status == PlugStatus::Down && !failed && !pending => {
            out.skip = Some("already down".into());
            return out;
        }
        Action::Check if pending => {
            out.error = Some(format!(
                "a killed `{}` left it pending (its product may hold part of it): run `meshroom up` or `meshroom down` to finish it",
                if plug.pending == Some(PlugStatus::Up) {
                    "up"
                } else {
                    "down"
                }
            ));
            return out;
        }
        Action::Check if plug.status == PlugStatus::Down => {
            out.skip = Some("down in the project: nothing to check".into());
            return out;
        }
        _ => {}
    }
    let sides = match plug_sides(project, hooks, plug) {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let (src_instance, dst_instance) = match project.plug_ends(plug) {
        Ok((s, d)) => (s, d),
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    let source = (Side::Source, &sides.source, src_instance);
    let destination = (Side::Destination, &sides.destination, dst_instance);
    let setup_order = match sides.setup_by {
        Some(SetupBy::EachOwnSide) if plug.mode == Mode::Pull => vec![source, destination],
        Some(SetupBy::EachOwnSide) => vec![destination, source],
        Some(SetupBy::Source) => vec![source],
        Some(SetupBy::Destination) => vec![destination],
        None => {
            let reason =
                broken(&sides.source.product).or_else(|| broken(&sides.destination.product));
            if let Some(reason) = reason {
                out.error = Some(reason);
                return out;
            }
            if action == Action::Up {
                out.error = Some(format!(
                    "no adapter declares a setup hook for {plug}: give `{}` or `{}` a setup hook (see `meshroom list integrations {} {}`)",
                    sides.source.product,
                    sides.destination.product,
                    sides.source.product,
                    sides.destination.product
                ));
                return out;
            }
            // Tear down (or check) whatever either side declares.
            vec![source, destination]
        }
    };
    let teardown_order = || setup_order.iter().rev().cloned();
    let passes: Vec<(HookKind, bool, Vec<_>)> = match action {
        Action::Up if pending => vec![
            (HookKind::Teardown, true, teardown_order().collect()),
            (HookKind::Setup, false, setup_order.clone()),
        ],
        Action::Up => vec![(HookKind::Setup, false, setup_order.clone())],
        Action::Down => vec![(HookKind::Teardown, false, teardown_order().collect())],
        Action::Check => vec![(HookKind::Check, false, setup_order.clone())],
    };
    for (kind, recovery, order) in passes {
        for (side, integration, instance) in order {
            let declared: Vec<&DeclaredHook> = hooks.for_integration(kind, &integration.view());
            if declared.is_empty() {
                continue;
            }
            if let Some(reason) = broken(&instance.product) {
                out.error = Some(reason);
                out.steps.clear();
                return out;
            }
            for h in declared {
                out.steps.push(Step {
                    instance: instance.name.clone(),
                    product: instance.product.clone(),
                    side,
                    hook: h.id.clone(),
                    title: h.title.clone(),
                    recovery,
                    integration: integration.clone(),
                });
            }
        }
    }
    out.changes_state = action != Action::Check;
    if out.steps.is_empty() {
        out.skip = Some(match action {
            Action::Up => "no setup hook to run".into(),
            Action::Down => "no teardown hook: only the status changes".into(),
            Action::Check => "no check hook: cannot tell".into(),
        });
    }
    out
}
