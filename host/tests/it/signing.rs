//! Signed adapters and the trust policy, with the real binary against a real
//! registry (Debian `docker-registry`) and an image-layout folder: `keys`,
//! `publish --sign`, `sign`, `verify`, `pull` and `up` under `trust.yaml`.
//! Interoperability is checked with an independent cosign signer and verifier
//! written from the specification in Python `cryptography`
//! (`fixtures/cosign_spec.py`) and with `skopeo`.

use std::path::{Path, PathBuf};
use std::process::Command;

use meshroom_tests::DockerRegistry;

use crate::registry_cli::{Machine, PASSPHRASE, events_api, json, write_product};
use crate::support;

/// The venv `scripts/setup.sh` makes, with `cryptography`.
fn python() -> PathBuf {
    let python = meshroom_tests::workspace_root().join("target/venv/bin/python");
    assert!(
        python.exists(),
        "`{}` is missing: run `bash scripts/setup.sh` (it installs cryptography there)",
        python.display()
    );
    python
}

/// Runs the independent cosign implementation; its stdout, trimmed, or `Err(stderr)`.
fn spec(args: &[&str]) -> Result<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/cosign_spec.py");
    let out = Command::new(python())
        .arg(script)
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn keys_dir(machine: &Machine) -> PathBuf {
    machine.root.path().join("home/.config/meshroom/keys")
}

/// Writes the operator's `trust.yaml`: `keys` copied into the project's `keys/`,
/// and the rules given (YAML list items).
fn trust(machine: &Machine, keys: &[(&str, &Path)], rules: &str) {
    let project = machine.project();
    std::fs::create_dir_all(project.join("keys")).unwrap();
    let mut text = String::from("keys:\n");
    for (name, path) in keys {
        std::fs::copy(path, project.join(format!("keys/{name}.pub"))).unwrap();
        text.push_str(&format!("  {name}: keys/{name}.pub\n"));
    }
    text.push_str("rules:\n");
    text.push_str(rules);
    std::fs::write(project.join("trust.yaml"), text).unwrap();
}

/// A product with the real example adapter (its hooks call an HTTP API).
fn write_example_http(project: &Path) {
    let product = project.join("products/example_http");
    std::fs::create_dir_all(&product).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::copy(
        root.join("adapters/example-http/definition.yaml"),
        product.join("definition.yaml"),
    )
    .unwrap();
    std::fs::copy(
        support::adapter_wasm("example_http"),
        product.join("example_http.wasm"),
    )
    .unwrap();
}

fn requests_matching(registry: &DockerRegistry, what: &str) -> usize {
    registry
        .requests()
        .unwrap()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains(what))
        .count()
}

