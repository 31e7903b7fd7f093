//! The `nats` source through the runtime: round trip with headers and keys,
//! redelivery of what was not committed, a server restart mid-stream, a
//! poison message (and a valid `1e400` document, which is not one), core
//! NATS.

use std::collections::BTreeMap;
use std::time::Duration;

use rivven_connect::runtime::{OnError, PipelineSettings};
use rivven_connect::{ConnectorError, SourceConfig};
use rivven_connect_queue::nats::{NatsSource, NatsSourceConfig};
use rivven_connect_testing::{eventually, MockSink, TestHarness};
use serde_json::json;

use crate::support::*;

fn harness(config: NatsSourceConfig, sink: MockSink) -> TestHarness<NatsSource, MockSink> {
    TestHarness::with_configs(NatsSource::new(), config, sink, Default::default())
}

fn ids(events: &[rivven_connect::SourceEvent]) -> Vec<u64> {
    id_counts(events).keys().copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_arrives_once_with_headers_and_is_acked() {
    let nats = server().await;
    create_stream(&nats, "ORDERS", &["orders.>"]).await;
    let mut messages: Vec<_> = (0..200u64)
        .map(|i| {
            let headers = BTreeMap::from([("order-key".to_string(), format!("k{}", i % 7))]);
            (
                format!("orders.{}", i % 3),
                json!({"id": i}).to_string().into_bytes(),
                headers,
            )
        })
        .collect();
    messages.push(("other.x".into(), b"{}".to_vec(), BTreeMap::new()));
    publish(&nats, &messages[..200]);
    let mut config = source_config(&nats, "ORDERS");
    config.key_header = Some("order-key".into());
    config.max_inflight = 64;
    let sink = MockSink::new();
    let source = NatsSource::new();
    let result = TestHarness::with_configs(
        source.clone(),
        config.clone(),
        sink.clone(),
        Default::default(),
    )
    .run_for(Duration::from_secs(3))
    .await
    .unwrap();
    assert!(result.success, "{result:?}");
    let events = sink.written_events();
    assert_eq!(id_counts(&events), (0..200).map(|i| (i, 1)).collect());
    let counted = source.metrics().snapshot();
    assert_eq!(
        (counted.messages, counted.acks, counted.errors),
        (200, 200, 0),
        "{counted:?}"
    );
    let e = events.iter().find(|e| e.data["id"] == 8).unwrap();
    assert_eq!(e.stream, "orders.2");
    assert_eq!(e.key, Some(json!("k1")));
    assert_eq!(e.metadata.extra["nats_headers"]["order-key"], "k1");
    assert_eq!(e.metadata.extra["nats_subject"], "orders.2");
    assert_eq!(e.metadata.extra["nats_stream"], "ORDERS");
    assert_eq!(e.metadata.extra["nats_stream_seq"], 9);
    assert_eq!(e.metadata.extra["nats_redelivered"], false);
    // Every message acked after the commit: none pending, none unacked.
    let durable = config.effective_durable_name();
    assert!(
        eventually_pending(&nats, "ORDERS", &durable, (0, 0)).await,
        "all acked"
    );
    // The durable consumer resumes after the acked ones.
    publish_ids(&nats, "orders.9", 200..210);
    let next = MockSink::new();
    harness(config, next.clone())
        .run_for(Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(ids(&next.written_events()), (200..210).collect::<Vec<_>>());
}

async fn eventually_pending(
    nats: &rivven_connect_testing::services::Nats,
    stream: &str,
    durable: &str,
    want: (usize, u64),
) -> bool {
    for _ in 0..40 {
        if consumer_pending(nats, stream, durable).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_not_committed_are_redelivered_none_lost() {
    let nats = server().await;
    create_stream(&nats, "JOBS", &["jobs"]).await;
    publish_ids(&nats, "jobs", 0..100);
    let mut config = source_config(&nats, "JOBS");
    config.ack_wait_secs = 1;
    // The sink fails every write (retryably: the runtime restarts the
    // pipeline, whose tokens are rejected: nak, redelivered): nothing is
    // committed, nothing acked.
    let failing =
        MockSink::new().fail_after_with(0, u64::MAX, || ConnectorError::connection("sink down"));
    harness(config.clone(), failing.clone())
        .run_for(Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(failing.written_count(), 0);
    assert!(
        failing.write_attempts() > 0,
        "the messages reached the sink"
    );
    let sink = MockSink::new();
    harness(config.clone(), sink.clone())
        .run_for(Duration::from_secs(4))
        .await
        .unwrap();
    let events = sink.written_events();
    assert_eq!(
        ids(&events),
        (0..100).collect::<Vec<_>>(),
        "every message came again"
    );
    assert!(
        events
            .iter()
            .any(|e| e.metadata.extra["nats_redelivered"] == true),
        "flagged as redelivered"
    );
    assert!(eventually_pending(&nats, "JOBS", &config.effective_durable_name(), (0, 0)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_stream_loses_nothing() {
    let mut nats = server().await;
    create_stream(&nats, "EVENTS", &["events.>"]).await;
    let mut config = source_config(&nats, "EVENTS");
    config.ack_wait_secs = 2;
    let sink = MockSink::new();
    let pipeline = {
        let h = harness(config, sink.clone());
        tokio::spawn(async move { h.run_for(Duration::from_secs(16)).await })
    };
    publish_ids(&nats, "events.a", 0..50);
    assert!(eventually(|| sink.written_count() >= 50, Duration::from_secs(5)).await);
    // JetStream acknowledges a publish before its write reaches the file.
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.restart().await.unwrap();
    publish_ids(&nats, "events.b", 50..100);
    let result = pipeline.await.unwrap().unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(
        ids(&sink.written_events()),
        (0..100).collect::<Vec<_>>(),
        "nothing lost across the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_and_acked_and_1e400_is_kept_exactly() {
    let nats = server().await;
    create_stream(&nats, "MIXED", &["mixed"]).await;
    publish_ids(&nats, "mixed", 0..5);
    let beyond = r#"{"id": 99, "v": 1e400}"#;
    publish(
        &nats,
        &[
            ("mixed".into(), b"not json at all".to_vec(), BTreeMap::new()),
            ("mixed".into(), beyond.as_bytes().to_vec(), BTreeMap::new()),
            ("mixed".into(), b"\xff\xfe binary".to_vec(), BTreeMap::new()),
        ],
    );
    publish_ids(&nats, "mixed", 5..10);
    let dead = MockSink::new();
    let written = MockSink::new();
    let settings = PipelineSettings {
        on_error: OnError::DeadLetter,
        ..PipelineSettings::default()
    };
    let config = source_config(&nats, "MIXED");
    let result = harness(config.clone(), written.clone())
        .with_dead_letter(dead.clone(), Default::default())
        .with_settings(settings)
        .run_for(Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(result.events_written, 11, "{result:?}");
    assert_eq!(result.dead_lettered, 2, "{result:?}");
    assert!(
        written
            .written_events()
            .iter()
            .any(|e| e.data == json!(beyond)),
        "the 1e400 document is written as its exact text"
    );
    let letters = serde_json::to_string(&dead.written_events()).unwrap();
    assert!(letters.contains("not JSON"), "{letters}");
    assert!(letters.contains("not UTF-8"), "{letters}");
    // Handled counts as delivered: acked, nothing comes again.
    assert!(eventually_pending(&nats, "MIXED", &config.effective_durable_name(), (0, 0)).await);

    // on_error: stop fails the pipeline on a poison message, no crash.
    publish(
        &nats,
        &[("mixed".into(), b"{broken".to_vec(), BTreeMap::new())],
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_mode_delivers_what_is_published_while_subscribed() {
    let nats = server().await;
    let config = NatsSourceConfig::from_value(json!({
        "url": nats.url(), "mode": "core", "subject": "live.*", "queue_group": "workers"
    }))
    .unwrap();
    let sink = MockSink::new();
    let pipeline = {
        let h = harness(config, sink.clone());
        tokio::spawn(async move { h.run_for(Duration::from_secs(4)).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let script = r#"
import asyncio, sys
import nats
async def main():
    nc = await nats.connect(sys.argv[1])
    for i in range(30):
        await nc.publish("live.x", ('{"id": %d}' % i).encode())
    await nc.publish("dead.x", b'{"id": 1000}')
    await nc.flush()
    await nc.close()
asyncio.run(main())
"#;
    python(&nats, script, "");
    let result = pipeline.await.unwrap().unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(ids(&sink.written_events()), (0..30).collect::<Vec<_>>());
}
