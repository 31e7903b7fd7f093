//! MQTT 5 (`protocol_version: "5"`) against the private Mosquitto, with
//! `mosquitto_pub`/`mosquitto_sub -V mqttv5` as the independent clients:
//! properties both ways, persistent sessions (clean start off + session
//! expiry) that redeliver what was not committed.

use std::process::{Command, Stdio};
use std::time::Duration;

use rivven_connect::{Sink, SinkConfig, SourceConfig, SourceEvent};
use rivven_connect_queue::mqtt::{MqttSink, MqttSinkConfig, MqttSource, MqttSourceConfig};
use rivven_connect_testing::services::Mosquitto;
use rivven_connect_testing::{MockSink, TestHarness};
use serde_json::json;

use crate::support::*;

pub fn v5_source(broker: &Mosquitto, topics: &[&str], client_id: &str) -> MqttSourceConfig {
    let mut json = source_json(broker, topics, client_id);
    json["protocol_version"] = json!("5");
    MqttSourceConfig::from_value(json).unwrap()
}

async fn run(config: &MqttSourceConfig, sink: &MockSink, millis: u64) -> MqttSource {
    let source = MqttSource::new();
    let result = TestHarness::with_configs(
        source.clone(),
        config.clone(),
        sink.clone(),
        Default::default(),
    )
    .run_for(Duration::from_millis(millis))
    .await
    .unwrap();
    assert!(result.success, "{result:?}");
    source
}

