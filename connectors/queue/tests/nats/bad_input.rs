//! Bad configuration, an unreachable server, wrong credentials, a missing stream.

use rivven_connect::{ConfiguredCatalog, ErrorKind, Sink, SinkConfig, Source, SourceConfig};
use rivven_connect_queue::nats::{NatsSink, NatsSinkConfig, NatsSource, NatsSourceConfig};
use rivven_connect_testing::services::Nats;
use serde_json::json;

use crate::support::*;

#[test]
fn invalid_settings_are_config_errors_naming_the_key() {
    for (bad, key) in [
        (
            json!({"url": "nats://h", "stream": "S", "max_ack_pending": 0}),
            "max_ack_pending",
        ),
        (
            json!({"url": "nats://h", "stream": "S", "deliver_policy": "oldest"}),
            "deliver_policy",
        ),
        (
            json!({"url": "nats://h", "mode": "core", "subject": ""}),
            "subject",
        ),
        (
            json!({"url": "nats://h", "stream": "S", "filter_subject": "a..b"}),
            "filter_subject",
        ),
        (
            json!({"url": "nats://h", "stream": "S", "max_inflight": 0}),
            "max_inflight",
        ),
        (
            json!({"url": "nats://h", "stream": "S", "ack_wait": 3}),
            "ack_wait",
        ),
    ] {
        let err = NatsSourceConfig::from_value(bad.clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
        assert!(err.to_string().contains(key), "{bad}: {err}");
    }
    for (bad, key) in [
        (json!({"url": "nats://h", "subject": ""}), "subject"),
        (
            json!({"url": "nats://h", "max_inflight": 0}),
            "max_inflight",
        ),
        (
            json!({"url": "nats://h", "create_stream": {"name": "S", "subjects": []}}),
            "subjects",
        ),
        (
            json!({"url": "nats://h", "create_stream": {"name": "S", "subjects": ["a"], "storage": "tape"}}),
            "storage",
        ),
    ] {
        let err = NatsSinkConfig::from_value(bad.clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
        assert!(err.to_string().contains(key), "{bad}: {err}");
    }
}

#[tokio::test]
async fn an_unreachable_server_fails_check_in_one_line() {
    let source = NatsSourceConfig::from_value(json!({
        "url": closed_url(), "stream": "S", "connect_timeout_ms": 1000
    }))
    .unwrap();
    let check = NatsSource::new().check(&source).await.unwrap();
    assert!(!check.is_success(), "{check:?}");
    let text = check.summary();
    assert!(!text.trim().contains('\n'), "one line: {text}");
    let sink = NatsSinkConfig::from_value(json!({"url": closed_url(), "connect_timeout_ms": 1000}))
        .unwrap();
    let check = NatsSink::new().check(&sink).await.unwrap();
    assert!(!check.is_success(), "{check:?}");
    assert!(!check.summary().trim().contains('\n'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_is_a_config_error_naming_it() {
    let nats = server().await;
    let config = source_config(&nats, "NOPE");
    let check = NatsSource::new().check(&config).await.unwrap();
    assert!(!check.is_success());
    assert!(check.summary().contains("`NOPE`"), "{}", check.summary());
    let err = NatsSource::new()
        .read(&config, &ConfiguredCatalog::default(), None)
        .await
        .err()
        .expect("no stream");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("`NOPE`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_an_auth_error_not_retried() {
    let nats = Nats::start_with_auth("reader", "s3cret pass")
        .await
        .unwrap();
    create_stream_as(&nats, "AUTH").await;
    let mut right = source_json(&nats, "AUTH");
    right["auth"] = json!({"username": "reader", "password": "s3cret pass"});
    let right = NatsSourceConfig::from_value(right).unwrap();
    assert!(NatsSource::new().check(&right).await.unwrap().is_success());
    for auth in [
        json!({"username": "reader", "password": "wrong"}),
        json!({"token": "123456789"}),
    ] {
        let mut wrong = source_json(&nats, "AUTH");
        wrong["auth"] = auth;
        let wrong = NatsSourceConfig::from_value(wrong).unwrap();
        let check = NatsSource::new().check(&wrong).await.unwrap();
        assert!(!check.is_success());
        let err = NatsSource::new()
            .read(&wrong, &ConfiguredCatalog::default(), None)
            .await
            .err()
            .expect("refused");
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert!(!err.is_retryable());
        assert!(
            !err.to_string().contains("wrong") && !err.to_string().contains("123456789"),
            "{err}"
        );
        let mut sink = sink_json(&nats, "x");
        sink["auth"] = wrong_auth_of(&wrong);
        let sink_config = NatsSinkConfig::from_value(sink).unwrap();
        let err = NatsSink::new()
            .write_borrowed(
                &sink_config,
                &[rivven_connect::SourceEvent::record("x", json!(1))],
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert!(!err.is_retryable());
    }
}

fn wrong_auth_of(config: &NatsSourceConfig) -> serde_json::Value {
    let auth = config.auth.as_ref().unwrap();
    let mut value = json!({});
    if let (Some(u), Some(p)) = (&auth.username, &auth.password) {
        value = json!({"username": u, "password": p.expose_secret()});
    }
    if let Some(t) = &auth.token {
        value = json!({"token": t.expose_secret()});
    }
    value
}

async fn create_stream_as(nats: &Nats, name: &str) {
    let client =
        async_nats::ConnectOptions::with_user_and_password("reader".into(), "s3cret pass".into())
            .connect(nats.url())
            .await
            .unwrap();
    async_nats::jetstream::new(client)
        .create_stream(async_nats::jetstream::stream::Config {
            name: name.into(),
            subjects: vec!["auth.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
}
