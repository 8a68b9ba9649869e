//! A deck recorded and replayed through the runtime's tape interface, as
//! the sandbox drives it: large bodies beside the cassette, secrets and
//! session tokens scrubbed, order rules, the reports of what was used.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use meshroom_cassette::{Cassette, Deck, MatchRules, Order, cassettes_in};
use meshroom_runtime::{Exchange, HookContext, HookKind, TapeCall, TapeRequest, TapeResponse};

fn call<'a>(ctx: &'a HookContext, input: &'a serde_json::Value) -> TapeCall<'a> {
    TapeCall {
        product: "acme",
        adapter_version: "1.0.0",
        digest: "sha256:aaaa",
        hook: "acme.setup",
        kind: HookKind::Setup,
        context: ctx,
        input,
    }
}

fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> TapeRequest {
    TapeRequest {
        method: method.into(),
        url: url.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec().into(),
    }
}

fn response(body: &[u8]) -> TapeResponse {
    TapeResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_vec().into(),
        elapsed: Duration::from_millis(3),
    }
}

#[test]
fn a_recording_scrubs_secrets_keeps_large_bodies_aside_and_replays_in_either_order() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, input) = (HookContext::default(), serde_json::Value::Null);
    let big = vec![b'x'; 40_000];
    {
        let deck = Deck::record(dir.path(), false).unwrap();
        let tape = deck.scoped(&["acme", "i1"]).open(&call(&ctx, &input));
        tape.secret("api_key", "s3cret-key");
        tape.record(Exchange {
            request: request("POST", "http://h/login?key=s3cret-key", &[], b"{}"),
            response: response(br#"{"token":"sess-0123456789"}"#),
        });
        tape.record(Exchange {
            request: request(
                "GET",
                "http://h/big",
                &[
                    ("authorization", "Bearer sess-0123456789"),
                    ("cookie", "a=b"),
                ],
                b"",
            ),
            response: response(&big),
        });
        tape.secret_output("minted", "out-value-1");
        tape.result(serde_json::json!({"outputs": {}, "secret_outputs": ["minted"]}));
        drop(tape);
        let written = deck.save().unwrap();
        assert_eq!(
            written,
            vec![dir.path().join("acme/i1/setup.acme.setup.yaml")]
        );
        // A second recording into the folder is refused.
        assert!(Deck::record(dir.path(), false).is_err());
    }
    let path = dir.path().join("acme/i1/setup.acme.setup.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in ["s3cret-key", "sess-0123456789", "out-value-1", "a=b"] {
        assert!(!text.contains(secret), "{secret} in:\n{text}");
    }
    assert!(text.contains("key={{secret:api_key}}"), "{text}");
    assert!(text.contains("{{secret:authorization}}"), "{text}");
    assert!(text.contains("cookie: '{{redacted}}'"), "{text}");
    let cassette = Cassette::load(&path).unwrap();
    assert_eq!(cassette.call.secrets, ["api_key"]);
    let file = cassette.interactions[1]
        .response
        .body
        .file
        .clone()
        .unwrap_or_else(|| panic!("{text}"));
    let body = dir
        .path()
        .join("acme/i1/bodies")
        .join(file.trim_start_matches("sha256:"));
    assert_eq!(std::fs::read(&body).unwrap(), big);
    assert_eq!(cassettes_in(dir.path()), vec![path.clone()]);

    // In order: the second request first is refused with a diff.
    let replay = Deck::replay(dir.path(), &MatchRules::default()).unwrap();
    let tape = replay.scoped(&["acme", "i1"]).open(&call(&ctx, &input));
    tape.secret("api_key", "fake-key");
    let miss = tape
        .answer(&request(
            "GET",
            "http://h/big",
            &[("authorization", "Bearer x")],
            b"",
        ))
        .unwrap_err();
    assert!(
        miss.contains("url: recorded http://h/login?key={{secret:api_key}}, got http://h/big"),
        "{miss}"
    );
    let login = tape
        .answer(&request("POST", "http://h/login?key=fake-key", &[], b"{}"))
        .unwrap();
    assert_eq!(&login.body[..], br#"{"token":"{{secret:authorization}}"}"#);
    let got = tape
        .answer(&request(
            "GET",
            "http://h/big",
            &[
                ("authorization", "Bearer {{secret:authorization}}"),
                ("cookie", "c=d"),
            ],
            b"",
        ))
        .unwrap();
    assert_eq!(got.body.len(), big.len());
    drop(tape);
    let reports = replay.reports();
    assert_eq!(
        (
            reports[0].replayed,
            reports[0].misses,
            reports[0].unused.len()
        ),
        (2, 1, 0)
    );

    // Any order: the big one first is fine; the login left unused is reported.
    let rules = MatchRules {
        order: Order::Any,
        ..MatchRules::default()
    };
    let replay = Deck::replay(dir.path(), &rules).unwrap();
    let other = HookContext::default();
    let tape = replay.scoped(&["acme", "i1"]).open(&TapeCall {
        digest: "sha256:bbbb",
        ..call(&other, &input)
    });
    tape.answer(&request(
        "GET",
        "http://h/big",
        &[("authorization", "Bearer y"), ("cookie", "z")],
        b"",
    ))
    .unwrap();
    drop(tape);
    let reports = replay.reports();
    assert_eq!(
        reports[0].unused,
        ["POST http://h/login?key={{secret:api_key}}"]
    );
    assert!(
        reports[0]
            .other_adapter
            .as_deref()
            .unwrap()
            .contains("sha256:aaaa"),
        "{reports:?}"
    );

    // An altered large body is refused, naming the file.
    std::fs::write(&body, b"tampered").unwrap();
    let replay = Deck::replay(dir.path(), &rules).unwrap();
    let tape = replay.scoped(&["acme", "i1"]).open(&call(&ctx, &input));
    let err = tape
        .answer(&request(
            "GET",
            "http://h/big",
            &[("authorization", "Bearer y"), ("cookie", "z")],
            b"",
        ))
        .unwrap_err();
    assert!(err.contains("does not match its digest"), "{err}");
}

#[test]
fn a_deeply_nested_cassette_is_refused_before_parsing_with_its_place() {
    // Found with the fuzz target (fuzz/corpus/cassette/deeply-nested.yaml): 60 KB of
    // `[` kept the YAML parser busy for minutes.
    let text = format!("meshroom_cassette: 1\nx: {}", "[".repeat(60_000));
    let started = std::time::Instant::now();
    let err = Cassette::parse(&text, std::path::Path::new("c.yaml"))
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        err.contains("c.yaml:2:68") && err.contains("64 levels"),
        "{err}"
    );
}

#[test]
fn an_unknown_version_or_a_bad_line_is_refused_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, "meshroom_cassette: 2\n").unwrap();
    let err = Cassette::load(&path).unwrap_err().to_string();
    assert!(err.contains("format version 2 is not supported"), "{err}");
    std::fs::write(&path, "meshroom_cassette: 1\nadapter: {product: a, version: '1', digest: ''}\ncall: {hook: h, kind: setup}\ninteractions:\n- request: {method: GET, url: 'http://h', bogus: 1}\n  response: {status: 200}\n").unwrap();
    let err = Cassette::load(&path).unwrap_err().to_string();
    assert!(err.contains("c.yaml:5:") && err.contains("bogus"), "{err}");
    std::fs::write(&path, "just: text\n").unwrap();
    let err = Cassette::load(&path).unwrap_err().to_string();
    assert!(err.contains("not a meshroom cassette"), "{err}");
}
