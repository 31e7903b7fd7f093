//! The `mqtt` source through the runtime: round trip, redelivery of what
//! was not committed, a broker restart mid-stream, a poison message (and a
//! valid document beyond what a JSON value holds, which is not one).

use std::collections::BTreeMap;
use std::time::Duration;

use rivven_connect::runtime::{OnError, PipelineSettings};
use rivven_connect_queue::mqtt::MqttSource;
use rivven_connect_testing::{MockSink, TestHarness};

use crate::support::*;

fn harness(
    config: rivven_connect_queue::mqtt::MqttSourceConfig,
    sink: MockSink,
) -> TestHarness<MqttSource, MockSink> {
    TestHarness::with_configs(MqttSource::new(), config, sink, Default::default())
}

fn once_each(n: u64) -> BTreeMap<u64, usize> {
    (0..n).map(|i| (i, 1)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_published_message_arrives_once_and_the_session_keeps_the_rest() {
    let broker = broker().await;
    let config = source_config(&broker, &["sensors/+/temp"], "round-trip");
    // A first run creates the persistent session (and its subscription).
    let first = MockSink::new();
    harness(config.clone(), first.clone())
        .run_for(Duration::from_millis(1500))
        .await
        .unwrap();
    assert_eq!(first.written_count(), 0);
    // Published while no pipeline runs: the broker queues them for the session.
    publish(&broker, "sensors/a/temp", &ids_payloads(0..150));
    publish(&broker, "sensors/b/humidity", &ids_payloads(1000..1010));
    let sink = MockSink::new();
    let source = MqttSource::new();
    let result = TestHarness::with_configs(
        source.clone(),
        config.clone(),
        sink.clone(),
        Default::default(),
    )
    .run_for(Duration::from_secs(4))
    .await
    .unwrap();
    assert!(result.success, "{result:?}");
    let events = sink.written_events();
    assert_eq!(
        id_counts(&events),
        once_each(150),
        "the filter matched, once each"
    );
    // The instance's metrics (shared by its clones) counted each message
    // and its acknowledgement after the commit.
    let counted = source.metrics().snapshot();
    assert_eq!(
        (counted.messages, counted.acks, counted.errors),
        (150, 150, 0),
        "{counted:?}"
    );
    assert!(counted.bytes >= 150 * 8, "{counted:?}");
    let e = &events[0];
    assert_eq!(e.stream, "sensors/a/temp");
    assert_eq!(e.metadata.extra["mqtt_topic"], "sensors/a/temp");
    assert_eq!(e.metadata.extra["mqtt_qos"], 1);
    // Everything was acknowledged: a third run gets nothing again.
    let third = MockSink::new();
    harness(config, third.clone())
        .run_for(Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(third.written_count(), 0, "acknowledged messages came again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_not_committed_are_redelivered_none_lost() {
    let broker = broker().await;
    let config = source_config(&broker, &["orders"], "redeliver");
    harness(config.clone(), MockSink::new())
        .run_for(Duration::from_millis(1500))
        .await
        .unwrap();
    publish(&broker, "orders", &ids_payloads(0..100));
    // The sink fails every write (retryably: the runtime restarts the
    // pipeline, reading again): nothing is committed, nothing acknowledged.
    let failing = MockSink::new().fail_after_with(0, u64::MAX, || {
        rivven_connect::ConnectorError::connection("sink down")
    });
    harness(config.clone(), failing.clone())
        .run_for(Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(failing.written_count(), 0);
    assert!(
        failing.write_attempts() > 0,
        "the messages reached the failing sink"
    );
    let sink = MockSink::new();
    harness(config, sink.clone())
        .run_for(Duration::from_secs(4))
        .await
        .unwrap();
    let counts = id_counts(&sink.written_events());
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>(),
        "every message came again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_stream_loses_nothing() {
    let mut broker = broker().await;
    let config = source_config(&broker, &["events/#"], "restart");
    let sink = MockSink::new();
    let pipeline = {
        let h = harness(config, sink.clone());
        tokio::spawn(async move { h.run_for(Duration::from_secs(12)).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    publish(&broker, "events/x", &ids_payloads(0..50));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    broker.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    broker.restart().await.unwrap();
    // The source reconnects with backoff and subscribes again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    publish(&broker, "events/y", &ids_payloads(50..100));
    let result = pipeline.await.unwrap().unwrap();
    assert!(result.success, "{result:?}");
    let counts = id_counts(&sink.written_events());
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>(),
        "nothing lost across the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_with_its_payload_and_acknowledged() {
    let broker = broker().await;
    let config = source_config(&broker, &["mixed"], "poison");
    harness(config.clone(), MockSink::new())
        .run_for(Duration::from_millis(1500))
        .await
        .unwrap();
    let mut payloads = ids_payloads(0..5);
    payloads.push("not json at all".into());
    // Valid JSON, though no JSON value holds 1e400: written, as its exact text.
    let beyond = r#"{"id": 99, "v": 1e400}"#;
    payloads.push(beyond.into());
    payloads.extend(ids_payloads(5..10));
    publish(&broker, "mixed", &payloads);
    let dead = MockSink::new();
    let written = MockSink::new();
    let settings = PipelineSettings {
        on_error: OnError::DeadLetter,
        ..PipelineSettings::default()
    };
    let result = harness(config.clone(), written.clone())
        .with_dead_letter(dead.clone(), Default::default())
        .with_settings(settings)
        .run_for(Duration::from_secs(4))
        .await
        .unwrap();
    assert_eq!(result.events_written, 11, "{result:?}");
    assert_eq!(result.dead_lettered, 1, "{result:?}");
    assert!(
        written
            .written_events()
            .iter()
            .any(|e| e.data == serde_json::json!(beyond)),
        "the 1e400 document is written as its exact text"
    );
    let letters = serde_json::to_string(&dead.written_events()).unwrap();
    assert!(letters.contains("not JSON"), "{letters}");
    assert!(letters.contains("not json at all"), "{letters}");
    // Handled (dead-lettered) counts as delivered: nothing comes again.
    let again = MockSink::new();
    harness(config, again.clone())
        .run_for(Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(again.written_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_stops_the_pipeline_with_on_error_stop() {
    let broker = broker().await;
    let config = source_config(&broker, &["strict"], "strict");
    harness(config.clone(), MockSink::new())
        .run_for(Duration::from_millis(1500))
        .await
        .unwrap();
    publish(&broker, "strict", &["{broken".to_string()]);
    let settings = PipelineSettings {
        on_error: OnError::Stop,
        ..PipelineSettings::default()
    };
    let result = harness(config, MockSink::new())
        .with_settings(settings)
        .run_for(Duration::from_secs(3))
        .await
        .unwrap();
    assert!(!result.success, "{result:?}");
    assert!(
        result.error.as_deref().unwrap_or("").contains("not JSON"),
        "{result:?}"
    );
}
