//! Which hook `produce`, `watch`, `trigger` and `execute` call: the most
//! specific hook of the right kind, looked for on the plug's sides in the
//! order the command prefers (as the original Meshroom, where the consumer
//! of a plug may emulate its producer).
//!
//! | command | on a plug: first | then | on an instance alone |
//! |---|---|---|---|
//! | produce | producer (src) | consumer (dst) | producer, then consumer hooks |
//! | watch   | consumer (dst) | producer (src) | consumer, then producer hooks |
//! | trigger | trigger (src)  | executor (dst) | trigger, then executor hooks |
//! | execute | executor (dst) | trigger (src)  | executor, then trigger hooks |
//!
//! A hook matches when each scope it sets (topic, role, mode, format,
//! target product) equals the wanted one; among matches, one naming the
//! other end's product beats a generic one, then a set topic, role, mode
//! and format, each beating an unset one; ties go to the first declared.
//! On an instance alone only generic hooks (no target product) count.
//!
//! [`prepare`] loads the adapters, picks the hook and builds its context
//! and policy. On a plug the policy allows the hosts of both ends' `egress:`
//! (the plug is what connects them: a producer's hook sends to the
//! consumer's address); secrets stay those of the side whose hook runs.

use std::fmt;

use anyhow::Context as _;

use super::Session;
use crate::project::{Mode, Project, Role};
use crate::runtime::{self, Adapter, CallPolicy, HookContext, HookInfo, HookKind, RuntimeConfig};

/// A command that exercises a plug or an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exercise {
    /// `meshroom produce`.
    Produce,
    /// `meshroom watch`.
    Watch,
    /// `meshroom trigger`.
    Trigger,
    /// `meshroom execute`.
    Execute,
}

impl Exercise {
    /// The hook kind the command calls.
    pub fn kind(self) -> HookKind {
        match self {
            Exercise::Produce => HookKind::Produce,
            Exercise::Watch => HookKind::Watch,
            Exercise::Trigger => HookKind::Trigger,
            Exercise::Execute => HookKind::Execute,
        }
    }

    /// The sides looked at, in order of preference.
    pub fn preference(self) -> [(End, Role); 2] {
        match self {
            Exercise::Produce => [(End::Src, Role::Producer), (End::Dst, Role::Consumer)],
            Exercise::Watch => [(End::Dst, Role::Consumer), (End::Src, Role::Producer)],
            Exercise::Trigger => [(End::Src, Role::Trigger), (End::Dst, Role::Executor)],
            Exercise::Execute => [(End::Dst, Role::Executor), (End::Src, Role::Trigger)],
        }
    }
}

impl fmt::Display for Exercise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind().as_str())
    }
}

/// An end of a plug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum End {
    /// The producer (or trigger) instance.
    Src,
    /// The consumer (or executor) instance.
    Dst,
}

/// What a hook must serve.
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    /// The hook kind.
    pub kind: HookKind,
    /// The topic.
    pub topic: &'a str,
    /// The side's role.
    pub role: Role,
    /// The mode; `None`: any.
    pub mode: Option<Mode>,
    /// The format; `None`: any.
    pub format: Option<&'a str>,
    /// The product at the other end; `None`: only generic hooks.
    pub target_product: Option<&'a str>,
}

fn role_of(r: runtime::Role) -> Role {
    match r {
        runtime::Role::Producer => Role::Producer,
        runtime::Role::Consumer => Role::Consumer,
        runtime::Role::Trigger => Role::Trigger,
        runtime::Role::Executor => Role::Executor,
    }
}

fn mode_of(m: runtime::Mode) -> Mode {
    match m {
        runtime::Mode::Push => Mode::Push,
        runtime::Mode::Pull => Mode::Pull,
    }
}

