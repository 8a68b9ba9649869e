//! What one hook call of each real adapter costs against the real product on
//! loopback (fresh instance + the product's own API work), with the release
//! adapters and a warm compiled cache. Needs the adapters built first:
//! `scripts/build-adapters.sh`, then `cargo bench -p meshroom-tests --bench adapters_real`
//! (with medallion in `$MESHROOM_VENV`, as the tests).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use meshroom_runtime::{
    Adapter, CallPolicy, HookContext, InstanceRef, Mode, PlugRef, Runtime, RuntimeConfig,
};
use meshroom_tests::{Caddy, CrowdSec, Rsyslog, Taxii, random_uuid, workspace_root};
use serde_json::{Value, json};

fn load(rt: &Runtime, tokio: &tokio::runtime::Runtime, product: &str) -> Adapter {
    let path = workspace_root().join(format!(
        "adapters/target/wasm32-wasip2/release/{product}.wasm"
    ));
    tokio
        .block_on(rt.load_file(&path))
        .unwrap_or_else(|e| panic!("{e}; run scripts/build-adapters.sh"))
}

fn instance(product: &str, settings: Value) -> InstanceRef {
    InstanceRef {
        name: format!("{product}1"),
        product: product.into(),
        settings,
    }
}

fn ctx(instance: &InstanceRef, plug: Option<PlugRef>) -> HookContext {
    HookContext {
        instance: Some(instance.clone()),
        plug,
        integration: None,
    }
}

fn policy(url: &str, secrets: Vec<(&'static str, String)>) -> CallPolicy {
    let secrets = Arc::new(secrets);
    CallPolicy::deny_all()
        .allow_http(url)
        .with_secrets(move |n: &str| {
            secrets
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
        })
}

fn benches(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(workspace_root().join("target/meshroom-test-cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let mut g = c.benchmark_group("adapters_real");
    // Few samples: every Caddy call reloads its config, and thousands of reloads
    // in a row made its admin endpoint refuse connections now and then.
    g.sample_size(10).measurement_time(Duration::from_secs(3));

    let caddy = Caddy::start().unwrap();
    let adapter = load(&rt, &tokio, "caddy");
    let edge = instance("caddy", json!({"admin_url": caddy.admin_url()}));
    let p = policy(&caddy.admin_url(), vec![]);
    g.bench_function("caddy deny + allow (4 admin API calls)", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let ip = json!({"ip": "203.0.113.7"});
                adapter
                    .execute("deny_ip", &ctx(&edge, None), &ip, &p)
                    .await
                    .unwrap();
                adapter
                    .execute("allow_ip", &ctx(&edge, None), &ip, &p)
                    .await
                    .unwrap();
            })
        })
    });
    drop(caddy);

    let rsyslog = Rsyslog::start().unwrap();
    let adapter = load(&rt, &tokio, "rsyslog");
    let collector = instance("rsyslog", json!({"address": rsyslog.addr()}));
    let p = CallPolicy::deny_all().allow_socket(&rsyslog.addr());
    let batch: Vec<Vec<u8>> = (0..100)
        .map(|i| format!("event {i}").into_bytes())
        .collect();
    g.bench_function("rsyslog produce 100 events (RFC 5424 over TCP)", |b| {
        b.iter(|| {
            tokio
                .block_on(adapter.produce("send_events", &ctx(&collector, None), &batch, &p))
                .unwrap()
        })
    });
    drop(rsyslog);

    let cs = CrowdSec::start().unwrap();
    let adapter = load(&rt, &tokio, "crowdsec");
    let ips = instance(
        "crowdsec",
        json!({"url": cs.url(), "machine_id": cs.machine_id()}),
    );
    let p = policy(
        &cs.url(),
        vec![
            ("password", cs.password().to_string()),
            ("bouncer_key", cs.bouncer_key().to_string()),
        ],
    );
    g.bench_function("crowdsec ban (login + alert + read back)", |b| {
        b.iter(|| {
            tokio
                .block_on(adapter.execute(
                    "ban_ip",
                    &ctx(&ips, None),
                    &json!({"ip": "203.0.113.7"}),
                    &p,
                ))
                .unwrap()
        })
    });
    drop(cs);

    let taxii = Taxii::start().unwrap();
    let adapter = load(&rt, &tokio, "medallion");
    let tip = instance(
        "medallion",
        json!({"url": taxii.url(), "collection_id": taxii.collection_id(), "username": taxii.user(), "api_root": "meshroom"}),
    );
    let p = policy(
        &taxii.url(),
        vec![("password", taxii.password().to_string())],
    );
    let plug = PlugRef {
        src: instance("example_http", json!({})),
        dst: tip.clone(),
        topic: "threats".into(),
        mode: Mode::Push,
        format: Some("stix".into()),
        is_trigger: false,
        src_config: json!({}),
        dst_config: json!({}),
        outputs: json!({}),
    };
    g.bench_function("medallion produce 1 STIX indicator", |b| {
        b.iter(|| {
            let object = json!({
                "type": "indicator", "spec_version": "2.1", "id": format!("indicator--{}", random_uuid()),
                "created": "2026-11-27T21:00:00.000Z", "modified": "2026-11-27T21:00:00.000Z",
                "pattern": "[ipv4-addr:value = '203.0.113.7']", "pattern_type": "stix",
                "valid_from": "2026-11-27T21:00:00Z",
            });
            tokio
                .block_on(adapter.produce("post_bundle", &ctx(&tip, Some(plug.clone())), &[object.to_string().into_bytes()], &p))
                .unwrap()
        })
    });
    drop(taxii);
    g.finish();
}

criterion_group!(adapters, benches);
criterion_main!(adapters);
