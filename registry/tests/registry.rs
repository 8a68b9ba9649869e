//! Publish and pull against a real CNCF distribution registry (`docker-registry`) and
//! image-layout folders, with skopeo as an independent reader and writer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use meshroom_registry::{
    ArtifactRef, Digest, LockChange, Lockfile, ProgressEvent, Registry, RegistryError,
};
use support::{PASSWORD, RegistryServer, USER, client, client_with, package, skopeo};

const MIB2: usize = 2 * 1024 * 1024;

fn r(s: &str) -> ArtifactRef {
    ArtifactRef::parse(s).unwrap()
}

#[tokio::test]
async fn round_trip_publish_then_pull_returns_the_same_product() {
    let server = RegistryServer::start();
    let dir = tempfile::tempdir().unwrap();
    let product = package("crowdsec", MIB2);
    let reference = r(&format!("{}/acme/crowdsec:1.2.0", server.host()));

    let published = client(&dir.path().join("vendor"))
        .publish(&product, &reference)
        .await
        .unwrap();
    assert_eq!(
        published.uploaded, 4,
        "config, component, definition, one integration"
    );
    assert_eq!(published.component_digest, Digest::of(&product.component));
    assert!(
        published
            .reference
            .ends_with(&format!("@{}", published.manifest_digest))
    );

    let operator = client(&dir.path().join("operator"));
    let pulled = operator.pull(&reference).await.unwrap();
    assert_eq!(pulled.product, "crowdsec");
    assert_eq!(pulled.manifest_digest, published.manifest_digest);
    assert_eq!(
        std::fs::read(&pulled.component_path).unwrap(),
        product.component
    );
    assert!(
        pulled
            .component_path
            .starts_with(operator.cache().root().join("blobs/sha256"))
    );
    assert_eq!(pulled.definition, product.definition);
    assert_eq!(pulled.files, product.files);
    assert_eq!(
        pulled.annotations["org.opencontainers.image.description"],
        "A test product on two lines"
    );
    assert_eq!(
        pulled.annotations["org.opencontainers.image.version"],
        "1.2.0"
    );
    assert_eq!(
        pulled.annotations["org.opencontainers.image.vendor"],
        "Acme"
    );
    assert_eq!(
        pulled.annotations["org.opencontainers.image.created"],
        "1970-01-01T00:00:00Z"
    );
    assert_eq!((pulled.downloaded, pulled.cached), (4, 0));

    // Pull by digest resolves to the same artifact.
    let by_digest = r(&format!(
        "{}/acme/crowdsec@{}",
        server.host(),
        published.manifest_digest
    ));
    let again = client(&dir.path().join("other"))
        .pull(&by_digest)
        .await
        .unwrap();
    assert_eq!(again.component_digest, published.component_digest);

    // The lockfile records what the tag resolved to.
    let entry = pulled.lock_entry();
    assert_eq!(entry.manifest_digest, published.manifest_digest);
    assert_eq!(entry.component_digest, published.component_digest);
    assert_eq!(entry.reference, reference.to_string());
}

#[tokio::test]
async fn publishing_the_same_inputs_gives_the_same_digest_and_uploads_nothing_twice() {
    let server = RegistryServer::start();
    let dir = tempfile::tempdir().unwrap();
    let vendor = client(dir.path());
    let product = package("zeek", MIB2);

    let first = vendor
        .publish(&product, &r(&format!("{}/acme/zeek:1", server.host())))
        .await
        .unwrap();
    server.clear_log();
    let second = vendor
        .publish(&product, &r(&format!("{}/acme/zeek:again", server.host())))
        .await
        .unwrap();
    assert_eq!(
        first.manifest_digest, second.manifest_digest,
        "reproducible manifest digest"
    );
    assert_eq!((second.uploaded, second.skipped), (0, 4));
    assert_eq!(
        server.count("POST", "/blobs/uploads"),
        0,
        "no upload session: {:?}",
        server.requests()
    );
    assert_eq!(server.count("PUT", "/manifests/again"), 1);

    // Changing one byte of the component changes the digest; only that blob (and the
    // config that lists layer digests) is uploaded.
    let mut changed = product.clone();
    *changed.component.last_mut().unwrap() ^= 1;
    server.clear_log();
    let third = vendor
        .publish(&changed, &r(&format!("{}/acme/zeek:2", server.host())))
        .await
        .unwrap();
    assert_ne!(third.manifest_digest, first.manifest_digest);
    assert_eq!((third.uploaded, third.skipped), (2, 2));

    // Reproducible across clients and folders too: the digest is a function of the inputs.
    assert_eq!(
        meshroom_registry::build(&product).unwrap().manifest_digest,
        first.manifest_digest
    );
}