/// The specificity of `hook` for `want`, or `None` when it does not match.
fn score(hook: &HookInfo, want: &Want<'_>) -> Option<[bool; 5]> {
    if hook.kind != want.kind {
        return None;
    }
    let target_ok = match (&hook.target_product, want.target_product) {
        (None, _) => true,
        (Some(t), Some(w)) => t == w,
        (Some(_), None) => false,
    };
    let ok = target_ok
        && hook.topic.as_deref().is_none_or(|t| t == want.topic)
        && hook.role.is_none_or(|r| role_of(r) == want.role)
        && hook
            .mode
            .is_none_or(|m| want.mode.is_none_or(|w| mode_of(m) == w))
        && hook
            .format
            .as_deref()
            .is_none_or(|f| want.format.is_none_or(|w| f == w));
    ok.then_some([
        hook.target_product.is_some(),
        hook.topic.is_some(),
        hook.role.is_some(),
        hook.mode.is_some(),
        hook.format.is_some(),
    ])
}

/// The most specific hook of `hooks` for `want` (first declared on ties).
pub fn most_specific<'h>(hooks: &'h [HookInfo], want: &Want<'_>) -> Option<&'h HookInfo> {
    let mut best: Option<(&HookInfo, [bool; 5])> = None;
    for h in hooks {
        if let Some(s) = score(h, want).filter(|s| best.is_none_or(|(_, b)| *s > b)) {
            best = Some((h, s));
        }
    }
    best.map(|(h, _)| h)
}

/// One side of what is exercised, as the selection sees it.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// The side's product.
    pub product: &'a str,
    /// Its adapter's hooks (empty without an adapter).
    pub hooks: &'a [HookInfo],
}

/// The hook chosen, and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The plug end whose adapter runs (`None` on an instance alone).
    pub end: Option<End>,
    /// The role it serves.
    pub role: Role,
    /// The hook.
    pub hook: HookInfo,
}

/// No hook can serve the command; the message says what was looked for.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NoHook(pub String);

/// The hook to call on a plug `src --[topic:mode]-> dst`.
pub fn choose_for_plug(
    exercise: Exercise,
    src: Side<'_>,
    dst: Side<'_>,
    topic: &str,
    mode: Mode,
    format: Option<&str>,
    plug: &str,
) -> Result<Choice, NoHook> {
    let kind = exercise.kind();
    let mut looked = Vec::new();
    for (end, role) in exercise.preference() {
        let (side, other) = match end {
            End::Src => (src, dst),
            End::Dst => (dst, src),
        };
        let want = Want {
            kind,
            topic,
            role,
            mode: Some(mode),
            format,
            target_product: Some(other.product),
        };
        if let Some(h) = most_specific(side.hooks, &want) {
            return Ok(Choice {
                end: Some(end),
                role,
                hook: h.clone(),
            });
        }
        looked.push(format!("`{}` ({role} side)", side.product));
    }
    Err(NoHook(format!(
        "no {kind} hook for plug {plug}: neither {} declares a {kind} hook for topic `{topic}` in {mode} mode{}; {}",
        looked.join(" nor "),
        format
            .map(|f| format!(" and format `{f}`"))
            .unwrap_or_default(),
        declared(kind, &[src, dst]),
    )))
}

/// The hook to call on an instance alone (generic hooks only).
pub fn choose_for_instance(
    exercise: Exercise,
    side: Side<'_>,
    instance: &str,
    topic: &str,
    mode: Option<Mode>,
) -> Result<Choice, NoHook> {
    let kind = exercise.kind();
    for (_, role) in exercise.preference() {
        let want = Want {
            kind,
            topic,
            role,
            mode,
            format: None,
            target_product: None,
        };
        if let Some(h) = most_specific(side.hooks, &want) {
            return Ok(Choice {
                end: None,
                role,
                hook: h.clone(),
            });
        }
    }
    Err(NoHook(format!(
        "no {kind} hook for instance `{instance}`: product `{}` declares no generic {kind} hook for topic `{topic}`{}; {}",
        side.product,
        mode.map(|m| format!(" in {m} mode")).unwrap_or_default(),
        declared(kind, &[side]),
    )))
}

