//! Bad configuration, an unreachable broker, wrong credentials.

use futures::StreamExt;
use rivven_connect::{ErrorKind, Sink, Source, SourceConfig};
use rivven_connect_queue::mqtt::{MqttSink, MqttSinkConfig, MqttSource, MqttSourceConfig};
use rivven_connect_testing::services::Mosquitto;
use serde_json::json;

use crate::support::*;

#[test]
fn an_invalid_qos_is_a_config_error_naming_the_key() {
    for qos in [json!(3), json!("sometimes")] {
        let err = MqttSourceConfig::from_value(json!({
            "broker_url": "mqtt://h", "topics": ["t"], "qos": qos
        }))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(err.to_string().contains("qos"), "{err}");
    }
    let err = <MqttSinkConfig as rivven_connect::SinkConfig>::from_value(json!({
        "broker_url": "mqtt://h", "max_inflight": 0
    }))
    .unwrap_err();
    assert!(err.to_string().contains("max_inflight"), "{err}");
}

#[tokio::test]
async fn an_unreachable_broker_fails_check_in_one_line() {
    let source = MqttSourceConfig::from_value(json!({
        "broker_url": closed_url(), "topics": ["t"], "connect_timeout_secs": 2
    }))
    .unwrap();
    let check = MqttSource::new().check(&source).await.unwrap();
    assert!(!check.is_success(), "{check:?}");
    let text = check.summary();
    assert!(!text.trim().contains('\n'), "one line: {text}");
    let sink = <MqttSinkConfig as rivven_connect::SinkConfig>::from_value(json!({
        "broker_url": closed_url(), "connect_timeout_secs": 2
    }))
    .unwrap();
    let check = MqttSink::new().check(&sink).await.unwrap();
    assert!(!check.is_success(), "{check:?}");
}

#[tokio::test]
async fn a_reachable_broker_passes_check_without_touching_the_session() {
    let broker = broker().await;
    let config = source_config(&broker, &["t"], "checked");
    assert!(MqttSource::new().check(&config).await.unwrap().is_success());
    assert!(MqttSink::new()
        .check(&sink_config(&broker, "t"))
        .await
        .unwrap()
        .is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_an_auth_error_not_retried() {
    let broker = Mosquitto::start_with_user("reader", "right-password")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut wrong = source_json(&broker, &["t"], "wrong-creds");
    // A numeric password is text too, and never shown.
    wrong["auth"] = json!({"username": "reader", "password": 8675309});
    let err = MqttSourceConfig::from_value(wrong.clone()).unwrap_err();
    assert!(!err.to_string().contains("8675309"), "{err}");
    wrong["auth"] = json!({"username": "reader", "password": "8675309"});
    let wrong = MqttSourceConfig::from_value(wrong).unwrap();
    assert!(!format!("{wrong:?}").contains("8675309"));

    let check = MqttSource::new().check(&wrong).await.unwrap();
    assert!(!check.is_success(), "{check:?}");
    assert!(
        check.summary().contains("refused the credentials"),
        "{}",
        check.summary()
    );
    assert!(!check.summary().contains("8675309"));

    // The reader's stream ends with the Auth error, at once: no retry loop.
    let mut events = MqttSource::new()
        .read(&wrong, &rivven_connect::ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
        .await
        .expect("the refusal is reported, not retried forever")
        .expect("an item");
    let err = first.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!err.is_retryable());

    let mut sink = sink_json(&broker, "t");
    sink["auth"] = json!({"username": "reader", "password": "nope"});
    let sink = <MqttSinkConfig as rivven_connect::SinkConfig>::from_value(sink).unwrap();
    let events = vec![rivven_connect::SourceEvent::record("s", json!({"id": 1}))];
    let err = MqttSink::new()
        .write_borrowed(&sink, &events)
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!err.is_retryable());

    // The right password is admitted.
    let mut right = source_json(&broker, &["t"], "right-creds");
    right["auth"] = json!({"username": "reader", "password": "right-password"});
    let right = MqttSourceConfig::from_value(right).unwrap();
    assert!(MqttSource::new().check(&right).await.unwrap().is_success());
}
