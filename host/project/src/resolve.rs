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
//!
//! Each rule is one function over the integrations found for the plug's
//! roles (`Candidates`); a plug's `owner` ([`PlugOwner`]) only filters which
//! rules may answer. This module decides; it must not write anything but
//! the plug file of [`Project::plug`].

use std::fmt;

use super::capability::{Mode, Role};
use super::hooks::{HookIndex, SetupOwnership};
use super::integration::Integration;
use super::plug::{Plug, PlugKind, PlugOwner};
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
    /// Restrict who sets the plug up: an instance (its side must own both)
    /// or each side its own. `None`: anyone.
    pub owner: Option<PlugOwner>,
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
        self.resolve_between(
            hooks,
            request,
            (&src.name, &src.product),
            (&dst.name, &dst.product),
            existing,
        )
    }

    /// Whether an instance of `src_product` could be plugged into one of
    /// `dst_product` for `request`'s topic, mode and format (its `src` and
    /// `dst` are ignored): the resolution `plug` would choose, or its
    /// refusal, the instances named after their products. For front ends
    /// showing products before any instance exists.
    pub fn resolve_products(
        &self,
        hooks: &HookIndex,
        src_product: &str,
        dst_product: &str,
        request: &PlugRequest,
    ) -> std::result::Result<Resolution, ResolveError> {
        super::names::validate_word("topic", &request.topic)?;
        let request = PlugRequest {
            src: src_product.to_string(),
            dst: dst_product.to_string(),
            ..request.clone()
        };
        match self.resolve_between(
            hooks,
            &request,
            (src_product, src_product),
            (dst_product, dst_product),
            None,
        )? {
            PlugOutcome::New(r) => Ok(*r),
            PlugOutcome::Exists(_) => Err(ResolveError::Project(
                super::error::ProjectError::Invalid("unexpected existing plug".into()),
            )),
        }
    }

    /// Rules 1–4 for a plug from instance `src` to instance `dst`, each
    /// given as (instance name, product name).
    fn resolve_between(
        &self,
        hooks: &HookIndex,
        request: &PlugRequest,
        (src_name, src_product): (&str, &str),
        (dst_name, dst_product): (&str, &str),
        existing: Option<&Plug>,
    ) -> std::result::Result<PlugOutcome, ResolveError> {
        self.product(src_product)?;
        self.product(dst_product)?;
        // An existing plug keeps its kind: only its pair of roles is searched.
        let (data, commands) = match existing {
            None => (true, true),
            Some(p) => (!p.is_trigger(), p.is_trigger()),
        };
        let candidates = Candidates::gather(
            self,
            hooks,
            request,
            (src_product, dst_product),
            (data, commands),
        );
        let owner = request.owner.as_ref();
        // Rules 1–3, in order, each allowed only if the owner permits who it chooses.
        let rules = [
            (
                SetupBy::EachOwnSide,
                Candidates::each_own_side as fn(&_) -> _,
            ),
            (SetupBy::Source, Candidates::source_owns_both),
            (SetupBy::Destination, Candidates::destination_owns_both),
        ];
        for (setup_by, rule) in rules {
            if PlugOwner::permits_opt(owner, setup_by, src_name, dst_name)
                && let Some(choice) = rule(&candidates)
            {
                let plug = choice.plug(request, src_name, dst_name, src_product);
                return Ok(PlugOutcome::New(Box::new(Resolution {
                    plug,
                    source: choice.source,
                    destination: choice.destination,
                    setup_by: choice.setup_by,
                })));
            }
        }
        Err(ResolveError::Refused(Box::new(candidates.refusal(request))))
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

/// An integration found for one side, with who can set it up.
type Found = (Integration, SetupOwnership);

/// The integrations that could serve each role of a requested plug, the
/// most specific (with a format) first.
struct Candidates<'a> {
    topic: &'a str,
    src_product: &'a str,
    dst_product: &'a str,
    producers: Vec<Found>,
    consumers: Vec<Found>,
    triggers: Vec<Found>,
    executors: Vec<Found>,
}

/// What a rule chose: the two integrations, who sets up, the plug's kind.
struct Choice {
    source: Integration,
    destination: Integration,
    setup_by: SetupBy,
    kind: Option<PlugKind>,
}

impl<'a> Candidates<'a> {
    /// Lists the integrations of both products for `request`: data roles
    /// when `data`, command roles when `commands`.
    fn gather(
        project: &Project,
        hooks: &HookIndex,
        request: &'a PlugRequest,
        (src_product, dst_product): (&'a str, &'a str),
        (data, commands): (bool, bool),
    ) -> Self {
        let side = |wanted: bool, product: &str, target: &str, role: Role| -> Vec<Found> {
            if !wanted {
                return Vec::new();
            }
            let filter = IntegrationFilter {
                product: Some(product),
                target: Some(target),
                topic: Some(&request.topic),
                role: Some(role),
                mode: request.mode,
                format: request.format.as_deref(),
            };
            let mut found: Vec<Found> = project
                .list_integrations(hooks, &filter)
                .into_iter()
                .map(|l| (l.integration.to_integration(), l.setup))
                .collect();
            // The most specific first: integrations with a format before any-format ones.
            found.sort_by_key(|(i, _)| i.format.is_none());
            found
        };
        Candidates {
            topic: &request.topic,
            src_product,
            dst_product,
            producers: side(data, src_product, dst_product, Role::Producer),
            consumers: side(data, dst_product, src_product, Role::Consumer),
            triggers: side(commands, src_product, dst_product, Role::Trigger),
            executors: side(commands, dst_product, src_product, Role::Executor),
        }
    }

