//! The `*_after` mocks inject their failure at the same event count whatever
//! the batch sizes, so a failure-handling test cannot pass vacuously.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rivven_connect::runtime::{PipelineSettings, RestartPolicy};
use rivven_connect::{BatchConfig, ConnectorError};
use rivven_connect_testing::prelude::*;
use std::time::Duration;

const BATCH_SIZES: [usize; 3] = [1, 7, 50];

/// Writes `0..total` to `sink` in batches of `size` until a write fails;
/// returns the ids the failing batch carried.
async fn first_failing_batch(sink: &MockSink, size: usize, total: u64) -> Option<Vec<u64>> {
    let all = events::records("t", total);
    for batch in all.chunks(size) {
        if run_sink(sink, &MockConfig::default(), batch.to_vec())
            .await
            .is_err()
        {
            return Some(batch.iter().filter_map(|e| e.data["id"].as_u64()).collect());
        }
    }
    None
}

#[tokio::test]
async fn sink_fail_after_fails_the_write_carrying_event_n_plus_one_for_any_batch_size() {
    for size in BATCH_SIZES {
        let sink = MockSink::new().fail_after(10);
        let failed = first_failing_batch(&sink, size, 60)
            .await
            .unwrap_or_else(|| panic!("batches of {size}: no write failed"));
        assert!(
            failed.contains(&10),
            "batches of {size}: the failing write carried {failed:?}, not the 11th event"
        );
        // All or nothing: the failing batch wrote none of its events.
        let written = sink.written_count() as u64;
        assert_eq!(written, failed[0], "batches of {size}");
        assert!(written <= 10, "batches of {size}: {written} written");
        assert_eq!(
            sink.write_attempts() - sink.write_calls(),
            1,
            "batches of {size}: one failed write"
        );
    }
}

#[tokio::test]
async fn sink_fail_after_fails_a_first_batch_of_50() {
    let sink = MockSink::new().fail_after(10);
    let batch = events::records("t", 50);
    let err = run_sink(&sink, &MockConfig::default(), batch.clone())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(sink.written_count(), 0);
    // The failure is injected once: the redelivered batch is written whole, once.
    run_sink(&sink, &MockConfig::default(), batch)
        .await
        .unwrap();
    assert!(assertions::exactly_once(
        0..50,
        &sink.written_events(),
        "id"
    ));
}

#[tokio::test]
async fn sink_fail_after_zero_fails_every_write_even_an_empty_one() {
    let sink = MockSink::new().fail_after_with(0, u64::MAX, || ConnectorError::fatal("down"));
    assert!(run_sink(&sink, &MockConfig::default(), Vec::new())
        .await
        .is_err());
    assert!(
        run_sink(&sink, &MockConfig::default(), events::records("t", 1))
            .await
            .is_err()
    );
    assert_eq!((sink.written_count(), sink.write_calls()), (0, 0));
}

fn settings(batch_size: usize) -> PipelineSettings {
    PipelineSettings::default()
        .with_batch_size(batch_size)
        .with_sink_batch(BatchConfig::new(batch_size, 5))
        .with_restart(RestartPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            ..RestartPolicy::default()
        })
}

#[tokio::test]
async fn pipeline_with_a_failing_sink_restarts_once_for_any_batch_size() {
    for size in BATCH_SIZES {
        let harness = TestHarness::new(MockSource::counting(50), MockSink::new().fail_after(10))
            .with_settings(settings(size));
        let result = harness.run_pipeline().await.unwrap();
        assert!(result.success, "batches of {size}: {result:?}");
        assert_eq!(result.restarts, 1, "batches of {size}: {result:?}");
        let sink = harness.sink();
        assert_eq!(sink.write_attempts() - sink.write_calls(), 1);
        assert!(assertions::at_least_once(
            0..50,
            &sink.written_events(),
            "id"
        ));
    }
}

#[tokio::test]
async fn pipeline_with_a_failing_source_restarts_once_for_any_batch_size() {
    for size in BATCH_SIZES {
        let source =
            MockSource::counting(50).fail_after(10, || ConnectorError::connection("reset"));
        let harness =
            TestHarness::new(source.clone(), MockSink::new()).with_settings(settings(size));
        let result = harness.run_pipeline().await.unwrap();
        assert!(result.success, "batches of {size}: {result:?}");
        assert_eq!(result.restarts, 1, "batches of {size}: {result:?}");
        assert_eq!(source.reads().len(), 2, "batches of {size}");
        assert!(assertions::at_least_once(
            0..50,
            &harness.sink().written_events(),
            "id"
        ));
    }
}
