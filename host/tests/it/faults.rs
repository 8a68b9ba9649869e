//! Faults from outside (issue 15, part 4): a registry behind the harness's
//! [`FaultProxy`] answering 500, 429 with `Retry-After`, closing mid-blob,
//! serving a cut or padded manifest, answering slowly; and products that answer
//! 500, reset the connection or hang during `up`. Real `meshroom`, real
//! `docker-registry`, real example adapter; 127.0.0.1 only.

use std::path::Path;
use std::time::{Duration, Instant};

use meshroom_tests::{DockerRegistry, Fault, FaultProxy};
use sha2::Digest as _;

use crate::lifecycle::{line_of, plug_file, project};
use crate::registry_cli::{Machine, json, write_product};
use crate::support::{Api, ProductFault, adapter_wasm, fails};

/// The real example adapter, `size` bytes or more.
pub(crate) fn padded_adapter(size: usize) -> Vec<u8> {
    meshroom_tests::padded_component(std::fs::read(adapter_wasm("example_http")).unwrap(), size)
}

/// A registry, a proxy in front of it, and the product `acme_ips` (a 1 MiB
/// component) published straight to the registry; the operator pulls through
/// the proxy. Returns the reference through the proxy and the component digest.
fn published() -> (DockerRegistry, FaultProxy, Machine, String, String) {
    let registry = DockerRegistry::start().unwrap();
    let proxy = FaultProxy::start(registry.port()).unwrap();
    let vendor = Machine::new();
    write_product(&vendor.project(), "acme_ips", "faults");
    let component = padded_adapter(1 << 20);
    std::fs::write(
        vendor.project().join("products/acme_ips/adapter.wasm"),
        &component,
    )
    .unwrap();
    let direct = format!("{}/acme/ips:1.0.0", registry.addr());
    let out = json(&vendor.ok(&["--json", "publish", "acme_ips", "--to", &direct]));
    let digest = format!("sha256:{}", hex(&sha2::Sha256::digest(&component)));
    assert_eq!(out["component_digest"].as_str().unwrap(), digest);
    let through = format!("{}/acme/ips:1.0.0", proxy.addr());
    (registry, proxy, Machine::new(), through, digest)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the operator's cache holds of `digest`, and any temporary file in it.
fn cache_leftovers(operator: &Machine, digest: &str) -> Vec<String> {
    let folder = operator.root.path().join("cache/blobs/sha256");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    let hex = digest.trim_start_matches("sha256:");
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name == hex || name.starts_with(".meshroom-tmp-"))
        .collect()
}

fn nothing_installed(operator: &Machine) {
    assert!(!operator.project().join("meshroom.lock").exists());
    assert!(!operator.project().join("products/acme_ips").exists());
}

fn gets(proxy: &FaultProxy, fragment: &str) -> usize {
    proxy
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains(fragment))
        .count()
}

fn timed(operator: &Machine, args: &[&str]) -> (std::process::Output, Duration) {
    let start = Instant::now();
    let out = operator.meshroom(args, None);
    (out, start.elapsed())
}

#[test]
fn answers_500_and_429_are_retried_with_backoff_honouring_retry_after() {
    let (_registry, proxy, operator, reference, digest) = published();
    proxy.fail("/manifests/", 2, Fault::Status(500));
    proxy.fail(
        &digest,
        1,
        Fault::TooManyRequests {
            retry_after_secs: 2,
        },
    );
    proxy.fail("/blobs/", 1, Fault::Status(503));
    let (out, took) = timed(&operator, &["--json", "pull", &reference]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let pulled = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(pulled["retries"], 4, "{stderr}");
    // Each retry is said, with the URL and the answer.
    assert_eq!(stderr.matches("retry 1 of 4").count(), 3, "{stderr}");
    assert!(stderr.contains("retry 2 of 4"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "http://{}/v2/acme/ips/manifests/1.0.0",
            proxy.addr()
        )) && stderr.contains("500 Internal Server Error")
            && stderr.contains("429 Too Many Requests"),
        "{stderr}"
    );
    assert_eq!(gets(&proxy, "/manifests/"), 3);
    assert_eq!(gets(&proxy, &digest), 2);
    // Retry-After: 2 was waited for.
    assert!(took >= Duration::from_secs(2), "{took:?}");
    eprintln!("500 x2 + 429 (Retry-After 2) + 503: 4 retries, pull took {took:?}");
    assert!(
        operator
            .project()
            .join("products/acme_ips/definition.yaml")
            .is_file()
    );
}

