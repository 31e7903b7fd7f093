//! The `redis-streams` source through the runtime.

use std::collections::BTreeMap;
use std::time::Duration;

use rivven_connect::runtime::{OnError, PipelineSettings};
use rivven_connect::{ConnectorError, ErrorKind, Source, SourceConfig};
use rivven_connect_queue::redis::{RedisStreamsSource, RedisStreamsSourceConfig};
use rivven_connect_testing::{MockSink, TestHarness};
use serde_json::json;

use crate::support::*;

fn harness(
    config: RedisStreamsSourceConfig,
    sink: MockSink,
) -> TestHarness<RedisStreamsSource, MockSink> {
    TestHarness::with_configs(RedisStreamsSource::new(), config, sink, Default::default())
}

fn once_each(ids: std::ops::Range<u64>) -> BTreeMap<u64, usize> {
    ids.map(|i| (i, 1)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_arrives_once_and_is_acknowledged() {
    let redis = server().await;
    add(&redis, "orders", 0..200);
    let config = source_config(&redis, "orders", "g");
    let sink = MockSink::new();
    let source = RedisStreamsSource::new();
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
    assert_eq!(id_counts(&events), once_each(0..200));
    assert_eq!(events[0].metadata.extra["redis_stream"], "orders");
    assert_eq!(pending(&redis, "orders", "g"), 0, "every entry XACKed");
    let counted = source.metrics().snapshot();
    assert_eq!(
        (counted.messages, counted.acks, counted.errors),
        (200, 200, 0),
        "{counted:?}"
    );
    add(&redis, "orders", 200..210);
    let next = MockSink::new();
    harness(config, next.clone())
        .run_for(Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(id_counts(&next.written_events()), once_each(200..210));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_not_committed_stay_pending_and_are_re_read_after_a_restart() {
    let redis = server().await;
    add(&redis, "jobs", 0..100);
    let config = source_config(&redis, "jobs", "g");
    let failing =
        MockSink::new().fail_after_with(0, u64::MAX, || ConnectorError::connection("sink down"));
    harness(config.clone(), failing.clone())
        .run_for(Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(failing.written_count(), 0);
    assert!(failing.write_attempts() > 0);
    assert_eq!(
        pending(&redis, "jobs", "g"),
        100,
        "delivered, none acknowledged"
    );
    let sink = MockSink::new();
    harness(config, sink.clone())
        .run_for(Duration::from_secs(3))
        .await
        .unwrap();
    let counts = id_counts(&sink.written_events());
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    assert_eq!(pending(&redis, "jobs", "g"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_stream_loses_nothing() {
    let mut redis = server().await;
    let config = source_config(&redis, "events", "g");
    let sink = MockSink::new();
    let pipeline = {
        let h = harness(config, sink.clone());
        tokio::spawn(async move { h.run_for(Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    add(&redis, "events", 0..50);
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart().await.unwrap();
    add(&redis, "events", 50..100);
    let result = pipeline.await.unwrap().unwrap();
    assert!(result.success, "{result:?}");
    let counts = id_counts(&sink.written_events());
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    assert_eq!(pending(&redis, "events", "g"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_entry_is_dead_lettered_and_acknowledged() {
    let redis = server().await;
    add(&redis, "mixed", 0..5);
    cli(&redis, &["XADD mixed * payload 'not json'".to_string()]);
    add(&redis, "mixed", 5..10);
    let dead = MockSink::new();
    let written = MockSink::new();
    let settings = PipelineSettings {
        on_error: OnError::DeadLetter,
        ..PipelineSettings::default()
    };
    let result = harness(source_config(&redis, "mixed", "g"), written.clone())
        .with_dead_letter(dead.clone(), Default::default())
        .with_settings(settings)
        .run_for(Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(result.events_written, 10, "{result:?}");
    assert_eq!(result.dead_lettered, 1, "{result:?}");
    let letters = serde_json::to_string(&dead.written_events()).unwrap();
    assert!(letters.contains("not JSON"), "{letters}");
    assert_eq!(pending(&redis, "mixed", "g"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_unreachable_server_and_wrong_password() {
    let err = RedisStreamsSourceConfig::from_value(json!({
        "url": "http://h:6380", "stream": "s", "group": "g"
    }))
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("expected redis://"), "{err}");
    let err = RedisStreamsSourceConfig::from_value(json!({
        "url": "redis://h", "stream": "s", "group": "g", "max_inflight": 0
    }))
    .unwrap_err();
    assert!(err.to_string().contains("max_inflight"), "{err}");

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let closed = RedisStreamsSourceConfig::from_value(json!({
        "url": format!("redis://127.0.0.1:{port}/"), "stream": "s", "group": "g",
        "connect_timeout_ms": 2000
    }))
    .unwrap();
    let check = RedisStreamsSource::new().check(&closed).await.unwrap();
    assert!(!check.is_success());
    assert!(
        !check.summary().trim().contains('\n'),
        "{}",
        check.summary()
    );

    let redis = server().await;
    cli(&redis, &["CONFIG SET requirepass right".to_string()]);
    let mut wrong = source_json(&redis, "s", "g");
    wrong["password"] = json!("wrong");
    let wrong = RedisStreamsSourceConfig::from_value(wrong).unwrap();
    assert!(!RedisStreamsSource::new()
        .check(&wrong)
        .await
        .unwrap()
        .is_success());
    let err = RedisStreamsSource::new()
        .read(&wrong, &rivven_connect::ConfiguredCatalog::default(), None)
        .await
        .err()
        .expect("wrong password refused");
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!err.is_retryable());
    assert!(
        !format!("{wrong:?}").contains("wrong\""),
        "the password never shows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_a_dead_consumer_left_pending_are_claimed_and_delivered() {
    let redis = server().await;
    add(&redis, "claims", 0..30);
    cli(
        &redis,
        &[
            "XGROUP CREATE claims g 0".to_string(),
            // Another consumer takes 10 entries and dies without XACK.
            "XREADGROUP GROUP g gone COUNT 10 STREAMS claims >".to_string(),
            // One of them is deleted before anyone acknowledged it.
            format!("XDEL claims {}", first_id(&redis, "claims")),
        ],
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut config = source_json(&redis, "claims", "g");
    config["claim_idle_ms"] = json!(200);
    let config = RedisStreamsSourceConfig::from_value(config).unwrap();
    let sink = MockSink::new();
    let source = RedisStreamsSource::new();
    TestHarness::with_configs(source.clone(), config, sink.clone(), Default::default())
        .run_for(Duration::from_secs(3))
        .await
        .unwrap();
    // The deleted entry is gone from the stream; every other one arrives.
    assert_eq!(id_counts(&sink.written_events()), once_each(1..30));
    assert_eq!(pending(&redis, "claims", "g"), 0, "claimed entries XACKed");
    assert!(
        source.metrics().snapshot().errors >= 1,
        "the deleted entry is reported"
    );
}