#[tokio::test]
async fn a_warm_pull_makes_one_manifest_request_and_downloads_nothing() {
    let server = RegistryServer::start();
    let dir = tempfile::tempdir().unwrap();
    let reference = r(&format!("{}/acme/suricata:7", server.host()));
    client(&dir.path().join("vendor"))
        .publish(&package("suricata", MIB2), &reference)
        .await
        .unwrap();

    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = events.clone();
    let operator = client(&dir.path().join("operator")).with_progress(std::sync::Arc::new(
        move |e: ProgressEvent| sink.lock().unwrap().push(e),
    ));
    server.clear_log();
    let cold = operator.pull(&reference).await.unwrap();
    assert_eq!(
        server.count("GET", "/blobs/"),
        4,
        "cold pull fetches every blob: {:?}",
        server.requests()
    );
    assert_eq!(server.count("GET", "/manifests/"), 1);
    assert_eq!(
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, ProgressEvent::Finished { .. }))
            .count(),
        4
    );

    events.lock().unwrap().clear();
    server.clear_log();
    let warm = operator.pull(&reference).await.unwrap();
    assert_eq!(warm.manifest_digest, cold.manifest_digest);
    assert_eq!((warm.downloaded, warm.cached), (0, 4));
    assert_eq!(
        server.count("GET", "/manifests/"),
        1,
        "{:?}",
        server.requests()
    );
    assert_eq!(server.count("GET", "/blobs/"), 0, "{:?}", server.requests());
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .all(|e| matches!(e, ProgressEvent::Skipped { .. }))
    );

    // Pinned by digest and fully cached: no request at all (this is what `up` does).
    server.clear_log();
    let locked = operator.fetch_locked(&cold.lock_entry()).await.unwrap();
    assert_eq!(locked.component_digest, cold.component_digest);
    assert_eq!(server.requests(), Vec::<String>::new());
}

#[tokio::test]
async fn a_blob_tampered_in_the_registry_storage_is_refused() {
    let server = RegistryServer::start();
    let dir = tempfile::tempdir().unwrap();
    let reference = r(&format!("{}/acme/tampered:1", server.host()));
    let product = package("tampered", 64 * 1024);
    let published = client(&dir.path().join("vendor"))
        .publish(&product, &reference)
        .await
        .unwrap();

    let blob = server.blob_file(published.component_digest.as_str());
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();

    let operator = client(&dir.path().join("operator"));
    let err = operator.pull(&reference).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(published.component_digest.as_str()),
        "{err}"
    );
    assert!(
        !operator.cache().contains(&published.component_digest),
        "a refused blob is never cached"
    );
}

#[tokio::test]
async fn a_blob_tampered_in_the_cache_is_refused() {
    let server = RegistryServer::start();
    let dir = tempfile::tempdir().unwrap();
    let reference = r(&format!("{}/acme/cached:1", server.host()));
    client(&dir.path().join("vendor"))
        .publish(&package("cached", 64 * 1024), &reference)
        .await
        .unwrap();
    let operator = client(&dir.path().join("operator"));
    let pulled = operator.pull(&reference).await.unwrap();

    std::fs::write(&pulled.component_path, b"\0asm\x0d\x00\x01\x00 evil").unwrap();
    let err = operator.pull(&reference).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("cached blob"), "{err}");
    let err = operator
        .fetch_locked(&pulled.lock_entry())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
}

#[tokio::test]
async fn a_missing_tag_or_repository_says_not_found() {
    let server = RegistryServer::start();
    let dir = tempfile::tempdir().unwrap();
    let vendor = client(dir.path());
    vendor
        .publish(
            &package("present", 1024),
            &r(&format!("{}/acme/present:1", server.host())),
        )
        .await
        .unwrap();

    for missing in [
        format!("{}/acme/present:2", server.host()),
        format!("{}/acme/absent:1", server.host()),
    ] {
        let err = vendor.pull(&r(&missing)).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::NotFound { .. }),
            "{missing}: {err}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("not found: `{missing}`")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_registry_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let err = client(dir.path())
        .pull(&r(&format!("127.0.0.1:{port}/acme/x:1")))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("registry 127.0.0.1:{port} is unreachable")),
        "{err}"
    );
}

