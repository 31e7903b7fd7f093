//! The harness itself, run through the real runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rivven_connect::prelude::*;
use rivven_connect::runtime::{OnError, PipelineSettings, PipelineState, RestartPolicy};
use rivven_connect_testing::prelude::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn bounded_run_reports_counts_and_commits() {
    let harness = TestHarness::new(MockSource::counting(250), MockSink::new());
    let result = harness.run_pipeline().await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.state, PipelineState::Completed);
    assert_eq!((result.events_read, result.events_written), (250, 250));
    assert_eq!(result.error, None);
    let committed = result.committed_state.expect("a committed state");
    assert_eq!(MockSource::position(&committed), 250);
    assert!(assertions::exactly_once(
        0..250,
        &harness.sink().written_events(),
        "id"
    ));
}

#[tokio::test]
async fn failing_sink_check_reports_the_failure() {
    let harness = TestHarness::new(
        MockSource::counting(10),
        MockSink::new().fail_with("connection refused"),
    );
    let result = harness.run_pipeline().await.unwrap();
    assert!(!result.success);
    assert_eq!(result.state, PipelineState::Failed);
    assert_eq!(result.events_written, 0);
    let error = result.error.expect("the failure is reported");
    assert!(error.contains("connection refused"), "{error}");
    assert_eq!(harness.sink().written_count(), 0);
}

#[tokio::test]
async fn sink_that_keeps_failing_fails_the_run_and_keeps_the_committed_state() {
    let settings = PipelineSettings::default()
        .with_batch_size(10)
        .with_restart(RestartPolicy {
            initial_backoff: Duration::from_millis(5),
            max_consecutive_failures: 3,
            ..RestartPolicy::default()
        });
    let sink = MockSink::new().fail_after_with(40, u64::MAX, || ConnectorError::fatal("disk full"));
    let harness = TestHarness::new(MockSource::counting(100), sink).with_settings(settings);
    let result = harness.run_pipeline().await.unwrap();
    assert!(!result.success);
    assert_eq!(result.state, PipelineState::Failed);
    assert_eq!(
        result.restarts, 2,
        "3 consecutive failures: 2 restarts, then failed"
    );
    assert!(result.error.as_deref().unwrap_or("").contains("disk full"));
    assert_eq!(result.events_written, 40);
    let committed = result
        .committed_state
        .expect("progress before the failure is committed");
    assert_eq!(MockSource::position(&committed), 40);
}

#[tokio::test]
async fn resume_run_starts_from_the_committed_state() {
    // First run: the sink fails for good after 40 events.
    let failing =
        MockSink::new().fail_after_with(40, u64::MAX, || ConnectorError::fatal("disk full"));
    let settings = PipelineSettings::default()
        .with_batch_size(10)
        .with_restart(RestartPolicy {
            initial_backoff: Duration::from_millis(5),
            max_consecutive_failures: 2,
            ..RestartPolicy::default()
        });
    let first = TestHarness::new(MockSource::counting(100), failing)
        .with_settings(settings)
        .run_pipeline()
        .await
        .unwrap();
    let committed = first.committed_state.clone().unwrap();

    // Second run, fresh connectors, resumed from what the first committed.
    let source = MockSource::counting(100);
    let harness = TestHarness::new(source.clone(), MockSink::new()).with_state(committed.clone());
    let result = harness.run_pipeline().await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.events_written, 60);
    assert_eq!(source.reads()[0], Some(committed));
    let written = harness.sink().written_events();
    assert_eq!(written[0].data["id"], json!(40));
    assert!(assertions::exactly_once(40..100, &written, "id"));
    assert!(assertions::ordered_by::<u64>(&written, "id"));
}

#[tokio::test]
async fn running_the_same_harness_again_resumes_where_it_ended() {
    let harness = TestHarness::new(MockSource::counting(30), MockSink::new());
    assert_eq!(harness.run_pipeline().await.unwrap().events_written, 30);
    let again = harness.run_pipeline().await.unwrap();
    assert!(again.success);
    assert_eq!(again.events_read, 0);
    assert_eq!(harness.sink().written_count(), 30);
}