/// "declared produce hooks: a: x (topic t, producer)…" or why there are none.
fn declared(kind: HookKind, sides: &[Side<'_>]) -> String {
    let mut parts = Vec::new();
    for s in sides {
        for h in s.hooks.iter().filter(|h| h.kind == kind) {
            let mut scope = Vec::new();
            if let Some(t) = &h.topic {
                scope.push(format!("topic {t}"));
            }
            if let Some(r) = h.role {
                scope.push(role_of(r).to_string());
            }
            if let Some(m) = h.mode {
                scope.push(format!("{} mode", mode_of(m)));
            }
            if let Some(f) = &h.format {
                scope.push(format!("format {f}"));
            }
            if let Some(t) = &h.target_product {
                scope.push(format!("towards {t}"));
            }
            parts.push(format!("{}: `{}` ({})", s.product, h.id, scope.join(", ")));
        }
    }
    if parts.is_empty() {
        format!("no {kind} hook is declared by these products' adapters")
    } else {
        format!("declared {kind} hooks: {}", parts.join("; "))
    }
}

/// A hook ready to call: its adapter, context and policy.
pub struct Prepared {
    /// The loaded adapters (kept alive for the call).
    pub engine: Session,
    /// The adapter whose hook runs.
    pub adapter: Adapter,
    /// The hook and its side.
    pub choice: Choice,
    /// The context passed to the hook.
    pub context: HookContext,
    /// The sandbox policy of the call.
    pub policy: CallPolicy,
    /// What is exercised, for messages (`plug a --[events:push]-> b`).
    pub what: String,
}

/// Finds the instance (and the plug to `dst`), loads the adapters, picks
/// the hook for `exercise` and builds its context and policy.
pub async fn prepare(
    project: &Project,
    exercise: Exercise,
    topic: &str,
    instance: &str,
    dst: Option<&str>,
    mode: Option<Mode>,
    tape: Option<meshroom_cassette::Deck>,
) -> anyhow::Result<Prepared> {
    let src = project.instance(instance, None)?;
    let plug = match dst {
        Some(dst) => {
            let dst_instance = project.instance(dst, None)?;
            let plug = project.find_plug(topic, &src.name, &dst_instance.name, mode).ok_or_else(|| {
                anyhow::anyhow!(
                    "there is no plug {} --[{topic}{}]-> {}; create it with `meshroom plug {topic} {} {}`",
                    src.name,
                    mode.map(|m| format!(":{m}")).unwrap_or_default(),
                    dst_instance.name,
                    src.name,
                    dst_instance.name
                )
            })?;
            Some(plug)
        }
        None => None,
    };
    let engine = Session::start(project, RuntimeConfig::default())
        .await?
        .with_tape(tape);
    let hooks_of = |product: &str| -> anyhow::Result<Vec<HookInfo>> {
        Ok(engine
            .adapter(product)?
            .map(|a| a.info().hooks.clone())
            .unwrap_or_default())
    };
    let (choice, runs_on, what) = match plug {
        Some(plug) => {
            let (s, d) = project.plug_ends(plug)?;
            let (sh, dh) = (hooks_of(&s.product)?, hooks_of(&d.product)?);
            let choice = choose_for_plug(
                exercise,
                Side {
                    product: &s.product,
                    hooks: &sh,
                },
                Side {
                    product: &d.product,
                    hooks: &dh,
                },
                &plug.topic,
                plug.mode,
                plug.format.as_deref(),
                &plug.to_string(),
            )?;
            let runs_on = if choice.end == Some(End::Dst) { d } else { s };
            (choice, runs_on, format!("plug {plug}"))
        }
        None => {
            let hooks = hooks_of(&src.product)?;
            let side = Side {
                product: &src.product,
                hooks: &hooks,
            };
            let choice = choose_for_instance(exercise, side, &src.name, topic, mode)?;
            (choice, src, format!("instance `{}`", src.name))
        }
    };
    let adapter = engine
        .adapter(&runs_on.product)?
        .cloned()
        .with_context(|| format!("product `{}` has no adapter", runs_on.product))?;
    let context = engine.context(project, runs_on, plug, None)?;
    let mut policy = engine.policy(project, runs_on, plug)?;
    if let Some(plug) = plug {
        let (s, d) = project.plug_ends(plug)?;
        let peer = if runs_on.name == s.name && runs_on.product == s.product {
            d
        } else {
            s
        };
        let product = project.product(&peer.product)?;
        let settings = peer.effective_settings(&product.definition);
        let egress = super::egress_of(product, peer, &settings)?;
        policy.http.extend(egress.http);
        policy.sockets.extend(egress.sockets);
    }
    Ok(Prepared {
        engine,
        adapter,
        choice,
        context,
        policy,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(id: &str, kind: HookKind) -> HookInfo {
        HookInfo {
            id: id.into(),
            kind,
            role: None,
            topic: None,
            mode: None,
            format: None,
            target_product: None,
            owns_both: false,
            keep_when_overloaded: false,
            order: None,
            title: id.into(),
        }
    }

    fn with(mut h: HookInfo, f: impl FnOnce(&mut HookInfo)) -> HookInfo {
        f(&mut h);
        h
    }

    #[test]
    fn producer_side_first_then_consumer_emulates() {
        let src = vec![with(hook("p", HookKind::Produce), |h| {
            h.role = Some(runtime::Role::Producer);
            h.topic = Some("events".into());
        })];
        let dst = vec![with(hook("c", HookKind::Produce), |h| {
            h.role = Some(runtime::Role::Consumer);
        })];
        let s = |hooks| Side {
            product: "a",
            hooks,
        };
        let c = choose_for_plug(
            Exercise::Produce,
            s(&src),
            s(&dst),
            "events",
            Mode::Push,
            None,
            "x",
        )
        .unwrap();
        assert_eq!((c.end, c.hook.id.as_str()), (Some(End::Src), "p"));
        // Another topic: the producer's hook does not apply; the consumer's generic one does.
        let c = choose_for_plug(
            Exercise::Produce,
            s(&src),
            s(&dst),
            "alerts",
            Mode::Push,
            None,
            "x",
        )
        .unwrap();
        assert_eq!((c.end, c.hook.id.as_str()), (Some(End::Dst), "c"));
        // Watch prefers the consumer side; the producer hook has the wrong kind.
        let err = choose_for_plug(
            Exercise::Watch,
            s(&src),
            s(&dst),
            "events",
            Mode::Push,
            None,
            "x",
        )
        .unwrap_err();
        assert!(err.0.contains("no watch hook"), "{err}");
    }

    #[test]
    fn most_specific_wins_and_target_hooks_need_that_target() {
        let hooks = vec![
            hook("generic", HookKind::Trigger),
            with(hook("topic", HookKind::Trigger), |h| {
                h.topic = Some("block".into())
            }),
            with(hook("for_b", HookKind::Trigger), |h| {
                h.topic = Some("block".into());
                h.target_product = Some("b".into());
            }),
            with(hook("pull_only", HookKind::Trigger), |h| {
                h.topic = Some("block".into());
                h.role = Some(runtime::Role::Trigger);
                h.mode = Some(runtime::Mode::Pull);
            }),
        ];
        let want = |target, mode| Want {
            kind: HookKind::Trigger,
            topic: "block",
            role: Role::Trigger,
            mode,
            format: None,
            target_product: target,
        };
        let id = |w| most_specific(&hooks, &w).map(|h| h.id.clone());
        assert_eq!(
            id(want(Some("b"), Some(Mode::Push))).as_deref(),
            Some("for_b")
        );
        assert_eq!(
            id(want(Some("c"), Some(Mode::Push))).as_deref(),
            Some("topic")
        );
        assert_eq!(
            id(want(None, Some(Mode::Pull))).as_deref(),
            Some("pull_only")
        );
        let other_topic = Want {
            topic: "other",
            ..want(None, None)
        };
        assert_eq!(id(other_topic).as_deref(), Some("generic"));
    }

    #[test]
    fn instance_alone_uses_generic_hooks_in_role_preference() {
        let hooks = vec![
            with(hook("exec", HookKind::Execute), |h| {
                h.role = Some(runtime::Role::Trigger)
            }),
            with(hook("exec_b", HookKind::Execute), |h| {
                h.role = Some(runtime::Role::Executor);
                h.target_product = Some("b".into());
            }),
        ];
        let side = Side {
            product: "a",
            hooks: &hooks,
        };
        let c = choose_for_instance(Exercise::Execute, side, "a1", "t", None).unwrap();
        assert_eq!((c.role, c.hook.id.as_str()), (Role::Trigger, "exec"));
        let err = choose_for_instance(Exercise::Watch, side, "a1", "t", None).unwrap_err();
        assert!(err.0.contains("declares no generic watch hook"), "{err}");
    }
}
