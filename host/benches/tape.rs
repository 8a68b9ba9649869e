//! Record and replay costs, per hook call of one HTTP request: the
//! example adapter's produce hook against a live loopback HTTP server,
//! the same call recorded (in memory; cassettes written after), and the
//! same call answered from a cassette (read and parsed per call, no
//! socket). Needs the adapters built: `scripts/build-adapters.sh`, then
//! `cargo bench -p meshroom-host --bench tape`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/example_adapter.rs"]
mod example_adapter;

use criterion::{Criterion, criterion_group, criterion_main};
use meshroom::runtime::{CallPolicy, HookContext, InstanceRef, PlugRef, Runtime, RuntimeConfig};
use meshroom_cassette::{Deck, MatchRules};
use meshroom_tests::{HttpCollector, Reply};
use serde_json::json;

fn benches(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let adapter = tokio
        .block_on(rt.load(&example_adapter::example_http_wasm(), "example_http.wasm"))
        .unwrap();
    let server =
        HttpCollector::start_with(Reply::status(200).json(&json!({"accepted": 1}))).unwrap();
    let end = |name: &str, url: &str| InstanceRef {
        name: name.into(),
        product: "example_http".into(),
        settings: json!({ "url": url }),
    };
    let ctx = HookContext {
        instance: Some(end("src", &server.url())),
        plug: Some(PlugRef {
            src: end("src", &server.url()),
            dst: end("dst", &server.url()),
            topic: "events".into(),
            mode: meshroom::runtime::Mode::Push,
            format: None,
            is_trigger: false,
            src_config: json!({}),
            dst_config: json!({}),
            outputs: json!({}),
        }),
        ..HookContext::default()
    };
    let batch = vec![br#"{"event": "bench"}"#.to_vec()];
    let live = CallPolicy::deny_all().allow_http(&server.url());
    let produce = |policy: &CallPolicy| {
        tokio
            .block_on(adapter.produce("send_events", &ctx, &batch, policy))
            .unwrap()
    };

    let recordings = tempfile::tempdir().unwrap();
    let recorder = Deck::record(recordings.path(), true).unwrap();
    let recording = live.clone().with_tape(recorder.scoped(&["bench"]));
    // One cassette to replay from.
    let one = tempfile::tempdir().unwrap();
    let deck = Deck::record(one.path(), false).unwrap();
    produce(&live.clone().with_tape(deck.scoped(&["bench"])));
    let cassette = deck.save().unwrap().remove(0);
    let replaying = live.clone().with_tape(
        Deck::replay_one(&cassette, &MatchRules::default())
            .unwrap()
            .scoped(&["bench"]),
    );

    let mut g = c.benchmark_group("tape");
    g.sample_size(60);
    g.bench_function("produce, live loopback HTTP", |b| b.iter(|| produce(&live)));
    g.bench_function("produce, recorded (live + in-memory tape)", |b| {
        b.iter(|| produce(&recording))
    });
    g.bench_function("produce, replayed from a cassette (no socket)", |b| {
        b.iter(|| produce(&replaying))
    });
    g.finish();
    drop(server);
}

criterion_group!(tape, benches);
criterion_main!(tape);
