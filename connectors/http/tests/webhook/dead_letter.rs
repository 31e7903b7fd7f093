//! Through the real runtime: the refused batch goes to the dead-letter sink
//! with the answer's status and body; everything else reaches the endpoint.

use std::time::Duration;

use rivven_connect::runtime::{OnError, PipelineSettings, RestartPolicy};
use rivven_connect::SinkConfig;
use rivven_connect_http::webhook::{WebhookSink, WebhookSinkConfig};
use rivven_connect_testing::{MockConfig, MockSink, MockSource, TestHarness};
use serde_json::json;

use crate::support::*;

pub fn settings(on_error: OnError) -> PipelineSettings {
    PipelineSettings::default()
        .with_batch_size(50)
        .with_on_error(on_error)
        .with_restart(RestartPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(200),
            max_consecutive_failures: 5,
            ..RestartPolicy::default()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_400_batch_is_dead_lettered_with_status_and_body_excerpt() {
    let server = Receiver::start(|n, r| {
        if r.ids().contains(&42) {
            Reply::Status(422, "{\"error\":\"order 42: total must be positive\"}")
        } else if n % 7 == 3 {
            Reply::Status(503, "busy")
        } else {
            OK
        }
    })
    .await;
    let config = WebhookSinkConfig::from_value(json!({
        "url": server.url(),
        "batch_size": 10,
        "retry": fast_retry(5),
    }))
    .unwrap();
    let dead = MockSink::new();
    let harness = TestHarness::with_configs(
        MockSource::counting(200),
        MockConfig::default(),
        WebhookSink::new(),
        config,
    )
    .with_dead_letter(dead.clone(), MockConfig::default())
    .with_settings(settings(OnError::DeadLetter));
    let result = harness.run_pipeline().await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.events_written, 190, "{result:?}");
    assert_eq!(result.dead_lettered, 10, "{result:?}");

    let mut delivered: Vec<u64> = server.accepted().iter().flat_map(|r| r.ids()).collect();
    delivered.sort_unstable();
    let expected: Vec<u64> = (0..200).filter(|i| !(40..50).contains(i)).collect();
    assert_eq!(delivered, expected, "every other event once");

    let letters = dead.written_events();
    let ids: Vec<u64> = letters
        .iter()
        .map(|l| l.data["event"]["data"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ids,
        (40..50).collect::<Vec<_>>(),
        "the whole original records"
    );
    for letter in &letters {
        let error = letter.data["error"].as_str().unwrap();
        assert!(error.contains("422"), "{error}");
        assert!(error.contains("total must be positive"), "{error}");
        assert_eq!(
            letter.data["connector"],
            json!("http-webhook"),
            "{letter:?}"
        );
        assert_eq!(letter.data["stage"], json!("sink"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_on_error_stop_a_refused_batch_stops_the_pipeline_before_its_offset() {
    let server = Receiver::start(|_, r| {
        if r.ids().contains(&25) {
            Reply::Status(400, "bad")
        } else {
            OK
        }
    })
    .await;
    let config = WebhookSinkConfig::from_value(json!({
        "url": server.url(),
        "batch_size": 10,
        "retry": fast_retry(2),
    }))
    .unwrap();
    let harness = TestHarness::with_configs(
        MockSource::counting(100),
        MockConfig::default(),
        WebhookSink::new(),
        config,
    )
    .with_settings(settings(OnError::Stop).with_batch_size(10));
    let result = harness.run_pipeline().await.unwrap();
    assert!(!result.success, "{result:?}");
    assert!(
        result.error.as_deref().unwrap_or("").contains("400"),
        "{result:?}"
    );
    let committed = result
        .committed_state
        .map(|s| MockSource::position(&s))
        .unwrap_or(0);
    assert!(
        committed <= 20,
        "nothing past the refused batch is committed: {committed}"
    );
}