    /// The (sources, destinations, plug kind) of each kind of plug, data first.
    fn pairs(&self) -> [(&[Found], &[Found], Option<PlugKind>); 2] {
        [
            (&self.producers, &self.consumers, None),
            (&self.triggers, &self.executors, Some(PlugKind::Trigger)),
        ]
    }

    /// Rules 1–2: a matching pair whose integrations each set up their own side.
    fn each_own_side(&self) -> Option<Choice> {
        self.pairs().into_iter().find_map(|(sources, dests, kind)| {
            fn own(list: &[Found]) -> Vec<&Integration> {
                list.iter()
                    .filter(|(_, o)| *o == SetupOwnership::OwnSide)
                    .map(|(i, _)| i)
                    .collect()
            }
            let dests = own(dests);
            own(sources).into_iter().find_map(|s| {
                dests.iter().find(|d| s.matches(d)).map(|d| Choice {
                    source: s.clone(),
                    destination: (*d).clone(),
                    setup_by: SetupBy::EachOwnSide,
                    kind,
                })
            })
        })
    }

    /// Rule 3, source first: a producer (else a trigger) owning both sides;
    /// the other side is the matching integration, or a generic placeholder.
    fn source_owns_both(&self) -> Option<Choice> {
        self.pairs().into_iter().find_map(|(sources, dests, kind)| {
            let (s, _) = sources.iter().find(|(_, o)| *o == SetupOwnership::Both)?;
            let destination = dests
                .iter()
                .map(|(d, _)| d)
                .find(|d| s.matches(d))
                .cloned()
                .unwrap_or_else(|| self.placeholder(self.dst_product, self.src_product, s));
            Some(Choice {
                source: s.clone(),
                destination,
                setup_by: SetupBy::Source,
                kind,
            })
        })
    }

    /// Rule 3, destination next: a consumer (else an executor) owning both.
    fn destination_owns_both(&self) -> Option<Choice> {
        self.pairs().into_iter().find_map(|(sources, dests, kind)| {
            let (d, _) = dests.iter().find(|(_, o)| *o == SetupOwnership::Both)?;
            let source = sources
                .iter()
                .map(|(s, _)| s)
                .find(|s| s.matches(d))
                .cloned()
                .unwrap_or_else(|| self.placeholder(self.src_product, self.dst_product, d));
            Some(Choice {
                source,
                destination: d.clone(),
                setup_by: SetupBy::Destination,
                kind,
            })
        })
    }

    /// The generic integration of `product` towards `target` complementing `like`.
    fn placeholder(&self, product: &str, target: &str, like: &Integration) -> Integration {
        Integration {
            product: product.to_string(),
            target_product: target.to_string(),
            topic: self.topic.to_string(),
            role: like.role.complement(),
            mode: like.mode,
            format: like.format.clone(),
            generic: true,
            path: None,
            manifest: Default::default(),
        }
    }

    /// Rule 4: refuse, saying what exists.
    fn refusal(self, request: &PlugRequest) -> PlugRefusal {
        let capabilities_match = self.pairs().into_iter().any(|(sources, dests, _)| {
            sources
                .iter()
                .any(|(s, _)| dests.iter().any(|(d, _)| s.matches(d)))
        });
        PlugRefusal {
            request: request.clone(),
            src_product: self.src_product.to_string(),
            dst_product: self.dst_product.to_string(),
            found: vec![
                (Role::Producer, self.producers),
                (Role::Consumer, self.consumers),
                (Role::Trigger, self.triggers),
                (Role::Executor, self.executors),
            ],
            capabilities_match,
        }
    }
}

impl Choice {
    /// The plug to write: mode from the side that sets up (the source's
    /// when each sets up its own), format from the most specific side.
    fn plug(&self, request: &PlugRequest, src: &str, dst: &str, src_product: &str) -> Plug {
        let (s, d) = (&self.source, &self.destination);
        Plug {
            src_instance: src.to_string(),
            dst_instance: dst.to_string(),
            topic: request.topic.clone(),
            mode: match self.setup_by {
                SetupBy::Destination => d.mode,
                _ => s.mode,
            },
            format: s
                .format
                .clone()
                .or_else(|| d.format.clone())
                .or_else(|| request.format.clone()),
            kind: self.kind,
            owner: request.owner.clone(),
            src_product: src_product.to_string(),
            ..Plug::default()
        }
    }
}