#[tokio::test]
async fn basic_auth_accepts_the_right_password_and_names_the_wrong_one() {
    let server = RegistryServer::start_with_auth();
    let dir = tempfile::tempdir().unwrap();
    let reference = r(&format!("{}/acme/private:1", server.host()));
    let product = package("private", 4096);

    let vendor = client_with(&dir.path().join("vendor"), USER, PASSWORD);
    vendor.publish(&product, &reference).await.unwrap();
    let pulled = client_with(&dir.path().join("ok"), USER, PASSWORD)
        .pull(&reference)
        .await
        .unwrap();
    assert_eq!(pulled.definition, product.definition);

    let err = client_with(&dir.path().join("wrong"), USER, "wrong password")
        .pull(&reference)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("unauthorized:") && text.contains("MESHROOM_REGISTRY_USER"),
        "{text}"
    );
    assert!(
        !text.contains("wrong password"),
        "the password never appears in errors"
    );

    let err = client_with(&dir.path().join("wrong-push"), USER, "nope")
        .publish(&product, &reference)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");

    let err = client(&dir.path().join("anonymous"))
        .pull(&reference)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("no credentials"), "{err}");

    // `registry login` checks credentials before saving them.
    let creds = |p: &str| meshroom_registry::Credentials {
        username: USER.to_string(),
        password: meshroom_registry::Zeroizing::new(p.to_string()),
    };
    let checker = client(&dir.path().join("login"));
    checker
        .check_login(&server.host(), &creds(PASSWORD))
        .await
        .unwrap();
    let err = checker
        .check_login(&server.host(), &creds("bad"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");

    // Credentials saved by login are found by a later pull.
    let store = dir.path().join("auth.json");
    let auth = meshroom_registry::AuthConfig {
        login_file: Some(store.clone()),
        ..Default::default()
    };
    auth.save_login(&server.host(), &creds(PASSWORD)).unwrap();
    let saved = Registry::new(
        meshroom_registry::BlobCache::new(dir.path().join("saved")),
        auth,
        dir.path().join("l"),
    );
    assert_eq!(
        saved.pull(&reference).await.unwrap().manifest_digest,
        pulled.manifest_digest
    );
}

#[tokio::test]
async fn the_image_layout_default_needs_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = client(&dir.path().join("vendor"));
    let product = package("crowdsec", 4096);
    let reference = r("acme/crowdsec:1.2.0");

    let published = vendor.publish(&product, &reference).await.unwrap();
    let layout = dir.path().join("vendor/layout");
    assert!(layout.join("oci-layout").is_file() && layout.join("index.json").is_file());
    assert!(
        layout
            .join("blobs/sha256")
            .join(published.manifest_digest.hex())
            .is_file()
    );

    // Another client sharing the layout folder (the machine's default registry) pulls it.
    let operator = meshroom_registry::Registry::new(
        meshroom_registry::BlobCache::new(dir.path().join("operator-cache")),
        meshroom_registry::AuthConfig::anonymous(),
        &layout,
    );
    let pulled = operator.pull(&reference).await.unwrap();
    assert_eq!(pulled.manifest_digest, published.manifest_digest);
    assert_eq!(pulled.definition, product.definition);
    let by_digest = r(&format!("acme/crowdsec@{}", published.manifest_digest));
    assert_eq!(
        operator.pull(&by_digest).await.unwrap().component_digest,
        published.component_digest
    );
    assert_eq!(
        operator.tags(&r("acme/crowdsec")).await.unwrap(),
        vec!["1.2.0".to_string()]
    );

    let err = operator.pull(&r("acme/crowdsec:9.9")).await.unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err}");

    // Tampering with a layout blob is caught as well.
    let blob = layout
        .join("blobs/sha256")
        .join(published.component_digest.hex());
    std::fs::write(&blob, b"\0asm\x0d\x00\x01\x00tampered").unwrap();
    let fresh = meshroom_registry::Registry::new(
        meshroom_registry::BlobCache::new(dir.path().join("fresh-cache")),
        meshroom_registry::AuthConfig::anonymous(),
        &layout,
    );
    let err = fresh.pull(&reference).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
}

