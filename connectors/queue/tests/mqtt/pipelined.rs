//! Pipelined writes (MQTT 3.1.1, QoS 1): a write returns once its publishes
//! went out, the events whose PUBACK has not arrived are `pending`, the next
//! write or the flush collects them. An independent rumqttc subscriber
//! checks every id; a broker frozen then killed with PUBACKs outstanding
//! never lets them count as written; through the runtime a broker kill
//! mid-stream loses nothing and the final flush acknowledges everything.

use std::sync::Arc;
use std::time::Duration;

use rivven_connect::runtime::{PipelineSettings, RestartPolicy};
use rivven_connect::{RetryConfig, Sink, SourceEvent, WriteResult};
use rivven_connect_queue::mqtt::MqttSink;
use rivven_connect_testing::services::Mosquitto;
use rivven_connect_testing::{MockConfig, MockSource, TestHarness};
use serde_json::json;

use crate::support::*;

fn ids(range: std::ops::Range<u64>) -> Vec<SourceEvent> {
    range
        .map(|i| SourceEvent::record("s", json!({"id": i, "pad": "x".repeat(200)})))
        .collect()
}

/// The committed `next` position of the mock source.
fn committed_next<S: Sink>(harness: &TestHarness<MockSource, S>) -> Option<u64> {
    let state = harness.committed_state()?;
    let text = serde_json::to_string(&state).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    // The state's streams hold `{"next": n}` for the mock's stream.
    fn find(v: &serde_json::Value) -> Option<u64> {
        match v {
            serde_json::Value::Object(map) => map
                .get(rivven_connect_testing::mock::POSITION_KEY)
                .and_then(|n| n.as_u64())
                .or_else(|| map.values().find_map(find)),
            serde_json::Value::Array(items) => items.iter().find_map(find),
            _ => None,
        }
    }
    find(&value)
}

