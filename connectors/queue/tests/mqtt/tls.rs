//! `mqtts://` against a private Mosquitto serving a certificate from a test
//! CA: a round trip through the sink and the source (`mosquitto_pub`
//! publishing over TLS too), and a broker the CA does not vouch for; the
//! same with MQTT 5.

use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use rivven_connect::{
    ConfiguredCatalog, ErrorKind, Sink, SinkConfig, Source, SourceConfig, SourceEvent,
};
use rivven_connect_queue::mqtt::{MqttSink, MqttSinkConfig, MqttSource, MqttSourceConfig};
use rivven_connect_testing::services::{Mosquitto, TestCertificates};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_trip_over_tls_and_an_untrusted_broker_refused() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path(), "mqtt-ca").unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = TestCertificates::generate(other_dir.path(), "other-ca").unwrap();
    let broker = Mosquitto::builder()
        .tls(&certs.cert, &certs.key)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(broker.url().starts_with("mqtts://127.0.0.1:"));
    let tls = json!({"ca_file": certs.ca});

    // The source's session first, then an independent publisher over TLS.
    let source = MqttSourceConfig::from_value(json!({
        "broker_url": broker.url(), "topics": ["secure/#"], "client_id": "tls-src", "tls": tls
    }))
    .unwrap();
    assert!(MqttSource::new().check(&source).await.unwrap().is_success());
    let mut events = MqttSource::new()
        .read(&source, &ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .arg("--cafile")
        .arg(&certs.ca)
        .args(["-t", "secure/pub", "-q", "1", "-m", r#"{"id":1}"#])
        .status()
        .expect("mosquitto_pub (Debian package mosquitto-clients)");
    assert!(status.success());
    let sink = MqttSinkConfig::from_value(json!({
        "broker_url": broker.url(), "topic": "secure/sink", "tls": tls
    }))
    .unwrap();
    let written = MqttSink::new()
        .write_borrowed(&sink, &[SourceEvent::record("s", json!({"id": 2}))])
        .await
        .unwrap();
    assert!(written.is_success(), "{written:?}");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("a message over TLS")
            .unwrap()
            .unwrap();
        ids.push(event.data["id"].as_u64().unwrap());
        event.take_ack().unwrap().ack();
    }
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
    drop(events);

    // A broker whose certificate another CA signed: refused, not retried.
    let untrusting = MqttSourceConfig::from_value(json!({
        "broker_url": broker.url(), "topics": ["secure/#"], "client_id": "tls-wrong",
        "tls": {"ca_file": other.ca}, "connect_timeout_secs": 5
    }))
    .unwrap();
    let check = MqttSource::new().check(&untrusting).await.unwrap();
    assert!(!check.is_success());
    assert!(
        check.summary().contains("TLS handshake failed"),
        "{}",
        check.summary()
    );
    let mut events = MqttSource::new()
        .read(&untrusting, &ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("reported at once")
        .unwrap()
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.is_retryable());

    // Plain MQTT to the TLS listener fails its check.
    let plain = MqttSinkConfig::from_value(json!({
        "broker_url": format!("mqtt://127.0.0.1:{}", broker.port()), "topic": "t",
        "connect_timeout_secs": 3
    }))
    .unwrap();
    assert!(!MqttSink::new().check(&plain).await.unwrap().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_over_tls_round_trips_and_refuses_an_untrusted_broker() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path(), "mqtt-ca").unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = TestCertificates::generate(other_dir.path(), "other-ca").unwrap();
    let broker = Mosquitto::builder()
        .tls(&certs.cert, &certs.key)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let tls = json!({"ca_file": certs.ca});
    let source = MqttSourceConfig::from_value(json!({
        "broker_url": broker.url(), "topics": ["secure5/#"], "client_id": "tls5-src",
        "tls": tls, "protocol_version": "5"
    }))
    .unwrap();
    assert!(MqttSource::new().check(&source).await.unwrap().is_success());
    let mut events = MqttSource::new()
        .read(&source, &ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sink = MqttSinkConfig::from_value(json!({
        "broker_url": broker.url(), "topic": "secure5/sink", "tls": tls, "protocol_version": "5"
    }))
    .unwrap();
    let event = SourceEvent::record("s", json!({"id": 5}))
        .with_metadata("mqtt_user_properties", json!({"via": "tls"}));
    let written = MqttSink::new()
        .write_borrowed(&sink, &[event])
        .await
        .unwrap();
    assert!(written.is_success(), "{written:?}");
    let mut event = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("a message over TLS")
        .unwrap()
        .unwrap();
    assert_eq!(event.data["id"], 5);
    assert_eq!(
        event.metadata.extra["mqtt_user_properties"],
        json!({"via": "tls"})
    );
    event.take_ack().unwrap().ack();
    drop(events);

    let untrusting = MqttSourceConfig::from_value(json!({
        "broker_url": broker.url(), "topics": ["secure5/#"], "client_id": "tls5-wrong",
        "tls": {"ca_file": other.ca}, "connect_timeout_secs": 5, "protocol_version": "5"
    }))
    .unwrap();
    let mut events = MqttSource::new()
        .read(&untrusting, &ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("reported at once")
        .unwrap()
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("TLS handshake failed"), "{err}");
    assert!(!err.is_retryable());
}
