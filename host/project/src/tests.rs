//! Matching and resolution rules, on real project folders in temp dirs.

use std::path::Path;

use super::*;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Two products `src` and `dst` with the given definitions, one instance
/// each (`a` of src, `b` of dst).
fn project(src_def: &str, dst_def: &str) -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "products/src/definition.yaml", src_def);
    write(dir.path(), "products/dst/definition.yaml", dst_def);
    write(
        dir.path(),
        "instances/src/a/config.yaml",
        "name: a\nproduct: src\n",
    );
    write(
        dir.path(),
        "instances/dst/b/config.yaml",
        "name: b\nproduct: dst\n",
    );
    let p = Project::load(dir.path()).unwrap();
    (dir, p)
}

fn request(topic: &str) -> PlugRequest {
    PlugRequest {
        topic: topic.into(),
        src: "a".into(),
        dst: "b".into(),
        ..PlugRequest::default()
    }
}

fn new(outcome: PlugOutcome) -> Resolution {
    match outcome {
        PlugOutcome::New(r) => *r,
        PlugOutcome::Exists(p) => panic!("expected a new plug, got existing {p}"),
    }
}

fn refused(err: ResolveError) -> PlugRefusal {
    match err {
        ResolveError::Refused(r) => *r,
        other => panic!("expected a refusal, got {other}"),
    }
}

const EVENTS_PRODUCER: &str = "produces:\n  events:\n    - format: ecs\n";
const EVENTS_CONSUMER: &str = "consumes:\n  events:\n    - {}\n";

#[test]
fn generic_integrations_come_from_matching_capabilities() {
    let (_d, p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    let all = p.integrations(&HookIndex::new(), &IntegrationFilter::default());
    let listed: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        [
            "dst <-[events:push ecs]-- src (consumer)",
            "src --[events:push ecs]-> dst (producer)"
        ]
    );
    assert!(all.iter().all(|i| i.generic));
}

#[test]
fn explicit_integrations_override_generic_ones() {
    let (d, _) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    write(
        d.path(),
        "products/src/integrations/dst/events_producer.yml",
        "description: hand-written\n",
    );
    let p = Project::load(d.path()).unwrap();
    let all = p.integrations(
        &HookIndex::new(),
        &IntegrationFilter {
            product: Some("src"),
            ..Default::default()
        },
    );
    assert_eq!(all.len(), 1);
    assert!(!all[0].generic);
    assert_eq!(all[0].manifest.description, "hand-written");
}

#[test]
fn no_match_across_modes_or_formats() {
    let (_d, p) = project(
        "produces:\n  events:\n    - format: cef\n",
        "consumes:\n  events:\n    - format: ecs\n    - mode: pull\n",
    );
    assert!(
        p.integrations(&HookIndex::new(), &IntegrationFilter::default())
            .is_empty()
    );
}