/// First occurrences of the ids, in arrival order.
fn first_occurrences(got: &[u64]) -> Vec<u64> {
    let mut seen = std::collections::HashSet::new();
    got.iter().copied().filter(|i| seen.insert(*i)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_writes_deliver_every_message_once_in_order() {
    let broker = broker().await;
    let subscriber = IdSubscriber::start(&broker, "pipe/#").await;
    let sink = MqttSink::new();
    let config = sink_config(&broker, "pipe/t");
    let (batches, size) = (8u64, 500u64);
    let mut total = WriteResult::new();
    let mut pending_seen = 0;
    for b in 0..batches {
        let result = sink
            .write_borrowed(&config, &ids(b * size..(b + 1) * size))
            .await
            .unwrap();
        assert!(result.is_success(), "{result:?}");
        // The last publish of a write has just gone out: its PUBACK cannot
        // have been read yet.
        assert!(result.pending >= 1, "batch {b}: {result:?}");
        assert!(result.pending <= 100, "at most max_inflight: {result:?}");
        pending_seen = pending_seen.max(result.pending);
        total.absorb(result, 0);
    }
    let flushed = sink.flush(&config).await.unwrap();
    assert_eq!(flushed.pending, 0, "{flushed:?}");
    total.absorb(flushed, 0);
    let n = batches * size;
    assert_eq!(total.records_written, n, "every publish acknowledged once");
    // Nothing more to wait for: a second flush is empty.
    assert_eq!(sink.flush(&config).await.unwrap(), WriteResult::new());
    let got = subscriber.wait_for_all(n, Duration::from_secs(20)).await;
    assert_eq!(got, (0..n).collect::<Vec<_>>(), "each once, in order");
    assert!(pending_seen > 0);
    assert_eq!(sink.metrics().snapshot().messages, n);
}

/// Freezes the broker (`SIGSTOP`): its socket takes publishes, nothing is
/// answered.
fn freeze(broker: &mut Mosquitto) {
    let pid = broker.pid().expect("broker running");
    let status = std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_unacknowledged_when_the_broker_dies_are_never_reported_written() {
    let mut broker = broker().await;
    let subscriber = IdSubscriber::start(&broker, "kill/#").await;
    let sink = MqttSink::new();
    let config = sink_config(&broker, "kill/t");
    let first = sink.write_borrowed(&config, &ids(0..200)).await.unwrap();
    assert!(first.is_success(), "{first:?}");
    // Everything before the freeze is acknowledged.
    let flushed = sink.flush(&config).await.unwrap();
    assert_eq!(first.records_written + flushed.records_written, 200);
    assert_eq!(flushed.pending, 0);
    subscriber.wait_for_all(200, Duration::from_secs(20)).await;

    freeze(&mut broker);
    // 50 publishes (within the inflight window) go out, none is answered.
    let held = sink.write_borrowed(&config, &ids(200..250)).await.unwrap();
    assert_eq!((held.records_written, held.pending), (0, 50), "{held:?}");
    broker.kill();
    let mut written = 0;
    // The loss shows at the next flush or write, and every later one until
    // the runtime discards the pending events: none of the 50 is ever
    // reported written (so the runtime never commits past them).
    let err = sink.flush(&config).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("50 publish(es)"), "{err}");
    for _ in 0..3 {
        match sink.write_borrowed(&config, &ids(250..260)).await {
            Ok(r) => written += r.records_written,
            Err(e) => assert!(e.to_string().contains("replay"), "{e}"),
        }
        assert!(sink.flush(&config).await.is_err());
    }
    assert_eq!(written, 0);

    broker.restart().await.unwrap();
    subscriber.wait_subscribed(2).await;
    // The runtime's restart: discard, replay from the committed position.
    sink.discard_pending(&config);
    let replay = sink.write_borrowed(&config, &ids(200..250)).await.unwrap();
    let flushed = sink.flush(&config).await.unwrap();
    assert_eq!(replay.records_written + flushed.records_written, 50);
    assert_eq!(flushed.pending, 0);
    let got = subscriber.wait_for_all(250, Duration::from_secs(20)).await;
    let after: Vec<u64> = got.iter().copied().filter(|i| *i >= 200).collect();
    assert_eq!(
        after,
        (200..250).collect::<Vec<_>>(),
        "the replay, in order"
    );
}

fn restart_settings() -> PipelineSettings {
    PipelineSettings {
        // Fail over to a restart at once, and restart late enough for the
        // subscriber to be back on the restarted broker.
        retry: RetryConfig::no_retry(),
        restart: RestartPolicy {
            initial_backoff: Duration::from_secs(3),
            jitter: 0.0,
            ..RestartPolicy::default()
        },
        ..PipelineSettings::default()
    }
}

/// A pipeline of `n` events (one every millisecond, so each write is a
/// few events and leaves its last ones pending) into the sink on `broker`.
fn slow_pipeline(
    broker: &Mosquitto,
    n: u64,
    topic: &str,
) -> Arc<TestHarness<MockSource, MqttSink>> {
    let source = MockSource::new()
        .with_generator(n, |i| {
            SourceEvent::record("s", json!({"id": i, "pad": "x".repeat(200)}))
        })
        .with_delay(Duration::from_millis(1));
    Arc::new(
        TestHarness::with_configs(
            source,
            MockConfig::default(),
            MqttSink::new(),
            sink_config(broker, topic),
        )
        .with_settings(restart_settings()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_runtime_a_broker_kill_mid_stream_loses_nothing() {
    let mut broker = Mosquitto::builder()
        .tcp_nodelay(true)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let subscriber = IdSubscriber::start(&broker, "mid/#").await;
    let n = 3_000u64;
    let harness = slow_pipeline(&broker, n, "mid/t");
    let run = tokio::spawn({
        let harness = harness.clone();
        async move { harness.run_pipeline().await }
    });
    // Mid-stream: a quarter delivered. Frozen, the broker answers nothing:
    // the writes meanwhile return with their events pending; then it dies
    // with those PUBACKs outstanding.
    let started = tokio::time::Instant::now();
    while (subscriber.ids().len() as u64) < n / 4 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    freeze(&mut broker);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_kill = committed_next(&harness).unwrap_or(0);
    broker.kill();
    let delivered = subscriber.ids().len() as u64;
    assert!(
        before_kill <= delivered,
        "committed {before_kill} with {delivered} delivered"
    );
    broker.restart().await.unwrap();
    subscriber.wait_subscribed(2).await;
    let result = run.await.unwrap().unwrap();
    assert!(result.success, "{result:?}");
    assert!(result.restarts >= 1, "{result:?}");
    let error = result.error.clone().unwrap_or_default();
    assert!(error.contains("replays them"), "lost in flight: {result:?}");
    assert_eq!(committed_next(&harness), Some(n), "{result:?}");
    let got = subscriber.wait_for_all(n, Duration::from_secs(30)).await;
    let first = first_occurrences(&got);
    assert_eq!(first.len() as u64, n, "every id arrived");
    assert_eq!(first, (0..n).collect::<Vec<_>>(), "first arrivals in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_runtime_the_final_flush_acknowledges_every_publish() {
    let broker = broker().await;
    let subscriber = IdSubscriber::start(&broker, "end/#").await;
    let n = 5_000u64;
    let source = MockSource::new().with_generator(n, |i| {
        SourceEvent::record("s", json!({"id": i, "pad": "x".repeat(200)}))
    });
    let harness = TestHarness::with_configs(
        source,
        MockConfig::default(),
        MqttSink::new(),
        sink_config(&broker, "end/t"),
    );
    let result = harness.run_pipeline().await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(
        (result.events_written, result.restarts),
        (n, 0),
        "{result:?}"
    );
    assert_eq!(committed_next(&harness), Some(n), "{result:?}");
    assert_eq!(harness.sink().metrics().snapshot().messages, n);
    let got = subscriber.wait_for_all(n, Duration::from_secs(20)).await;
    assert_eq!(got, (0..n).collect::<Vec<_>>());
}
