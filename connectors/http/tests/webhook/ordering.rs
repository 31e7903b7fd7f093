//! Concurrent requests keep each key's order, and nothing is lost, while the
//! endpoint fails and answers slowly at random.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rivven_connect::runtime::OnError;
use rivven_connect::{SinkConfig, SourceEvent};
use rivven_connect_http::webhook::{WebhookSink, WebhookSinkConfig};
use rivven_connect_testing::{MockConfig, MockSource, TestHarness};
use serde_json::json;

use crate::dead_letter::settings;
use crate::support::*;

/// A small deterministic generator (xorshift), seeded per test.
fn chance(state: &AtomicU64) -> u64 {
    let mut x = state.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state.store(x, Ordering::Relaxed);
    x % 100
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_lost_or_reordered_per_key_across_concurrent_requests() {
    let seed = 0x9e37_79b9_7f4a_7c15_u64;
    println!("seed {seed:#x}");
    let rng = AtomicU64::new(seed);
    let server = Receiver::start(move |_, _| match chance(&rng) {
        0..=11 => Reply::Status(503, "flaky"),
        12..=14 => Reply::RetryAfter(429, "0"),
        _ => OK,
    })
    .await;
    let config = WebhookSinkConfig::from_value(json!({
        "url": server.url(),
        "batch_size": 3,
        "max_concurrent_requests": 4,
        "retry": {"max_attempts": 20, "initial_backoff_ms": 1, "max_backoff_ms": 5},
        "circuit_breaker": {"failure_threshold": 1000},
    }))
    .unwrap();
    let keys = 10;
    let n = 1200;
    let source = MockSource::new().with_generator(n, move |i| {
        SourceEvent::record("orders", json!({"id": i, "key": i % keys})).with_key(json!(i % keys))
    });
    let harness =
        TestHarness::with_configs(source, MockConfig::default(), WebhookSink::new(), config)
            .with_settings(settings(OnError::Stop));
    let result = harness.run_pipeline().await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.events_written, n);

    let mut per_key: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let accepted = server.accepted();
    for request in &accepted {
        for item in request.json().as_array().unwrap() {
            per_key
                .entry(item["key"].as_u64().unwrap())
                .or_default()
                .push(item["id"].as_u64().unwrap());
        }
    }
    assert_eq!(per_key.len() as u64, keys);
    for (key, ids) in &per_key {
        let expected: Vec<u64> = (0..n).filter(|i| i % keys == *key).collect();
        assert_eq!(ids, &expected, "key {key}: every event once, in order");
    }
    let refused = server.received().len() - accepted.len();
    assert!(
        refused > 20,
        "the endpoint really failed requests: {refused}"
    );
}