/// The whole path: an encrypted vendor key, `publish --sign`, what skopeo and the
/// independent verifier see, the default policy of `init` refusing it, a policy
/// naming the vendor's key accepting it (one extra manifest and one blob), the
/// lockfile recording the key, `up` and `down` from the lock with the registry
/// stopped (zero requests), and `up` refusing once the key leaves the policy.
#[test]
fn a_signed_adapter_is_verified_on_pull_and_up_runs_from_the_lock_without_the_registry() {
    let mut registry = DockerRegistry::start().unwrap();
    let (vendor, operator) = (Machine::new(), Machine::new());
    write_example_http(&vendor.project());
    let with_pw = [("MESHROOM_KEY_PASSPHRASE", "vendor pass phrase")];
    let made = vendor.meshroom_env(&["--json", "keys", "generate", "acme"], None, &with_pw);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let made = json(&String::from_utf8(made.stdout).unwrap());
    assert_eq!(made["encrypted"], true);
    let fingerprint = made["fingerprint"].as_str().unwrap().to_string();
    let private = keys_dir(&vendor).join("acme.key");
    let public = keys_dir(&vendor).join("acme.pub");
    assert!(
        std::fs::read_to_string(&private)
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    );
    // The independent implementation reads our encrypted PKCS#8 key: same public key.
    assert_eq!(
        spec(&[
            "fingerprint",
            private.to_str().unwrap(),
            "vendor pass phrase"
        ])
        .unwrap(),
        fingerprint
    );
    let listed = json(&vendor.ok(&["--json", "keys", "list"]));
    assert_eq!(listed[0]["name"], "acme");
    assert_eq!(listed[0]["fingerprint"], fingerprint.as_str());

    // Without the passphrase, nothing is published.
    let repo = "acme/example_http";
    let reference = format!("{}/{repo}:0.1.0", registry.addr());
    let err = vendor.fails(&[
        "publish",
        "example_http",
        "--to",
        &reference,
        "--sign",
        "acme",
    ]);
    assert!(
        err.contains("encrypted") && err.contains("MESHROOM_KEY_PASSPHRASE"),
        "{err}"
    );
    assert!(!err.contains("vendor pass phrase"));
    let out = vendor.meshroom_env(
        &[
            "--json",
            "publish",
            "example_http",
            "--to",
            &reference,
            "--sign",
            "acme",
        ],
        None,
        &with_pw,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let published = json(&String::from_utf8(out.stdout).unwrap());
    let digest = published["manifest_digest"].as_str().unwrap().to_string();
    let sig_tag = format!("sha256-{}.sig", &digest["sha256:".len()..]);
    assert_eq!(
        published["signatures"][0]["signature_tag"],
        sig_tag.as_str()
    );
    assert_eq!(published["signatures"][0]["added"], true);

    // skopeo lists the signature tag and reads it as a cosign signature manifest.
    let skopeo = |args: &[&str]| {
        let out = Command::new("skopeo").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "skopeo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let tags = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/{repo}", registry.addr()),
    ]);
    assert!(tags.contains(&sig_tag), "{tags}");
    let raw = json(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/{repo}:{sig_tag}", registry.addr()),
    ]));
    assert_eq!(
        raw["layers"][0]["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    assert!(
        raw["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .is_some_and(|s| s.len() > 60)
    );
    // The independent verifier accepts our signature.
    let verified = json(
        &spec(&[
            "verify",
            &registry.url(),
            repo,
            &digest,
            public.to_str().unwrap(),
        ])
        .unwrap(),
    );
    assert_eq!(verified["verified"], true);
    assert_eq!(
        verified["docker-reference"],
        format!("{}/{repo}", registry.addr())
    );

    // A new project requires signatures from every remote registry, by a key it names:
    // refused after one signature manifest and one payload blob, before any layer.
    operator.ok(&["init"]);
    let (sig_gets, blob_gets) = (
        requests_matching(&registry, &format!("/manifests/{sig_tag}")),
        requests_matching(&registry, "/blobs/"),
    );
    let err = operator.fails(&["pull", &reference]);
    for needle in [
        reference.as_str(),
        digest.as_str(),
        "keys tried: none",
        "trust.yaml line",
        "`match: *`",
    ] {
        assert!(err.contains(needle), "`{needle}` missing from: {err}");
    }
    assert!(!operator.project().join("products/example_http").exists());
    assert_eq!(
        requests_matching(&registry, &format!("/manifests/{sig_tag}")) - sig_gets,
        1
    );
    assert_eq!(
        requests_matching(&registry, "/blobs/") - blob_gets,
        1,
        "the payload only"
    );
    trust(
        &operator,
        &[("acme", &public)],
        &format!(
            "- match: {}/acme/\n  require: signed\n  keys: [acme]\n- match: \"*\"\n  require: signed\n",
            registry.addr()
        ),
    );
    let (sig_gets, blob_gets) = (
        requests_matching(&registry, &format!("/manifests/{sig_tag}")),
        requests_matching(&registry, "/blobs/"),
    );
    let pulled = json(&operator.ok(&["--json", "pull", &reference]));
    assert_eq!(pulled["signed_by"]["key"], "acme");
    assert_eq!(pulled["signed_by"]["key_fingerprint"], fingerprint.as_str());
    assert_eq!(
        requests_matching(&registry, &format!("/manifests/{sig_tag}")) - sig_gets,
        1,
        "one signature manifest"
    );
    // Config, component, definition; the payload was cached by the refused pull.
    assert_eq!(requests_matching(&registry, "/blobs/") - blob_gets, 3);
    let lock = std::fs::read_to_string(operator.project().join("meshroom.lock")).unwrap();
    assert!(
        lock.contains("key: acme") && lock.contains(&format!("key_fingerprint: {fingerprint}")),
        "{lock}"
    );

    // The pulled adapter runs through `up`; then with the registry stopped, `down`
    // and `up` still verify from the lock and the cache: zero requests.
    let api = events_api();
    let env = [("MESHROOM_SECRETS_PASSPHRASE", PASSPHRASE)];
    let run = |args: &[&str], stdin: Option<&str>| operator.meshroom_env(args, stdin, &env);
    let ok = |args: &[&str], stdin: Option<&str>| {
        let out = run(args, stdin);
        assert!(
            out.status.success(),
            "meshroom {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let url = format!("url={}", api.url());
    for name in ["edr1", "siem1"] {
        ok(&["add", "example_http", name, "-c", &url], None);
        ok(
            &[
                "secrets",
                "set",
                &format!("instance:example_http/{name}"),
                "api_key",
            ],
            Some(&format!("{name}-key\n")),
        );
    }
    ok(&["plug", "events", "edr1", "siem1"], None);
    ok(&["up"], None);
    // The readiness probe of `restart` (`GET /v2/`) is the registry harness's own.
    let served = |registry: &DockerRegistry| {
        registry
            .requests()
            .unwrap()
            .iter()
            .filter(|r| r.path != "/v2/")
            .count()
    };
    let before = served(&registry);
    registry.stop().unwrap();
    ok(&["down"], None);
    ok(&["up"], None);
    registry.restart().unwrap();
    assert_eq!(
        served(&registry),
        before,
        "up and down from the lock made no registry request"
    );
    ok(&["down"], None);

    // The key leaves the policy: `up` refuses the locked adapter and runs nothing.
    trust(
        &operator,
        &[("acme", &public)],
        &format!("- match: {}/acme/\n  require: signed\n", registry.addr()),
    );
    let seen = api.requests().len();
    let out = run(&["up"], None);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("refused by the trust policy") && text.contains("no longer allows"),
        "{text}"
    );
    assert_eq!(api.requests().len(), seen, "nothing ran");
}

/// Every way a signature can fail to satisfy the policy is refused before the
/// product is installed, naming the reference, the digest, the keys tried and the
/// policy line; and a signature made by the independent signer is accepted.
#[test]
fn each_bad_signature_is_refused_with_the_reference_digest_keys_and_policy_line() {
    let registry = DockerRegistry::start().unwrap();
    let (vendor, operator) = (Machine::new(), Machine::new());
    vendor.ok(&["keys", "generate", "mallory"]);
    let python_key = vendor.root.path().join("python.key");
    let python_pub = vendor.root.path().join("python.pub");
    spec(&[
        "keygen",
        python_key.to_str().unwrap(),
        python_pub.to_str().unwrap(),
    ])
    .unwrap();
    operator.ok(&["init"]);
    trust(
        &operator,
        &[("python", &python_pub)],
        &format!(
            "- match: {}/acme\n  require: signed\n  keys: [python]\n",
            registry.addr()
        ),
    );
    let repo = "acme/ips";
    let publish = |tag: &str, marker: &str| -> (String, String) {
        write_product(&vendor.project(), "acme_ips", marker);
        let reference = format!("{}/{repo}:{tag}", registry.addr());
        let out = json(&vendor.ok(&["--json", "publish", "acme_ips", "--to", &reference]));
        (
            reference,
            out["manifest_digest"].as_str().unwrap().to_string(),
        )
    };
    let refused = |reference: &str, digest: &str, why: &str| {
        let err = operator.fails(&["pull", reference]);
        for needle in [
            reference,
            digest,
            why,
            "keys tried: python (sha256:",
            "trust.yaml line 4: `match: ",
        ] {
            assert!(err.contains(needle), "`{needle}` missing from: {err}");
        }
        assert!(
            !operator.project().join("products/acme_ips").exists(),
            "{err}"
        );
    };

    let (unsigned, d1) = publish("1", "unsigned");
    refused(&unsigned, &d1, "it is not signed (no `sha256-");

    let (by_mallory, d2) = publish("2", "mallory");
    vendor.ok(&["sign", &by_mallory, "--key", "mallory"]);
    refused(&by_mallory, &d2, "verifies with none of the allowed keys");

    // An allowed key's signature, but over another digest, under this digest's tag.
    let (other_digest, d3) = publish("3", "other-digest");
    let url = registry.url();
    spec(&[
        "sign",
        &url,
        repo,
        &d3,
        python_key.to_str().unwrap(),
        "--claim",
        &d1,
    ])
    .unwrap();
    refused(&other_digest, &d3, &format!("signed another digest ({d1})"));

    // A payload altered after it was signed.
    let (tampered, d4) = publish("4", "tampered");
    spec(&[
        "sign",
        &url,
        repo,
        &d4,
        python_key.to_str().unwrap(),
        "--tamper",
    ])
    .unwrap();
    refused(&tampered, &d4, "another signer, or a tampered payload");

    // The signature tag points at something that is not a signature manifest.
    let (garbage, d5) = publish("5", "garbage");
    let sig_tag = format!(
        "{}/{repo}:sha256-{}.sig",
        registry.addr(),
        &d5["sha256:".len()..]
    );
    vendor.ok(&["publish", "acme_ips", "--to", &sig_tag]);
    refused(&garbage, &d5, "holds no signature layer");

    // The independent signer's signature (its own JSON spacing) is accepted.
    let (good, d6) = publish("6", "python-signed");
    spec(&["sign", &url, repo, &d6, python_key.to_str().unwrap()]).unwrap();
    let verified = json(&operator.ok(&["--json", "verify", &good]));
    assert_eq!(verified["trusted_by"], "python");
    assert_eq!(verified["signatures"][0]["signed_by"][0], "python");
    assert_eq!(verified["signatures"][0]["matches_digest"], true);
    let pulled = json(&operator.ok(&["--json", "pull", &good]));
    assert_eq!(pulled["manifest_digest"], d6.as_str());
    assert_eq!(pulled["signed_by"]["key"], "python");
}

/// Two vendors sign one artifact (the second signature is a layer added beside the
/// first); a policy with two allowed keys accepts it; when the key that verified it
/// leaves the policy, `up` refuses the lock until `pull` verifies it with the other.
#[test]
fn two_signers_and_key_rotation() {
    let registry = DockerRegistry::start().unwrap();
    let (vendor, partner, operator) = (Machine::new(), Machine::new(), Machine::new());
    vendor.ok(&["keys", "generate", "old"]);
    vendor.ok(&["keys", "generate", "new"]);
    partner.ok(&["keys", "generate", "partner"]);
    write_example_http(&vendor.project());
    let reference = format!("{}/acme/example_http:1.0.0", registry.addr());
    vendor.ok(&[
        "publish",
        "example_http",
        "--to",
        &reference,
        "--sign",
        "old",
    ]);
    let again = json(&vendor.ok(&["--json", "sign", &reference, "--key", "old"]));
    assert_eq!(again["added"], false, "the same key signs once");
    let partner_key = keys_dir(&partner).join("partner.key");
    let signed = json(&partner.ok(&[
        "--json",
        "sign",
        &reference,
        "--key",
        partner_key.to_str().unwrap(),
    ]));
    assert_eq!(
        signed["signatures"], 2,
        "the second vendor's signature is appended"
    );

    let (old, new) = (
        keys_dir(&vendor).join("old.pub"),
        keys_dir(&vendor).join("new.pub"),
    );
    let rule = |keys: &str| {
        format!(
            "- match: {}/acme/\n  require: signed\n  keys: [{keys}]\n",
            registry.addr()
        )
    };
    trust(
        &operator,
        &[("old", &old), ("new", &new)],
        &rule("old, new"),
    );
    let partner_pub = keys_dir(&partner).join("partner.pub");
    let listed = json(&operator.ok(&[
        "--json",
        "verify",
        &reference,
        "--key",
        partner_pub.to_str().unwrap(),
    ]));
    let signers: Vec<&str> = listed["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["signed_by"][0].as_str().unwrap())
        .collect();
    assert_eq!(signers, ["old", "partner"]);
    let text = operator.ok(&["verify", &reference]);
    assert!(text.contains("signature 2: by an unknown key"), "{text}");
    assert!(text.contains("trusted: signed by old"), "{text}");
    let pulled = json(&operator.ok(&["--json", "pull", &reference]));
    assert_eq!(pulled["signed_by"]["key"], "old");

    // Rotation: the vendor signs with its new key; the old key leaves the policy.
    vendor.ok(&["sign", &reference, "--key", "new"]);
    trust(&operator, &[("new", &new)], &rule("new"));
    let up = operator.meshroom(&["up"], None);
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(
        stderr.contains("refused by the trust policy") && stderr.contains("`old`"),
        "{stderr}"
    );
    let repulled = json(&operator.ok(&["--json", "pull", &reference]));
    assert_eq!(repulled["signed_by"]["key"], "new");
    assert_eq!(repulled["lock"], "updated");
    let up = operator.meshroom(&["up"], None);
    assert!(
        !String::from_utf8_lossy(&up.stderr).contains("refused"),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
}

/// The image-layout registry carries the same scheme: signed there, verified on pull.
#[test]
fn an_image_layout_folder_carries_signatures_too() {
    let (vendor, operator) = (Machine::new(), Machine::new());
    let shared = vendor.root.path().join("layout");
    vendor.ok(&["keys", "generate", "acme"]);
    write_product(&vendor.project(), "acme_ips", "v1");
    let signed = format!("oci-layout:{}:signed", shared.display());
    let unsigned = format!("oci-layout:{}:unsigned", shared.display());
    vendor.ok(&["publish", "acme_ips", "--to", &signed, "--sign", "acme"]);
    write_product(&vendor.project(), "acme_ips", "v2");
    vendor.ok(&["publish", "acme_ips", "--to", &unsigned]);
    let index = std::fs::read_to_string(shared.join("index.json")).unwrap();
    assert!(
        index.contains("\"sha256-") && index.contains(".sig\""),
        "{index}"
    );

    operator.ok(&["init"]);
    trust(
        &operator,
        &[("acme", &keys_dir(&vendor).join("acme.pub"))],
        "- match: local\n  require: signed\n  keys: [acme]\n",
    );
    let err = operator.fails(&["pull", &unsigned]);
    assert!(err.contains("it is not signed"), "{err}");
    let pulled = json(&operator.ok(&["--json", "pull", &signed]));
    assert_eq!(pulled["signed_by"]["key"], "acme");
}
