//! Through the real runtime: once a request's attempts are used up the write
//! fails, the pipeline restarts from its committed position and replays —
//! nothing is lost, and each replayed request carries the same key.

use std::collections::BTreeMap;

use rivven_connect::runtime::OnError;
use rivven_connect::SinkConfig;
use rivven_connect_http::webhook::{WebhookSink, WebhookSinkConfig};
use rivven_connect_testing::{MockConfig, MockSource, TestHarness};
use serde_json::json;

use crate::dead_letter::settings;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_retries_restarts_the_pipeline_without_loss() {
    // Requests 3 to 10 fail: with two attempts a request, four writes give up.
    let server = Receiver::start(|n, _| {
        if (3..=10).contains(&n) {
            Reply::Status(503, "outage")
        } else {
            OK
        }
    })
    .await;
    let config = WebhookSinkConfig::from_value(json!({
        "url": server.url(),
        "retry": fast_retry(2),
        "circuit_breaker": {"failure_threshold": 1000},
    }))
    .unwrap();
    let harness = TestHarness::with_configs(
        MockSource::counting(30),
        MockConfig::default(),
        WebhookSink::new(),
        config,
    )
    .with_settings(settings(OnError::Stop).with_batch_size(10));
    let result = harness.run_pipeline().await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.restarts, 4, "{result:?}");

    let mut keys: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for r in server.accepted() {
        keys.entry(r.ids()[0])
            .or_default()
            .push(r.header("idempotency-key").unwrap());
    }
    assert_eq!(
        keys.keys().copied().collect::<Vec<_>>(),
        (0..30).collect::<Vec<_>>()
    );
    let replayed: Vec<u64> = keys
        .iter()
        .filter(|(_, k)| k.len() > 1)
        .map(|(i, _)| *i)
        .collect();
    assert!(
        !replayed.is_empty(),
        "the events before the outage were sent again"
    );
    for (id, k) in &keys {
        assert!(
            k.windows(2).all(|w| w[0] == w[1]),
            "event {id}: one key for every replay"
        );
    }
}
