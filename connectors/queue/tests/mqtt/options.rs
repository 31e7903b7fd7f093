//! Source options beyond the defaults: QoS 2 (exactly_once) subscriptions
//! and `clean_session: true` (no session kept between runs).

use std::time::Duration;

use rivven_connect::SourceConfig;
use rivven_connect_queue::mqtt::{MqttSource, MqttSourceConfig};
use rivven_connect_testing::{MockSink, TestHarness};
use std::process::Command;

use crate::support::*;

async fn run(
    config: &MqttSourceConfig,
    sink: &MockSink,
    secs: u64,
) -> rivven_connect_testing::PipelineResult {
    TestHarness::with_configs(
        MqttSource::new(),
        config.clone(),
        sink.clone(),
        Default::default(),
    )
    .run_for(Duration::from_secs(secs))
    .await
    .unwrap()
}

/// `mosquitto_pub` of each payload at QoS 2.
fn publish_qos2(
    broker: &rivven_connect_testing::services::Mosquitto,
    topic: &str,
    payloads: &[String],
) {
    for p in payloads {
        let status = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
            .args(["-t", topic, "-q", "2", "-m", p])
            .status()
            .expect("mosquitto_pub (Debian package mosquitto-clients)");
        assert!(status.success());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos_2_messages_arrive_once_and_are_completed_after_the_commit() {
    let broker = broker().await;
    let mut json = source_json(&broker, &["q2/#"], "qos2");
    json["qos"] = serde_json::json!("exactly_once");
    let config = MqttSourceConfig::from_value(json).unwrap();
    let first = MockSink::new();
    run(&config, &first, 1).await;
    publish_qos2(&broker, "q2/a", &ids_payloads(0..20));
    let sink = MockSink::new();
    let result = run(&config, &sink, 3).await;
    assert!(result.success, "{result:?}");
    let events = sink.written_events();
    assert_eq!(id_counts(&events), (0..20).map(|i| (i, 1)).collect());
    assert!(events.iter().all(|e| e.metadata.extra["mqtt_qos"] == 2));
    // PUBREC went after the commit and the flow completed: nothing again.
    let again = MockSink::new();
    run(&config, &again, 2).await;
    assert_eq!(again.written_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_session_keeps_nothing_between_runs() {
    let broker = broker().await;
    let mut json = source_json(&broker, &["clean/#"], "clean");
    json["clean_session"] = serde_json::json!(true);
    let config = MqttSourceConfig::from_value(json).unwrap();
    let first = MockSink::new();
    run(&config, &first, 1).await;
    // Published while no pipeline runs: with a clean session nobody is
    // subscribed, so the broker keeps nothing for this client.
    publish(&broker, "clean/a", &ids_payloads(0..10));
    let second = MockSink::new();
    run(&config, &second, 2).await;
    assert_eq!(
        second.written_count(),
        0,
        "a clean session got old messages"
    );
}
