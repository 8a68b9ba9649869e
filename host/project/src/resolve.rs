//! Plug resolution: which integrations set up a new plug, as the original
//! Meshroom decides it.
//!
//! 1. a producer/consumer pair whose integrations each set up their own side;
//! 2. the same for a trigger/executor pair;
//! 3. else one integration whose setup hook owns both sides, producers and
//!    triggers before consumers and executors;
//! 4. else a refusal listing what was found and the exact
//!    `meshroom create integration …` lines that would fix it.
//!
//! The plug's format is inherited from the most specific side (the source's,
//! else the destination's, else the one asked for).

use std::fmt;

use super::capability::{Mode, Role};
use super::hooks::{HookIndex, SetupOwnership};
use super::integration::Integration;
use super::plug::{Plug, PlugKind};
use super::project::Project;
use super::query::IntegrationFilter;

/// What the user asked for: `meshroom plug TOPIC SRC DST [-m MODE] [-f FORMAT]`.
#[derive(Debug, Clone, Default)]
pub struct PlugRequest {
    pub topic: String,
    pub src: String,
    pub dst: String,
    pub mode: Option<Mode>,
    pub format: Option<String>,
    /// Restrict who sets the plug up: an instance name (its side must own
    /// both) or `both` (each side its own). `None`: anyone.
    pub owner: Option<String>,
}

/// The integrations that will set a plug up.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The plug to write.
    pub plug: Plug,
    /// Source-side integration (producer or trigger).
    pub source: Integration,
    /// Destination-side integration (consumer or executor).
    pub destination: Integration,
    /// Which side(s) run setup: both each their own side, or one alone.
    pub setup_by: SetupBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupBy {
    EachOwnSide,
    Source,
    Destination,
}

/// Outcome of [`Project::resolve_plug`].
#[derive(Debug, Clone)]
pub enum PlugOutcome {
    /// The plug exists already (whatever its format): nothing to do.
    Exists(Box<Plug>),
    New(Box<Resolution>),
}

/// A plug that cannot be made: what was found, and how to fix it.
#[derive(Debug, Clone, thiserror::Error)]
pub struct PlugRefusal {
    pub request: PlugRequest,
    pub src_product: String,
    pub dst_product: String,
    /// Integrations found per role, with who can set them up.
    pub found: Vec<(Role, Vec<(Integration, SetupOwnership)>)>,
    /// Whether matching capabilities exist at all (only setup hooks are missing).
    pub capabilities_match: bool,
}

impl PlugRefusal {
    /// The `meshroom create integration …` lines that would make the plug possible.
    pub fn fix_commands(&self) -> Vec<String> {
        let trigger =
            self.found
                .iter()
                .any(|(r, list)| matches!(r, Role::Trigger | Role::Executor) && !list.is_empty())
                && !self.found.iter().any(|(r, list)| {
                    matches!(r, Role::Producer | Role::Consumer) && !list.is_empty()
                });
        let (src_role, dst_role) = if trigger {
            (Role::Trigger, Role::Executor)
        } else {
            (Role::Producer, Role::Consumer)
        };
        let mut flags = String::new();
        if let Some(m) = self.request.mode.filter(|m| *m == Mode::Pull) {
            flags.push_str(&format!(" --mode {m}"));
        }
        if let Some(f) = &self.request.format {
            flags.push_str(&format!(" --format {f}"));
        }
        let t = &self.request.topic;
        vec![
            format!(
                "meshroom create integration {} {} {t} {src_role}{flags}",
                self.src_product, self.dst_product
            ),
            format!(
                "meshroom create integration {} {} {t} {dst_role}{flags}",
                self.dst_product, self.src_product
            ),
        ]
    }
}