/// `mosquitto_pub -V mqttv5` of one message at QoS 1 with `extra` options
/// (e.g. `-D PUBLISH user-property k v`).
pub fn publish_v5(broker: &Mosquitto, topic: &str, payload: &str, extra: &[&str]) {
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args(["-V", "mqttv5", "-q", "1", "-t", topic, "-m", payload])
        .args(extra)
        .status()
        .expect("mosquitto_pub (Debian package mosquitto-clients)");
    assert!(status.success(), "mosquitto_pub failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_source_records_user_properties_and_the_other_properties() {
    let broker = broker().await;
    let config = v5_source(&broker, &["dev/+/events"], "v5-props");
    // A first run creates the persistent session (clean start off, the
    // session never expires by default).
    run(&config, &MockSink::new(), 1500).await;
    publish_v5(
        &broker,
        "dev/a/events",
        r#"{"id": 1}"#,
        &[
            "-D",
            "PUBLISH",
            "user-property",
            "tenant",
            "acme",
            "-D",
            "PUBLISH",
            "user-property",
            "trace",
            "t-1",
            "-D",
            "PUBLISH",
            "user-property",
            "trace",
            "t-2",
            "-D",
            "PUBLISH",
            "content-type",
            "application/json",
            "-D",
            "PUBLISH",
            "response-topic",
            "replies/a",
            "-D",
            "PUBLISH",
            "correlation-data",
            "req-42",
            "-D",
            "PUBLISH",
            "message-expiry-interval",
            "3600",
        ],
    );
    publish_v5(&broker, "dev/b/events", r#"{"id": 2}"#, &[]);
    let sink = MockSink::new();
    let source = run(&config, &sink, 3000).await;
    let events = sink.written_events();
    assert_eq!(id_counts(&events), [(1, 1), (2, 1)].into(), "{events:?}");
    let with = events.iter().find(|e| e.data["id"] == 1).unwrap();
    let extra = &with.metadata.extra;
    assert_eq!(
        extra["mqtt_user_properties"],
        json!({"tenant": "acme", "trace": ["t-1", "t-2"]})
    );
    assert_eq!(extra["mqtt_content_type"], "application/json");
    assert_eq!(extra["mqtt_response_topic"], "replies/a");
    assert_eq!(extra["mqtt_correlation_data"], "req-42");
    let expiry = extra["mqtt_message_expiry_secs"].as_u64().unwrap();
    assert!((3500..=3600).contains(&expiry), "{expiry}");
    assert_eq!(extra["mqtt_topic"], "dev/a/events");
    assert_eq!(extra["mqtt_qos"], 1);
    let without = events.iter().find(|e| e.data["id"] == 2).unwrap();
    assert!(!without.metadata.extra.contains_key("mqtt_user_properties"));
    let counted = source.metrics().snapshot();
    assert_eq!((counted.messages, counted.acks), (2, 2), "{counted:?}");
    // Acknowledged after the commit: nothing comes again.
    let again = MockSink::new();
    run(&config, &again, 2000).await;
    assert_eq!(again.written_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_messages_not_committed_are_redelivered_by_the_persistent_session() {
    let broker = broker().await;
    let config = v5_source(&broker, &["v5/orders"], "v5-redeliver");
    run(&config, &MockSink::new(), 1500).await;
    publish(&broker, "v5/orders", &ids_payloads(0..60));
    // Read with a sink that fails every write: the source is dropped (the
    // pipeline restarts and ends) before anything is committed, so nothing
    // is acknowledged.
    let failing = MockSink::new().fail_after_with(0, u64::MAX, || {
        rivven_connect::ConnectorError::connection("sink down")
    });
    let _ = TestHarness::with_configs(
        MqttSource::new(),
        config.clone(),
        failing.clone(),
        Default::default(),
    )
    .run_for(Duration::from_secs(3))
    .await
    .unwrap();
    assert_eq!(failing.written_count(), 0);
    assert!(failing.write_attempts() > 0, "the messages were read");
    let sink = MockSink::new();
    run(&config, &sink, 4000).await;
    let counts = id_counts(&sink.written_events());
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        (0..60).collect::<Vec<_>>(),
        "every unacknowledged message came again"
    );
    assert!(
        sink.written_events()
            .iter()
            .any(|e| e.metadata.extra["mqtt_dup"] == true),
        "redelivered messages are flagged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_a_session_expires_after_session_expiry_secs() {
    let broker = broker().await;
    let mut json = source_json(&broker, &["short/#"], "v5-expiry");
    json["protocol_version"] = json!("5.0");
    json["session_expiry_secs"] = json!(1);
    let config = MqttSourceConfig::from_value(json).unwrap();
    run(&config, &MockSink::new(), 1000).await;
    // Away longer than the session expiry: the broker forgot the session
    // (and its subscription), so what is published now is kept for nobody.
    tokio::time::sleep(Duration::from_secs(4)).await;
    publish(&broker, "short/a", &ids_payloads(0..5));
    let sink = MockSink::new();
    run(&config, &sink, 2000).await;
    assert_eq!(sink.written_count(), 0, "an expired session kept messages");
    // Within the expiry the session is kept: published while away, read on return.
    let mut json = source_json(&broker, &["long/#"], "v5-long");
    json["protocol_version"] = json!("v5");
    json["session_expiry_secs"] = json!(300);
    let config = MqttSourceConfig::from_value(json).unwrap();
    run(&config, &MockSink::new(), 1000).await;
    publish(&broker, "long/a", &ids_payloads(0..5));
    let sink = MockSink::new();
    run(&config, &sink, 2500).await;
    assert_eq!(sink.written_count(), 5);
}

/// `mosquitto_sub -V mqttv5` printing topic, payload and properties, one
/// line per message.
fn subscribe_v5(broker: &Mosquitto, filter: &str, count: usize) -> std::process::Child {
    Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args(["-V", "mqttv5", "-q", "1", "-t", filter])
        .args(["-C", &count.to_string(), "-W", "30"])
        .args(["-F", "%t|%p|%P|%C|%R|%D|%E"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub (Debian package mosquitto-clients)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_sink_publishes_metadata_as_properties_read_back_by_mosquitto_sub() {
    let broker = broker().await;
    let subscriber = subscribe_v5(&broker, "v5out/#", 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut json = sink_json(&broker, "v5out/{key}");
    json["protocol_version"] = json!("5");
    let config = MqttSinkConfig::from_value(json).unwrap();
    let events = vec![
        SourceEvent::record("s", json!({"id": 1}))
            .with_key(json!("a"))
            .with_metadata(
                "mqtt_user_properties",
                json!({"tenant": "acme", "trace": ["t-1", "t-2"]}),
            )
            .with_metadata("mqtt_content_type", json!("application/json"))
            .with_metadata("mqtt_response_topic", json!("replies/a"))
            .with_metadata("mqtt_correlation_data", json!("req-42"))
            .with_metadata("mqtt_message_expiry_secs", json!(600)),
        // Binary correlation data travels base64-flagged.
        SourceEvent::record("s", json!("plain"))
            .with_key(json!("b"))
            .with_metadata("mqtt_correlation_data", json!("b2s="))
            .with_metadata("mqtt_correlation_data_encoding", json!("base64")),
        SourceEvent::record("s", json!({"id": 3})).with_key(json!("c")),
    ];
    let sink = MqttSink::new();
    let result = sink.write_borrowed(&config, &events).await.unwrap();
    assert!(result.is_success(), "{result:?}");
    assert_eq!(result.records_written, 3);
    let out = subscriber.wait_with_output().unwrap();
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let fields: Vec<&str> = lines[0].split('|').collect();
    assert_eq!(fields[..2], ["v5out/a", r#"{"id":1}"#], "{lines:?}");
    assert!(fields[2].contains("tenant:acme"), "{lines:?}");
    assert!(
        fields[2].contains("trace:t-1") && fields[2].contains("trace:t-2"),
        "{lines:?}"
    );
    assert_eq!(
        fields[3..6],
        ["application/json", "replies/a", "req-42"],
        "{lines:?}"
    );
    let expiry: u64 = fields[6].parse().unwrap();
    assert!((590..=600).contains(&expiry), "{lines:?}");
    assert!(lines[1].starts_with("v5out/b|plain||||ok|"), "{lines:?}");
    assert!(lines[2].starts_with(r#"v5out/c|{"id":3}||||"#), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_properties_survive_an_mqtt_to_mqtt_round_trip() {
    let broker = broker().await;
    let config = v5_source(&broker, &["in/#"], "v5-bridge");
    run(&config, &MockSink::new(), 1500).await;
    publish_v5(
        &broker,
        "in/x",
        "hello",
        &[
            "-D",
            "PUBLISH",
            "user-property",
            "k",
            "v",
            "-D",
            "PUBLISH",
            "content-type",
            "text/plain",
        ],
    );
    let read = MockSink::new();
    let mut json = source_json(&broker, &["in/#"], "v5-bridge");
    json["protocol_version"] = json!("5");
    json["parse_json_payload"] = json!(false);
    run(&MqttSourceConfig::from_value(json).unwrap(), &read, 2500).await;
    let events = read.written_events();
    assert_eq!(events.len(), 1, "{events:?}");
    let subscriber = subscribe_v5(&broker, "bridged/#", 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut json = sink_json(&broker, "bridged/{stream}");
    json["protocol_version"] = json!("5");
    let sink_config = MqttSinkConfig::from_value(json).unwrap();
    let result = MqttSink::new()
        .write_borrowed(&sink_config, &events)
        .await
        .unwrap();
    assert!(result.is_success(), "{result:?}");
    let out = String::from_utf8(subscriber.wait_with_output().unwrap().stdout).unwrap();
    assert!(
        out.starts_with("bridged/in/x|hello|k:v|text/plain|"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_the_last_will_is_published_when_the_connection_drops_without_disconnect() {
    let broker = broker().await;
    let watcher = subscribe_v5(&broker, "wills/#", 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut json = sink_json(&broker, "alive");
    json["protocol_version"] = json!("5");
    json["last_will"] = json!({"topic": "wills/sink", "message": "gone", "qos": "at_least_once"});
    let config = MqttSinkConfig::from_value(json).unwrap();
    let sink = MqttSink::new();
    let events = [SourceEvent::record("s", json!({"id": 1}))];
    assert!(sink
        .write_borrowed(&config, &events)
        .await
        .unwrap()
        .is_success());
    // Dropping the sink closes its socket without a DISCONNECT.
    drop(sink);
    let out = String::from_utf8(watcher.wait_with_output().unwrap().stdout).unwrap();
    assert!(out.starts_with("wills/sink|gone|"), "{out:?}");
}
