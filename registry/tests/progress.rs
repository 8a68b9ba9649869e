//! Byte-level progress of transfers against a real CNCF distribution
//! registry (`docker-registry` on 127.0.0.1): a download reports the bytes
//! received as they arrive, from `Started` to `Finished`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use meshroom_registry::{ArtifactRef, ProgressEvent};
use support::{RegistryServer, client, package};

const MIB4: usize = 4 * 1024 * 1024;

#[tokio::test]
async fn a_cold_pull_reports_the_bytes_of_each_blob_as_they_arrive() {
    let server = RegistryServer::start();
    let dir = tempfile::tempdir().unwrap();
    let reference = ArtifactRef::parse(&format!("{}/acme/zeek:7", server.host())).unwrap();
    client(&dir.path().join("vendor"))
        .publish(&package("zeek", MIB4), &reference)
        .await
        .unwrap();

    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let operator =
        client(&dir.path().join("operator")).with_progress(Arc::new(move |e: ProgressEvent| {
            sink.lock().unwrap().push(e)
        }));
    let pulled = operator.pull(&reference).await.unwrap();
    let events = events.lock().unwrap();

    // The component's events: Started, then growing byte counts up to its
    // size, then Finished.
    let digest = pulled.component_digest.to_string();
    let mine: Vec<&ProgressEvent> = events
        .iter()
        .filter(|e| match e {
            ProgressEvent::Started { digest: d, .. }
            | ProgressEvent::Transferred { digest: d, .. }
            | ProgressEvent::Finished { digest: d }
            | ProgressEvent::Skipped { digest: d, .. } => *d == digest,
        })
        .collect();
    assert!(
        matches!(mine.first(), Some(ProgressEvent::Started { size, .. }) if *size == MIB4 as u64),
        "{mine:?}"
    );
    assert!(
        matches!(mine.last(), Some(ProgressEvent::Finished { .. })),
        "{mine:?}"
    );
    let counts: Vec<u64> = mine[1..mine.len() - 1]
        .iter()
        .map(|e| match e {
            ProgressEvent::Transferred { bytes, .. } => *bytes,
            other => panic!("expected byte counts between Started and Finished, got {other:?}"),
        })
        .collect();
    assert!(
        counts.len() >= 2,
        "a 4 MiB blob arrives in several chunks: {counts:?}"
    );
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert_eq!(counts.last(), Some(&(MIB4 as u64)));
}