#[tokio::test]
async fn skopeo_reads_what_publish_wrote_and_pull_reads_what_skopeo_copied() {
    let server = RegistryServer::start();
    let dir = tempfile::tempdir().unwrap();
    let vendor = client(&dir.path().join("vendor"));
    let product = package("interop", 256 * 1024);
    let reference = format!("{}/acme/interop:1.0", server.host());
    let published = vendor.publish(&product, &r(&reference)).await.unwrap();

    // An independent reader sees the exact manifest and the Wasm config.
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{reference}"),
    ]);
    assert_eq!(Digest::of(&raw), published.manifest_digest);
    let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    let config = skopeo(&[
        "inspect",
        "--config",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{reference}"),
    ]);
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["os"], "wasip2");
    assert_eq!(config["architecture"], "wasm");

    // skopeo copies it to an image-layout folder: pull reads that folder.
    let oci_dir = dir.path().join("copied");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{reference}"),
        &format!("oci:{}:1.0", oci_dir.display()),
    ]);
    let from_layout = client(&dir.path().join("op1"))
        .pull(&r(&format!("oci-layout:{}:1.0", oci_dir.display())))
        .await
        .unwrap();
    assert_eq!(from_layout.manifest_digest, published.manifest_digest);
    assert_eq!(
        std::fs::read(&from_layout.component_path).unwrap(),
        product.component
    );

    // skopeo copies it back under another name: pull reads that too, same digest.
    let back = format!("{}/mirror/interop:copied", server.host());
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:1.0", oci_dir.display()),
        &format!("docker://{back}"),
    ]);
    let pulled_back = client(&dir.path().join("op2"))
        .pull(&r(&back))
        .await
        .unwrap();
    assert_eq!(pulled_back.manifest_digest, published.manifest_digest);
    assert_eq!(pulled_back.files, product.files);

    // And a layout folder written by publish is readable by skopeo.
    let ours = dir.path().join("ours");
    vendor
        .publish(&product, &r(&format!("oci-layout:{}:v1", ours.display())))
        .await
        .unwrap();
    let raw = skopeo(&["inspect", "--raw", &format!("oci:{}:v1", ours.display())]);
    assert_eq!(Digest::of(&raw), published.manifest_digest);
}

#[tokio::test]
async fn the_lockfile_pins_a_digest_and_locked_refuses_a_moved_tag() {
    let server = RegistryServer::start();
    let dir = tempfile::tempdir().unwrap();
    let vendor = client(&dir.path().join("vendor"));
    let reference = r(&format!("{}/acme/moving:stable", server.host()));
    let v1 = vendor
        .publish(&package("moving", 2048), &reference)
        .await
        .unwrap();

    let operator = client(&dir.path().join("operator"));
    let lock_path = Lockfile::path_in(dir.path());
    let mut lock = Lockfile::load(&lock_path).unwrap();
    let pulled = operator.pull(&reference).await.unwrap();
    assert_eq!(
        lock.record(pulled.lock_entry(), false).unwrap(),
        LockChange::Added
    );
    lock.save(&lock_path).unwrap();

    // The vendor moves the tag.
    let mut newer = package("moving", 2048);
    newer.metadata.version = Some("1.3.0".into());
    let v2 = vendor.publish(&newer, &reference).await.unwrap();
    assert_ne!(v1.manifest_digest, v2.manifest_digest);

    let mut lock = Lockfile::load(&lock_path).unwrap();
    let repulled = operator.pull(&reference).await.unwrap();
    assert_eq!(repulled.manifest_digest, v2.manifest_digest);
    let err = lock.record(repulled.lock_entry(), true).unwrap_err();
    assert!(matches!(err, RegistryError::LockedChange(_)), "{err}");

    // What the lockfile names is still what `up` gets.
    let locked = operator
        .fetch_locked(lock.get("moving").unwrap())
        .await
        .unwrap();
    assert_eq!(locked.manifest_digest, v1.manifest_digest);
    assert_eq!(
        lock.record(repulled.lock_entry(), false).unwrap(),
        LockChange::Updated
    );
}
