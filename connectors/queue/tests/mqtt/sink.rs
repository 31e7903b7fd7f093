//! The `mqtt` sink: an independent subscriber reads back exactly what was
//! written; invalid topics are per-record failures, which the runtime
//! dead-letters.

use rivven_connect::runtime::{OnError, PipelineSettings};
use rivven_connect::{ErrorKind, Sink, SourceConfig, SourceEvent};
use rivven_connect_queue::mqtt::MqttSink;
use rivven_connect_testing::{MockConfig, MockSink, MockSource, TestHarness};
use serde_json::json;

use crate::support::*;

fn events(n: u64) -> Vec<SourceEvent> {
    (0..n)
        .map(|i| {
            SourceEvent::record("orders", json!({"id": i, "amount": i * 3}))
                .with_key(json!(format!("dev{}", i % 4)))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_reads_back_exactly_what_was_written() {
    let broker = broker().await;
    let n = 300;
    let subscriber = Subscriber::start(&broker, "out/#", n as usize + 2).await;
    let sink = MqttSink::new();
    for qos in ["at_most_once", "at_least_once"] {
        let mut config = sink_json(&broker, "out/{key}/{stream}");
        config["qos"] = json!(qos);
        let config =
            <rivven_connect_queue::mqtt::MqttSinkConfig as rivven_connect::SinkConfig>::from_value(
                config,
            )
            .unwrap();
        let batch = if qos == "at_most_once" {
            events(1)
        } else {
            events(n)
        };
        let result = sink.write_borrowed(&config, &batch).await.unwrap();
        assert!(result.is_success(), "{result:?}");
        // QoS 1 writes are pipelined: the flush collects the last PUBACKs.
        let flushed = sink.flush(&config).await.unwrap();
        assert_eq!(flushed.pending, 0, "{flushed:?}");
        assert_eq!(
            result.records_written + flushed.records_written,
            batch.len() as u64
        );
    }
    // QoS 2, a string payload and a base64 (binary) payload.
    let mut config = sink_config(&broker, "out/raw");
    config.qos = rivven_connect_queue::mqtt::Qos::ExactlyOnce;
    let raw = vec![SourceEvent::record("s", json!("plain text"))];
    assert!(sink
        .write_borrowed(&config, &raw)
        .await
        .unwrap()
        .is_success());

    let got = subscriber.finish();
    assert_eq!(got.len(), n as usize + 2, "{got:?}");
    assert_eq!(
        got[0],
        ("out/dev0/orders".into(), r#"{"amount":0,"id":0}"#.into())
    );
    let mut want: Vec<(String, String)> = events(n)
        .iter()
        .map(|e| {
            (
                format!("out/{}/orders", e.key.as_ref().unwrap().as_str().unwrap()),
                e.data.to_string(),
            )
        })
        .collect();
    want.insert(0, got[0].clone());
    want.push(("out/raw".into(), "plain text".into()));
    assert_eq!(got, want, "in order, topic and payload exact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_topic_is_a_per_record_failure_the_rest_is_published() {
    let broker = broker().await;
    let subscriber = Subscriber::start(&broker, "dev/#", 4).await;
    let sink = MqttSink::new();
    let config = sink_config(&broker, "dev/{key}");
    let mut batch = events(4);
    batch.insert(
        2,
        SourceEvent::record("orders", json!({"id": 99})).with_key(json!("a/+")),
    );
    let result = sink.write_borrowed(&config, &batch).await.unwrap();
    let flushed = sink.flush(&config).await.unwrap();
    assert_eq!(
        result.records_written + flushed.records_written,
        4,
        "{result:?} {flushed:?}"
    );
    assert_eq!(flushed.pending, 0);
    let failures: Vec<_> = result.record_failures().collect();
    assert_eq!(failures.len(), 1, "{result:?}");
    assert_eq!(failures[0].0, 2);
    assert_eq!(failures[0].1.kind, ErrorKind::Data);
    assert!(failures[0].1.error.contains("dev/a/+"), "{result:?}");
    let got = subscriber.finish();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|(_, p)| !p.contains("99")), "{got:?}");
    let counted = sink.metrics().snapshot();
    assert_eq!((counted.messages, counted.errors), (4, 1), "{counted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_fails_the_write_retryably_and_the_next_write_reconnects() {
    let mut broker = broker().await;
    let sink = MqttSink::new();
    let config = sink_config(&broker, "t");
    assert!(sink
        .write_borrowed(&config, &events(3))
        .await
        .unwrap()
        .is_success());
    broker.kill();
    let err = sink.write_borrowed(&config, &events(3)).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    broker.restart().await.unwrap();
    let subscriber = Subscriber::start(&broker, "t", 3).await;
    // As the runtime does on its restart: publishes of the first write may
    // have lost their PUBACK with the broker; the pipeline replays them.
    sink.discard_pending(&config);
    assert!(sink
        .write_borrowed(&config, &events(3))
        .await
        .unwrap()
        .is_success());
    assert_eq!(subscriber.finish().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_runtime_the_dead_letter_queue_gets_exactly_the_rejected_messages() {
    let broker = broker().await;
    let subscriber = Subscriber::start(&broker, "dlq/#", 6).await;
    let mut batch = events(6);
    batch.insert(
        3,
        SourceEvent::record("orders", json!({"id": 100})).with_key(json!("bad/#")),
    );
    batch.push(SourceEvent::record("orders", json!({"id": 101})).with_key(json!("bad+")));
    let source_config = <MockConfig as SourceConfig>::from_value(json!({})).unwrap();
    let dead = MockSink::new();
    let settings = PipelineSettings {
        on_error: OnError::DeadLetter,
        ..PipelineSettings::default()
    };
    let harness = TestHarness::with_configs(
        MockSource::new().with_events(batch),
        source_config,
        MqttSink::new(),
        sink_config(&broker, "dlq/{key}"),
    )
    .with_dead_letter(dead.clone(), Default::default())
    .with_settings(settings);
    let result = harness.run_pipeline().await.unwrap();
    assert_eq!(
        (result.events_written, result.dead_lettered),
        (6, 2),
        "{result:?}"
    );
    let letters = serde_json::to_string(&dead.written_events()).unwrap();
    for rejected in [
        r#""id":100"#,
        r#""id":101"#,
        "bad/#",
        "not a valid MQTT topic",
    ] {
        assert!(letters.contains(rejected), "{rejected} in {letters}");
    }
    assert!(
        !letters.contains(r#""id":0"#),
        "only the rejected: {letters}"
    );
    let got = subscriber.finish();
    assert_eq!(got.len(), 6, "{got:?}");
    assert!(got.iter().all(|(_, p)| !p.contains("10")), "{got:?}");
    let counted = harness.sink().metrics().snapshot();
    assert_eq!((counted.messages, counted.errors), (6, 2), "{counted:?}");
}
