//! Supervision waits out outages, and status says exactly what happened:
//! in-flight counts after restarts, and a shutdown that did not drain is not
//! a success.

use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState, RestartPolicy, Runtime};
use rivven_connect::ConnectorError;
use rivven_connect_testing::prelude::*;
use std::time::Duration;

use crate::common::{assert_all_ids_present, fast_settings, run_to_end, PATIENCE};

/// Fails before the fix: after `max_consecutive_failures` (10 by default,
/// here 3) connection failures the pipeline was `Failed` for good, so a
/// server restart longer than the backoff series ended the pipeline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_keep_retrying_past_the_limit() {
    let source = MockSource::counting(200)
        .fail_after(50, || ConnectorError::connection("connection refused"))
        .times(8);
    let sink = MockSink::new();
    let policy = RestartPolicy {
        initial_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(10),
        max_consecutive_failures: 3,
        ..RestartPolicy::default()
    };
    let p = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("p")
            .source(source.clone(), MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(fast_settings().with_restart(policy)),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(p.restarts, 8);
    assert_all_ids_present(&sink.written_events(), 200);
}

/// Fails before the fix: a restart dropped the torn-down generation's batches
/// without taking them off `in_flight_events`, so a completed pipeline showed
/// events in flight and a high-water mark above the credit window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_is_exact_after_restarts() {
    let settings = fast_settings();
    let window = (settings.max_in_flight_batches * settings.batch_size) as u64;
    let source = MockSource::counting(5_000).with_delay(Duration::from_micros(20));
    // Fails three times once 1 000 events are written, with batches in flight.
    let sink = MockSink::new()
        .slow(50_000)
        .fail_after_with(1_000, 3, || ConnectorError::fatal("disk gone"));
    let p = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("p")
            .source(source, MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(settings),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(p.restarts, 3);
    assert_eq!(p.in_flight_events, 0, "{p:?}");
    assert!(p.max_in_flight_events <= window, "{p:?} (window {window})");
    assert_all_ids_present(&sink.written_events(), 5_000);
}

/// Fails before the fix: a pipeline still draining when the shutdown timed
/// out ended `Stopped`, and `all_succeeded()` was true.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_that_times_out_is_not_success() {
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("p")
                .source(MockSource::new().endless(), MockConfig::default())
                .sink(MockSink::new().slow(100), MockConfig::default())
                .settings(fast_settings()),
        )
        .start()
        .await
        .unwrap();
    assert!(
        eventually(
            || runtime
                .status_now()
                .pipeline("p")
                .is_some_and(|p| p.events_written > 0),
            PATIENCE
        )
        .await
    );
    // Four batches of 50 at 100 events/s take seconds to drain.
    let status = runtime.shutdown(Duration::from_millis(50)).await;
    let p = status.pipeline("p").unwrap();
    assert_eq!(p.state, PipelineState::Failed, "{p:?}");
    assert!(p
        .last_error
        .as_deref()
        .unwrap_or_default()
        .contains("timed out"));
    assert!(!status.all_succeeded());
}