#[test]
fn pairs_owning_their_side_are_plugged() {
    let (_d, mut p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    let mut hooks = HookIndex::new();
    hooks.extend([
        DeclaredHook::setup("src", Role::Producer, "events"),
        DeclaredHook::setup("dst", Role::Consumer, "events"),
    ]);
    let r = new(p.plug(&hooks, &request("events")).unwrap());
    assert_eq!(r.setup_by, SetupBy::EachOwnSide);
    assert_eq!(
        r.plug.format.as_deref(),
        Some("ecs"),
        "format inherited from the producer"
    );
    assert_eq!(r.plug.kind, None);
    // Written, reloaded, and re-plugging is a no-op.
    let again = Project::load(p.root()).unwrap();
    assert_eq!(again.plugs().len(), 1);
    assert_eq!(again.plugs()[0].to_string(), "a --[events:push]-> b (ecs)");
    assert!(matches!(
        p.plug(&hooks, &request("events")).unwrap(),
        PlugOutcome::Exists(_)
    ));
}

#[test]
fn format_comes_from_the_most_specific_side() {
    let (_d, p) = project(
        "produces:\n  events:\n    - {}\n",
        "consumes:\n  events:\n    - format: ocsf\n",
    );
    let mut hooks = HookIndex::new();
    hooks.extend([
        DeclaredHook::setup("src", Role::Producer, "events"),
        DeclaredHook::setup("dst", Role::Consumer, "events"),
    ]);
    let r = new(p.resolve_plug(&hooks, &request("events")).unwrap());
    assert_eq!(r.plug.format.as_deref(), Some("ocsf"));
}

#[test]
fn trigger_executor_pairs_are_plugged_as_triggers() {
    let (_d, p) = project(
        "triggers:\n  deny:\n    - format: ip\n",
        "executes:\n  deny:\n    - format: ip\n",
    );
    let mut hooks = HookIndex::new();
    hooks.extend([
        DeclaredHook::setup("src", Role::Trigger, "deny"),
        DeclaredHook::setup("dst", Role::Executor, "deny"),
    ]);
    let r = new(p.resolve_plug(&hooks, &request("deny")).unwrap());
    assert_eq!(r.plug.kind, Some(PlugKind::Trigger));
    assert_eq!(
        (r.source.role, r.destination.role),
        (Role::Trigger, Role::Executor)
    );
    assert_eq!(r.setup_by, SetupBy::EachOwnSide);
}

#[test]
fn own_side_pairs_win_over_owns_both() {
    let (_d, p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    let mut hooks = HookIndex::new();
    hooks.extend([
        DeclaredHook::setup("src", Role::Producer, "events"),
        DeclaredHook::setup("dst", Role::Consumer, "events"),
        DeclaredHook::setup("dst", Role::Consumer, "events")
            .with_target("src")
            .with_owns_both(),
    ]);
    // The target-specific owns_both hook overloads dst's generic one, so the
    // only pair owning their side is gone: dst owns both.
    let r = new(p.resolve_plug(&hooks, &request("events")).unwrap());
    assert_eq!(r.setup_by, SetupBy::Destination);

    let mut hooks = HookIndex::new();
    hooks.extend([
        DeclaredHook::setup("src", Role::Producer, "events"),
        DeclaredHook::setup("dst", Role::Consumer, "events"),
        DeclaredHook::setup("dst", Role::Trigger, "events").with_owns_both(),
    ]);
    let r = new(p.resolve_plug(&hooks, &request("events")).unwrap());
    assert_eq!(r.setup_by, SetupBy::EachOwnSide);
}

#[test]
fn producers_owning_both_win_over_consumers_owning_both() {
    let (_d, p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    let mut hooks = HookIndex::new();
    hooks.extend([
        DeclaredHook::setup("src", Role::Producer, "events").with_owns_both(),
        DeclaredHook::setup("dst", Role::Consumer, "events").with_owns_both(),
    ]);
    let r = new(p.resolve_plug(&hooks, &request("events")).unwrap());
    assert_eq!(r.setup_by, SetupBy::Source);
    assert_eq!(r.source.product, "src");
}

#[test]
fn one_side_owning_both_is_enough_even_without_the_other_capability() {
    // Only the consumer side exists, as an API the producer just has to call.
    let (_d, p) = project("", "consumes:\n  stuff:\n    - mode: pull\n");
    let mut hooks = HookIndex::new();
    hooks.extend([DeclaredHook::setup("dst", Role::Consumer, "stuff")
        .with_mode(Mode::Pull)
        .with_owns_both()]);
    // The hook's capability matches nothing on src: no integration exists.
    assert!(matches!(
        p.resolve_plug(&hooks, &request("stuff")),
        Err(ResolveError::Refused(_))
    ));

    // The original's fixture: the producer declares the capability, the
    // consumer's setup hook owns both.
    let (_d, p) = project(
        "produces:\n  stuff:\n    - mode: pull\n      format: json\n",
        "",
    );
    let r = new(p.resolve_plug(&hooks, &request("stuff")).unwrap());
    assert_eq!(r.setup_by, SetupBy::Destination);
    assert_eq!(r.plug.mode, Mode::Pull);
    assert_eq!(r.plug.format.as_deref(), Some("json"));
}

#[test]
fn owners_restrict_who_sets_up() {
    let (_d, p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    let mut hooks = HookIndex::new();
    hooks.extend([DeclaredHook::setup("dst", Role::Consumer, "events").with_owns_both()]);
    let mut req = request("events");
    req.owner = Some(PlugOwner::Instance("a".into()));
    assert!(p.resolve_plug(&hooks, &req).is_err());
    req.owner = Some(PlugOwner::Instance("b".into()));
    assert_eq!(
        new(p.resolve_plug(&hooks, &req).unwrap()).setup_by,
        SetupBy::Destination
    );
}

#[test]
fn refusals_list_what_was_found_and_how_to_fix_it() {
    let (_d, p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    let mut hooks = HookIndex::new();
    hooks.extend([DeclaredHook::setup("src", Role::Producer, "events")]);
    let mut req = request("events");
    req.mode = Some(Mode::Push);
    let r = refused(p.resolve_plug(&hooks, &req).unwrap_err());
    assert!(r.capabilities_match);
    let text = r.to_string();
    assert!(
        text.contains("src --[events:push ecs]-> dst (producer) [can set up self]"),
        "{text}"
    );
    assert!(
        text.contains("dst <-[events:push ecs]-- src (consumer) [no setup hook]"),
        "{text}"
    );
    assert!(
        text.contains("meshroom create integration src dst events producer\n"),
        "{text}"
    );
    assert!(
        text.contains("meshroom create integration dst src events consumer\n"),
        "{text}"
    );

    let (_d, p) = project("triggers:\n  deny:\n    - {}\n", "");
    let mut req = request("deny");
    req.mode = Some(Mode::Pull);
    req.format = Some("ip".into());
    let r = refused(p.resolve_plug(&HookIndex::new(), &req).unwrap_err());
    assert!(!r.capabilities_match);
    assert_eq!(
        r.fix_commands(),
        [
            "meshroom create integration src dst deny producer --mode pull --format ip",
            "meshroom create integration dst src deny consumer --mode pull --format ip"
        ]
    );
}

#[test]
fn unknown_instances_suggest_close_names() {
    let (_d, p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    let mut req = request("events");
    req.src = "aa".into();
    let err = p
        .resolve_plug(&HookIndex::new(), &req)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "unknown instance `aa`; did you mean `a`?");
}

#[test]
fn topic_less_hooks_match_any_topic() {
    let (_d, p) = project("", EVENTS_CONSUMER);
    let mut hooks = HookIndex::new();
    let mut any = DeclaredHook::setup("src", Role::Producer, "x");
    any.topic = None;
    hooks.extend([any, DeclaredHook::setup("dst", Role::Consumer, "events")]);
    let r = new(p.resolve_plug(&hooks, &request("events")).unwrap());
    assert_eq!(r.setup_by, SetupBy::EachOwnSide);
}

#[test]
fn unplug_removes_the_file_and_empty_folders() {
    let (_d, mut p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    let mut hooks = HookIndex::new();
    hooks.extend([DeclaredHook::setup("dst", Role::Consumer, "events").with_owns_both()]);
    p.plug(&hooks, &request("events")).unwrap();
    let plugs_dir = p.root().join("instances/src/a/plugs");
    assert!(plugs_dir.join("b/events.yaml").is_file());
    let err = p
        .remove_plug("alerts", "a", "b", None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("plugs between them: a --[events:push]-> b (ecs)"),
        "{err}"
    );
    p.remove_plug("events", "a", "b", None).unwrap();
    assert!(!plugs_dir.exists());
    assert!(Project::load(p.root()).unwrap().plugs().is_empty());
}

#[test]
fn removing_an_instance_refuses_while_its_plugs_are_up() {
    let (_d, mut p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    let mut hooks = HookIndex::new();
    hooks.extend([DeclaredHook::setup("dst", Role::Consumer, "events").with_owns_both()]);
    p.plug(&hooks, &request("events")).unwrap();
    let mut plug = p.plugs()[0].clone();
    plug.status = PlugStatus::Up;
    plug.settings.insert("id".into(), serde_json::json!(42));
    p.save_plug(plug).unwrap();
    let reloaded = Project::load(p.root()).unwrap();
    assert_eq!(reloaded.plugs()[0].settings["id"], 42);
    let err = p.remove_instance("b", None).unwrap_err().to_string();
    assert!(err.contains("meshroom down"), "{err}");
    let mut plug = p.plugs()[0].clone();
    plug.status = PlugStatus::Down;
    p.save_plug(plug).unwrap();
    p.remove_instance("b", None).unwrap();
    assert!(!p.root().join("instances/dst").exists());
    assert!(
        !p.root().join("instances/src/a/plugs").exists(),
        "plugs towards b removed"
    );
    assert!(Project::load(p.root()).unwrap().plugs().is_empty());
}

#[test]
fn malformed_files_are_named_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "products/x/definition.yaml",
        "produces:\n  events:\n    - mode: sideways\n",
    );
    let err = Project::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("products/x/definition.yaml"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("sideways"), "{err}");
}

#[test]
fn capabilities_are_added_once() {
    let (_d, mut p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    assert!(
        !p.add_capability("dst", "events", Role::Consumer, Mode::Push, Some("ecs"))
            .unwrap()
    );
    assert!(
        p.add_capability("dst", "alerts", Role::Consumer, Mode::Pull, None)
            .unwrap()
    );
    let text = std::fs::read_to_string(p.root().join("products/dst/definition.yaml")).unwrap();
    assert!(text.contains("alerts:\n  - mode: pull"), "{text}");
    assert!(
        p.add_capability("dst", "../x", Role::Consumer, Mode::Pull, None)
            .is_err()
    );
}

#[test]
fn integrations_are_written_with_the_original_names() {
    let (_d, mut p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    let (i, created) = p
        .add_integration(
            "src",
            "dst",
            "events",
            Role::Producer,
            Mode::Pull,
            Some("ecs"),
        )
        .unwrap();
    assert!(created);
    assert!(
        i.path
            .as_ref()
            .unwrap()
            .ends_with("products/src/integrations/dst/events_producer_ecs_pull.yml")
    );
    let (_, created) = p
        .add_integration(
            "src",
            "dst",
            "events",
            Role::Producer,
            Mode::Pull,
            Some("ecs"),
        )
        .unwrap();
    assert!(!created);
    let again = Project::load(p.root()).unwrap();
    assert_eq!(
        again.explicit_integrations()[0].format.as_deref(),
        Some("ecs")
    );
}

#[test]
fn existing_plugs_resolve_to_the_integrations_that_set_them_up() {
    let (_d, mut p) = project(
        "produces:\n  events:\n    - format: ecs\ntriggers:\n  events:\n    - {}\n",
        "consumes:\n  events:\n    - {}\nexecutes:\n  events:\n    - {}\n",
    );
    let mut hooks = HookIndex::new();
    hooks.extend([
        DeclaredHook::setup("src", Role::Producer, "events"),
        DeclaredHook::setup("dst", Role::Consumer, "events"),
        DeclaredHook::setup("dst", Role::Executor, "events").with_owns_both(),
    ]);
    p.plug(&hooks, &request("events")).unwrap();
    let plug = p.plugs()[0].clone();
    let r = p.resolve_existing(&hooks, &plug).unwrap();
    assert_eq!(
        (r.source.role, r.destination.role),
        (Role::Producer, Role::Consumer)
    );
    assert_eq!(r.setup_by, SetupBy::EachOwnSide);

    // A trigger plug resolves among triggers and executors only.
    let mut trigger = plug.clone();
    trigger.kind = Some(PlugKind::Trigger);
    trigger.format = None;
    let r = p.resolve_existing(&hooks, &trigger).unwrap();
    assert_eq!(r.destination.role, Role::Executor);
    assert_eq!(r.setup_by, SetupBy::Destination);

    // Hooks gone (adapter changed): a clear refusal, not a guess.
    assert!(matches!(
        p.resolve_existing(&HookIndex::new(), &plug),
        Err(ResolveError::Refused(_))
    ));
}

/// A small xorshift generator: reproducible random projects without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// The listing rules written the obvious way (every pair of products, every
/// pair of capabilities), to check the indexed listing against.
fn reference_integrations(p: &Project, hooks: &HookIndex) -> Vec<String> {
    let mut names: Vec<&str> = p.products().iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    let explicit = p.explicit_integrations();
    type Row = (String, String, String, Role, Mode, bool, Option<String>);
    let mut rows: Vec<Row> = explicit
        .iter()
        .map(|i| {
            let (p, t, topic) = (i.product.clone(), i.target_product.clone(), i.topic.clone());
            (p, t, topic, i.role, i.mode, false, i.format.clone())
        })
        .collect();
    for s in &names {
        for t in &names {
            for a in p.capabilities(s, hooks) {
                for b in p.capabilities(t, hooks) {
                    let Some(topic) = a.topic.clone().or(b.topic.clone()) else {
                        continue;
                    };
                    if !a.matches(&b) {
                        continue;
                    }
                    let format = a.format.clone().or(b.format.clone());
                    let hidden = explicit.iter().any(|i| {
                        (
                            i.product.as_str(),
                            i.target_product.as_str(),
                            i.topic.as_str(),
                        ) == (*s, *t, topic.as_str())
                            && (i.role, i.mode) == (a.role, a.mode)
                            && (i.format.is_none() || i.format == format)
                    });
                    let row = (
                        s.to_string(),
                        t.to_string(),
                        topic,
                        a.role,
                        a.mode,
                        true,
                        format,
                    );
                    if !hidden && !rows.contains(&row) {
                        rows.push(row);
                    }
                }
            }
        }
    }
    rows.sort();
    rows.into_iter()
        .map(|(p, t, topic, role, mode, generic, format)| {
            format!("{p} {t} {topic} {role} {mode} {generic} {format:?}")
        })
        .collect()
}

#[test]
fn listed_integrations_follow_the_rules_on_random_projects() {
    const TOPICS: &[&str] = &["alerts", "events", "threats"];
    const FORMATS: &[&str] = &["", "ecs", "ocsf"];
    const KEYS: &[&str] = &["produces", "consumes", "triggers", "executes"];
    let (mut generic, mut explicit) = (0, 0);
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let dir = tempfile::tempdir().unwrap();
        let products: Vec<String> = (0..5)
            .map(|i| format!("p{}", (i * 7 + seed) % 11))
            .collect();
        let mut hooks = HookIndex::new();
        for name in &products {
            let mut def = format!("name: {name}\n");
            for key in KEYS {
                if rng.below(3) == 0 {
                    continue;
                }
                def.push_str(&format!("{key}:\n"));
                for topic in TOPICS {
                    if rng.below(2) == 0 {
                        continue;
                    }
                    def.push_str(&format!("  {topic}:\n"));
                    for _ in 0..=rng.below(2) {
                        let format = rng.pick(FORMATS);
                        let mode = if rng.below(3) == 0 { "pull" } else { "push" };
                        def.push_str(&format!("    - mode: {mode}\n"));
                        if !format.is_empty() {
                            def.push_str(&format!("      format: {format}\n"));
                        }
                    }
                }
            }
            write(
                dir.path(),
                &format!("products/{name}/definition.yaml"),
                &def,
            );
            // Some generic hooks, topic-less ones included (they match any topic).
            if rng.below(2) == 0 {
                let role = Role::ALL[rng.below(4)];
                let mut h = DeclaredHook::setup(name, role, rng.pick(TOPICS));
                if rng.below(2) == 0 {
                    h.topic = None;
                }
                if rng.below(2) == 0 {
                    h = h.with_mode(Mode::Push);
                }
                hooks.extend([h]);
            }
            for _ in 0..rng.below(3) {
                let target = &products[rng.below(products.len())];
                let (topic, role) = (rng.pick(TOPICS), Role::ALL[rng.below(4)]);
                let format = rng.pick(FORMATS);
                let mut file = format!("{topic}_{role}");
                if !format.is_empty() {
                    file = format!("{file}_{format}");
                }
                if rng.below(3) == 0 {
                    file.push_str("_pull");
                }
                write(
                    dir.path(),
                    &format!("products/{name}/integrations/{target}/{file}.yml"),
                    "",
                );
            }
        }
        let p = Project::load_uncached(dir.path()).unwrap();
        let show = |i: &Integration| {
            format!(
                "{} {} {} {} {} {} {:?}",
                i.product, i.target_product, i.topic, i.role, i.mode, i.generic, i.format
            )
        };
        let all: Vec<String> = p
            .integrations(&hooks, &IntegrationFilter::default())
            .iter()
            .map(show)
            .collect();
        let expected = reference_integrations(&p, &hooks);
        assert_eq!(all, expected, "seed {seed}");
        generic += all.iter().filter(|r| r.contains(" true ")).count();
        explicit += all.iter().filter(|r| r.contains(" false ")).count();
        // A filter lists exactly the matching rows of the whole listing.
        let filter = IntegrationFilter {
            product: Some(&products[0]),
            topic: Some(rng.pick(TOPICS)),
            mode: Some(Mode::Push),
            format: Some("ecs"),
            ..IntegrationFilter::default()
        };
        let filtered: Vec<String> = p.integrations(&hooks, &filter).iter().map(show).collect();
        let expected: Vec<String> = p
            .integrations(&hooks, &IntegrationFilter::default())
            .iter()
            .filter(|i| {
                i.product == products[0]
                    && Some(i.topic.as_str()) == filter.topic
                    && i.mode == Mode::Push
                    && i.format.as_deref().is_none_or(|f| f == "ecs")
            })
            .map(show)
            .collect();
        assert_eq!(filtered, expected, "seed {seed}, filtered");
    }
    assert!(
        generic > 500 && explicit > 50,
        "{generic} generic, {explicit} explicit"
    );
}

#[test]
fn owner_both_takes_only_pairs_that_each_set_up_their_side() {
    let (_d, p) = project(EVENTS_PRODUCER, EVENTS_CONSUMER);
    let mut req = request("events");
    req.owner = Some(PlugOwner::EachOwnSide);
    let mut owns_both = HookIndex::new();
    owns_both.extend([DeclaredHook::setup("dst", Role::Consumer, "events").with_owns_both()]);
    let r = refused(p.resolve_plug(&owns_both, &req).unwrap_err());
    assert!(r.capabilities_match);
    let mut pair = HookIndex::new();
    pair.extend([
        DeclaredHook::setup("src", Role::Producer, "events"),
        DeclaredHook::setup("dst", Role::Consumer, "events"),
    ]);
    let r = new(p.resolve_plug(&pair, &req).unwrap());
    assert_eq!(r.setup_by, SetupBy::EachOwnSide);
    assert_eq!(r.plug.owner, Some(PlugOwner::EachOwnSide));
    // An instance as owner excludes pairs.
    req.owner = Some(PlugOwner::Instance("a".into()));
    assert!(matches!(
        p.resolve_plug(&pair, &req),
        Err(ResolveError::Refused(_))
    ));
}

#[test]
fn a_source_owning_both_gets_a_placeholder_destination() {
    let (d, _) = project("triggers:\n  deny:\n    - format: ip\n", "");
    write(
        d.path(),
        "products/src/integrations/dst/deny_trigger.yml",
        "description: calls the executor's API\n",
    );
    let p = Project::load(d.path()).unwrap();
    let mut hooks = HookIndex::new();
    hooks.extend([DeclaredHook::setup("src", Role::Trigger, "deny")
        .with_target("dst")
        .with_owns_both()]);
    let r = new(p.resolve_plug(&hooks, &request("deny")).unwrap());
    assert_eq!(r.setup_by, SetupBy::Source);
    assert_eq!(r.plug.kind, Some(PlugKind::Trigger));
    assert!(!r.source.generic);
    let d = &r.destination;
    assert!(d.generic && d.path.is_none(), "{d:?}");
    assert_eq!(
        (d.product.as_str(), d.target_product.as_str(), d.role),
        ("dst", "src", Role::Executor)
    );
    // The owning side is the only one allowed: owner `b` refuses it.
    let mut req = request("deny");
    req.owner = Some(PlugOwner::Instance("b".into()));
    assert!(matches!(
        p.resolve_plug(&hooks, &req),
        Err(ResolveError::Refused(_))
    ));
}

#[test]
fn existing_plugs_are_resolved_within_their_kind() {
    // Both a data pair and a command pair exist for `events`; a trigger plug
    // resolves to the command pair even though data pairs come first.
    let (_d, p) = project(
        "produces:\n  events:\n    - {}\ntriggers:\n  events:\n    - {}\n",
        "consumes:\n  events:\n    - {}\nexecutes:\n  events:\n    - {}\n",
    );
    let mut hooks = HookIndex::new();
    hooks.extend([
        DeclaredHook::setup("src", Role::Producer, "events"),
        DeclaredHook::setup("dst", Role::Consumer, "events"),
        DeclaredHook::setup("src", Role::Trigger, "events"),
        DeclaredHook::setup("dst", Role::Executor, "events"),
    ]);
    let fresh = new(p.resolve_plug(&hooks, &request("events")).unwrap());
    assert_eq!(fresh.plug.kind, None);
    let mut trigger = fresh.plug.clone();
    trigger.kind = Some(PlugKind::Trigger);
    let r = p.resolve_existing(&hooks, &trigger).unwrap();
    assert_eq!(
        (r.source.role, r.destination.role),
        (Role::Trigger, Role::Executor)
    );
    assert_eq!(r.plug, trigger);
}