impl fmt::Display for PlugRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.request;
        let mode = r
            .mode
            .map(|m| m.to_string())
            .unwrap_or_else(|| "any".into());
        if self.capabilities_match {
            writeln!(
                f,
                "cannot plug {} ({}) --[{}]-> {} ({}) (mode {mode}): matching capabilities exist, but no pair of integrations has a setup hook on each side, and no setup hook owns both sides",
                r.src, self.src_product, r.topic, r.dst, self.dst_product
            )?;
        } else {
            writeln!(
                f,
                "cannot plug {} ({}) --[{}]-> {} ({}) (mode {mode}): no integration between these products for this topic",
                r.src, self.src_product, r.topic, r.dst, self.dst_product
            )?;
        }
        writeln!(f)?;
        for (role, list) in &self.found {
            if list.is_empty() {
                writeln!(f, "  {role}s found: none")?;
            } else {
                writeln!(f, "  {role}s found:")?;
                for (i, own) in list {
                    writeln!(f, "    {i} [{}]", own.describe())?;
                }
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "  to make it possible, create the integrations and give their adapters setup hooks:"
        )?;
        writeln!(f)?;
        for line in self.fix_commands() {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

/// Errors of resolution: an unknown name, or a refusal.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Project(#[from] super::error::ProjectError),
    #[error("{0}")]
    Refused(Box<PlugRefusal>),
}

impl Project {
    /// Decides how `request` would be plugged, without writing anything.
    pub fn resolve_plug(
        &self,
        hooks: &HookIndex,
        request: &PlugRequest,
    ) -> std::result::Result<PlugOutcome, ResolveError> {
        self.resolve(hooks, request, None)
    }

    /// The integrations that set up (and tear down) an existing plug, chosen
    /// by the same rules, restricted to the plug's kind, mode, format and owner.
    pub fn resolve_existing(
        &self,
        hooks: &HookIndex,
        plug: &Plug,
    ) -> std::result::Result<Resolution, ResolveError> {
        let request = PlugRequest {
            topic: plug.topic.clone(),
            src: plug.src_instance.clone(),
            dst: plug.dst_instance.clone(),
            mode: Some(plug.mode),
            format: plug.format.clone(),
            owner: plug.owner.clone(),
        };
        match self.resolve(hooks, &request, Some(plug))? {
            PlugOutcome::New(mut r) => {
                r.plug = plug.clone();
                Ok(*r)
            }
            PlugOutcome::Exists(_) => {
                Err(ResolveError::Project(super::error::ProjectError::Invalid(
                    format!("cannot resolve the integrations of {plug}"),
                )))
            }
        }
    }

    fn resolve(
        &self,
        hooks: &HookIndex,
        request: &PlugRequest,
        existing: Option<&Plug>,
    ) -> std::result::Result<PlugOutcome, ResolveError> {
        super::names::validate_word("topic", &request.topic)?;
        if let Some(f) = &request.format {
            super::names::validate_word("format", f)?;
        }
        let src = self.instance(&request.src, None)?;
        let dst = self.instance(&request.dst, None)?;
        if existing.is_none()
            && let Some(found) = self.find_plug(&request.topic, &src.name, &dst.name, request.mode)
        {
            return Ok(PlugOutcome::Exists(Box::new(found.clone())));
        }
        let (sp, dp) = (src.product.as_str(), dst.product.as_str());
        self.product(sp)?;
        self.product(dp)?;

        let side =
            |product: &str, target: &str, role: Role| -> Vec<(Integration, SetupOwnership)> {
                let filter = IntegrationFilter {
                    product: Some(product),
                    target: Some(target),
                    topic: Some(&request.topic),
                    role: Some(role),
                    mode: request.mode,
                    format: request.format.as_deref(),
                };
                let mut found: Vec<(Integration, SetupOwnership)> = self
                    .list_integrations(hooks, &filter)
                    .into_iter()
                    .map(|l| (l.integration.to_integration(), l.setup))
                    .collect();
                // The most specific first: integrations with a format before any-format ones.
                found.sort_by_key(|(i, _)| i.format.is_none());
                found
            };
        let (data, commands) = match existing {
            None => (true, true),
            Some(p) => (!p.is_trigger(), p.is_trigger()),
        };
        let none = Vec::new;
        let producers = if data {
            side(sp, dp, Role::Producer)
        } else {
            none()
        };
        let consumers = if data {
            side(dp, sp, Role::Consumer)
        } else {
            none()
        };
        let triggers = if commands {
            side(sp, dp, Role::Trigger)
        } else {
            none()
        };
        let executors = if commands {
            side(dp, sp, Role::Executor)
        } else {
            none()
        };

        let owner = request.owner.as_deref();
        let make = |s: &Integration, d: &Integration, setup_by: SetupBy, kind: Option<PlugKind>| {
            let plug = Plug {
                src_instance: src.name.clone(),
                dst_instance: dst.name.clone(),
                topic: request.topic.clone(),
                mode: match setup_by {
                    SetupBy::Destination => d.mode,
                    _ => s.mode,
                },
                format: s
                    .format
                    .clone()
                    .or_else(|| d.format.clone())
                    .or_else(|| request.format.clone()),
                kind,
                owner: request.owner.clone(),
                src_product: src.product.clone(),
                ..Plug::default()
            };
            PlugOutcome::New(Box::new(Resolution {
                plug,
                source: s.clone(),
                destination: d.clone(),
                setup_by,
            }))
        };

        // 1–2. pairs that each set up their own side.
        if owner.is_none_or(|o| o == "both") {
            for (sources, dests, kind) in [
                (&producers, &consumers, None),
                (&triggers, &executors, Some(PlugKind::Trigger)),
            ] {
                for (s, so) in sources {
                    for (d, dow) in dests {
                        if *so == SetupOwnership::OwnSide
                            && *dow == SetupOwnership::OwnSide
                            && s.matches(d)
                        {
                            return Ok(make(s, d, SetupBy::EachOwnSide, kind));
                        }
                    }
                }
            }
        }

        // 3. one integration that owns both sides: source side first.
        let placeholder =
            |product: &str, target: &str, role: Role, like: &Integration| Integration {
                product: product.to_string(),
                target_product: target.to_string(),
                topic: request.topic.clone(),
                role,
                mode: like.mode,
                format: like.format.clone(),
                generic: true,
                path: None,
                manifest: Default::default(),
            };
        if owner.is_none_or(|o| o == src.name) {
            for (list, kind) in [(&producers, None), (&triggers, Some(PlugKind::Trigger))] {
                let dests = if kind.is_some() {
                    &executors
                } else {
                    &consumers
                };
                for (s, so) in list {
                    if *so == SetupOwnership::Both {
                        let d = dests
                            .iter()
                            .map(|(d, _)| d)
                            .find(|d| s.matches(d))
                            .cloned()
                            .unwrap_or_else(|| placeholder(dp, sp, s.role.complement(), s));
                        return Ok(make(s, &d, SetupBy::Source, kind));
                    }
                }
            }
        }
        if owner.is_none_or(|o| o == dst.name) {
            for (list, kind) in [(&consumers, None), (&executors, Some(PlugKind::Trigger))] {
                let sources = if kind.is_some() {
                    &triggers
                } else {
                    &producers
                };
                for (d, dow) in list {
                    if *dow == SetupOwnership::Both {
                        let s = sources
                            .iter()
                            .map(|(s, _)| s)
                            .find(|s| s.matches(d))
                            .cloned()
                            .unwrap_or_else(|| placeholder(sp, dp, d.role.complement(), d));
                        return Ok(make(&s, d, SetupBy::Destination, kind));
                    }
                }
            }
        }

        // 4. refuse, saying what exists.
        let capabilities_match = producers
            .iter()
            .any(|(p, _)| consumers.iter().any(|(c, _)| p.matches(c)))
            || triggers
                .iter()
                .any(|(t, _)| executors.iter().any(|(e, _)| t.matches(e)));
        Err(ResolveError::Refused(Box::new(PlugRefusal {
            request: request.clone(),
            src_product: sp.to_string(),
            dst_product: dp.to_string(),
            found: vec![
                (Role::Producer, producers),
                (Role::Consumer, consumers),
                (Role::Trigger, triggers),
                (Role::Executor, executors),
            ],
            capabilities_match,
        })))
    }

    /// Resolves and writes a new plug; an existing one is returned unchanged.
    pub fn plug(
        &mut self,
        hooks: &HookIndex,
        request: &PlugRequest,
    ) -> std::result::Result<PlugOutcome, ResolveError> {
        let outcome = self.resolve_plug(hooks, request)?;
        if let PlugOutcome::New(resolution) = &outcome {
            self.save_plug(resolution.plug.clone())?;
        }
        Ok(outcome)
    }
}
