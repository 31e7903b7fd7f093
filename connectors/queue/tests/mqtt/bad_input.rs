//! Bad configuration and an unreachable broker.

use rivven_connect::{ErrorKind, Sink, Source, SourceConfig};
use rivven_connect_queue::mqtt::{MqttSink, MqttSinkConfig, MqttSource, MqttSourceConfig};
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