#[tokio::test]
async fn sink_failure_mid_stream_restarts_and_loses_nothing() {
    let harness = TestHarness::new(MockSource::counting(500), MockSink::new().fail_after(120))
        .with_settings(PipelineSettings::default().with_batch_size(50));
    let result = harness.run_pipeline().await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.restarts, 1);
    assert!(assertions::at_least_once(
        0..500,
        &harness.sink().written_events(),
        "id"
    ));
}

#[tokio::test]
async fn transforms_and_dead_letters_are_counted() {
    let dlq = MockSink::new();
    let drop_odd = MockTransform::new(|e| {
        Ok(if e.data["id"].as_u64().unwrap_or(0) % 2 == 1 {
            TransformOutput::Drop
        } else {
            TransformOutput::Emit(e)
        })
    });
    let harness = TestHarness::new(
        MockSource::counting(100),
        MockSink::new().fail_records(|e| e.data["id"].as_u64().unwrap_or(0) % 10 == 0),
    )
    .with_transform(drop_odd)
    .with_dead_letter(dlq.clone(), MockConfig::default())
    .with_settings(PipelineSettings::default().with_on_error(OnError::DeadLetter));
    let result = harness.run_pipeline().await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.events_read, 100);
    assert_eq!(result.events_dropped, 50);
    assert_eq!(result.dead_lettered, 10);
    assert_eq!(result.events_written, 40);
    assert_eq!(dlq.written_count(), 10);
}

#[tokio::test]
async fn run_for_stops_an_endless_source_cleanly() {
    let source = MockSource::new()
        .endless()
        .with_delay(Duration::from_micros(200));
    let harness = TestHarness::new(source, MockSink::new());
    let result = harness.run_for(Duration::from_millis(300)).await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.state, PipelineState::Stopped);
    assert!(result.events_written > 0);
    // Shutdown drains and commits: the committed position covers every written event.
    let committed = result.committed_state.unwrap();
    assert_eq!(MockSource::position(&committed), result.events_written);
    assert_eq!(harness.sink().written_count() as u64, result.events_written);
}

#[tokio::test]
async fn run_pipeline_times_out_on_an_endless_source() {
    let harness = TestHarness::new(MockSource::new().endless(), MockSink::new())
        .with_timeout(Duration::from_millis(200));
    let result = harness.run_pipeline().await.unwrap();
    assert!(!result.success);
    assert!(result.error.unwrap().contains("did not finish within"));
}

#[tokio::test]
async fn run_source_stops_at_max_events_and_returns_the_state() {
    let source = MockSource::new().endless();
    let (events, state) = run_source_with(&source, &MockConfig::default(), None, Some(25))
        .await
        .unwrap();
    assert_eq!(events.len(), 25);
    assert_eq!(MockSource::position(&state), 25);
    let (resumed, _) = run_source_with(&source, &MockConfig::default(), Some(state), Some(5))
        .await
        .unwrap();
    assert_eq!(resumed[0].data["id"], json!(25));
}

#[tokio::test]
async fn run_source_reports_a_failed_check() {
    let err = run_source(
        &MockSource::counting(3).fail_with("no route to host"),
        &MockConfig::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no route to host"), "{err}");
}

#[tokio::test]
async fn mock_source_error_mid_stream_is_retried_from_committed_state() {
    let source = MockSource::counting(200)
        .with_delay(Duration::from_millis(1))
        .fail_after(70, || ConnectorError::connection("reset"));
    // The sink writes every 20 events (not after its default 1 s linger), so
    // progress is acknowledged and committed before the source fails.
    let settings = PipelineSettings::default()
        .with_batch_size(20)
        .with_sink_batch(BatchConfig::new(20, 5));
    let harness = TestHarness::new(source.clone(), MockSink::new()).with_settings(settings);
    let result = harness.run_pipeline().await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(result.restarts, 1);
    assert_eq!(source.reads().len(), 2);
    let resumed_at = source.reads()[1].as_ref().map(MockSource::position);
    assert!(
        resumed_at.is_some_and(|p| p > 0 && p <= 70),
        "the restart resumed from the committed state, not from scratch: {resumed_at:?}"
    );
    assert!(assertions::at_least_once(
        0..200,
        &harness.sink().written_events(),
        "id"
    ));
    assert!(
        !source.commits().is_empty(),
        "the source was told about commits"
    );
}