#[test]
fn a_registry_that_keeps_failing_is_given_up_on_with_the_url() {
    let (_registry, proxy, operator, reference, _) = published();
    proxy.fail("/manifests/", usize::MAX, Fault::Status(503));
    let (out, took) = timed(&operator, &["pull", &reference]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let url = format!("http://{}/v2/acme/ips/manifests/1.0.0", proxy.addr());
    assert!(
        stderr.contains(&format!("kept failing on {url}"))
            && stderr.contains("gave up after 5 attempts")
            && stderr.contains("try again later"),
        "{stderr}"
    );
    assert_eq!(gets(&proxy, "/manifests/"), 5, "1 attempt + 4 retries");
    // 250 ms doubling, jittered up to twice as long: 3.75 s to 7.5 s of waiting.
    assert!(took >= Duration::from_millis(3750), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    eprintln!("503 always: 5 attempts, gave up after {took:?}");
    nothing_installed(&operator);
}

#[test]
fn a_blob_cut_mid_transfer_is_retried_and_never_cached_in_part() {
    let (_registry, proxy, operator, reference, digest) = published();
    // Always cut: every attempt fails, nothing of the blob stays.
    proxy.fail(&digest, usize::MAX, Fault::CloseAfter { bytes: 300_000 });
    let (out, took) = timed(&operator, &["pull", &reference]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("blobs/{digest}")) && stderr.contains("gave up after 5 attempts"),
        "{stderr}"
    );
    assert_eq!(gets(&proxy, &digest), 5);
    assert_eq!(cache_leftovers(&operator, &digest), Vec::<String>::new());
    nothing_installed(&operator);
    eprintln!("blob cut always: 5 attempts, gave up after {took:?}");

    // Cut once: the retry fetches it whole.
    proxy.heal();
    proxy.clear_requests();
    proxy.fail(&digest, 1, Fault::CloseAfter { bytes: 300_000 });
    let (out, took) = timed(&operator, &["--json", "pull", &reference]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(json(&String::from_utf8_lossy(&out.stdout))["retries"], 1);
    assert!(stderr.contains("connection lost"), "{stderr}");
    assert_eq!(
        cache_leftovers(&operator, &digest),
        vec![digest[7..].to_string()]
    );
    eprintln!("blob cut once: 1 retry, pull took {took:?}");
}

#[test]
fn a_cut_or_oversized_manifest_is_refused_and_nothing_is_written() {
    let (_registry, proxy, operator, reference, _) = published();
    proxy.fail("/manifests/", 1, Fault::Truncate { bytes: 100 });
    let err = operator.fails(&["pull", &reference]);
    assert!(
        err.contains("digest mismatch for manifest of") && err.contains("refused"),
        "{err}"
    );
    nothing_installed(&operator);

    proxy.fail("/manifests/", 1, Fault::Pad { extra: 5 << 20 });
    let err = operator.fails(&["pull", &reference]);
    assert!(
        err.contains("is over the 4194304-byte limit") && err.contains("a few KiB"),
        "{err}"
    );
    nothing_installed(&operator);
    assert_eq!(
        gets(&proxy, "/manifests/"),
        2,
        "neither is retried: another try would get the same"
    );
}

#[test]
fn a_slow_registry_is_waited_for_not_retried() {
    let (_registry, proxy, operator, reference, digest) = published();
    proxy.fail("/manifests/", 1, Fault::Delay(Duration::from_millis(1500)));
    proxy.fail(&digest, 1, Fault::Delay(Duration::from_millis(1500)));
    let (out, took) = timed(&operator, &["--json", "pull", &reference]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&String::from_utf8_lossy(&out.stdout))["retries"], 0);
    assert!(took >= Duration::from_secs(3), "{took:?}");
    eprintln!("two answers 1.5 s late: 0 retries, pull took {took:?}");
}

/// `up` on three plugs whose middle product misbehaves: the two others come up and
/// stay recorded, the broken one is marked failed, its hook called once (never retried).
fn up_with_one_broken_product(fault: ProductFault, hook_timeout: &str) -> Duration {
    let (good1, broken, good2) = (Api::start(), Api::start(), Api::start());
    broken.state.lock().unwrap().fault = Some(fault);
    let dir = project(&[
        ("siem1", &good1.url()),
        ("siem2", &broken.url()),
        ("siem3", &good2.url()),
    ]);
    let root = dir.path();
    let start = Instant::now();
    let (out, text) = fails(root, &["up", "-j", "4", "--hook-timeout", hook_timeout]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{fault:?}: {text}");
    assert!(
        line_of(&text, "siem2").starts_with("FAILED"),
        "{fault:?}: {text}"
    );
    assert!(text.contains("1 of 3 plugs"), "{fault:?}: {text}");
    for (dst, api) in [("siem1", &good1), ("siem3", &good2)] {
        let plug = plug_file(root, dst);
        assert!(
            plug.contains("status: up") && plug.contains("webhook_id"),
            "{fault:?}: {plug}"
        );
        assert_eq!(api.state.lock().unwrap().webhooks.len(), 1);
    }
    let failed = plug_file(root, "siem2");
    assert!(
        failed.contains("last_error:") && !failed.contains("status: up"),
        "{fault:?}: {failed}"
    );
    let posts = broken
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(
        posts, 1,
        "{fault:?}: a hook call is not retried by the host"
    );
    assert!(
        no_temporaries(root),
        "{fault:?}: temporary files left in the project"
    );
    took
}

fn no_temporaries(root: &Path) -> bool {
    crate::support::walk(root).iter().all(|p| {
        !p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".meshroom-tmp-"))
    })
}

#[test]
fn a_product_answering_500_or_resetting_fails_its_plug_only() {
    for fault in [ProductFault::ServerError, ProductFault::Reset] {
        let took = up_with_one_broken_product(fault, "60s");
        assert!(took < Duration::from_secs(30), "{fault:?}: {took:?}");
        eprintln!("product {fault:?}: up failed its plug in {took:?}");
    }
}

#[test]
fn a_hung_product_is_bounded_by_the_hook_wall_clock_limit() {
    let took = up_with_one_broken_product(ProductFault::Hang, "3s");
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    eprintln!("product Hang, --hook-timeout 3s: up failed its plug in {took:?}");
}
