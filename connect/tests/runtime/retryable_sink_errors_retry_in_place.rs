use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState};
use rivven_connect::{CircuitBreakerConfig, ConnectorError, RetryConfig};
use rivven_connect_testing::prelude::*;
use std::time::Duration;

use crate::common::{fast_settings, ids, run_to_end};

/// Retryable sink errors are retried in place — behind the circuit breaker, which opens
/// after two failures and lets a probe through after its open period — so the pipeline
/// neither restarts nor writes anything twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_sink_errors_retry_in_place() {
    let n = 1_000u64;
    let failures = 5;
    let sink = MockSink::new().fail_after_with(300, failures, || {
        ConnectorError::timeout("MockSink: injected timeout")
    });
    let settings = fast_settings()
        .with_retry(
            RetryConfig::new()
                .with_max_retries(10)
                .with_initial_delay(Duration::from_millis(1))
                .with_max_delay(Duration::from_millis(5)),
        )
        .with_circuit_breaker(CircuitBreakerConfig {
            failure_threshold: 2,
            success_threshold: 1,
            open_duration: Duration::from_millis(10),
        });
    let p = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("retry")
            .source(MockSource::counting(n), MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(settings),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(
        p.restarts, 0,
        "retryable errors must not restart the pipeline"
    );
    assert_eq!(
        ids(&sink.written_events()),
        (0..n).collect::<Vec<_>>(),
        "each event once, in order"
    );
    assert_eq!(sink.write_attempts(), sink.write_calls() + failures);
}

/// When the retry budget is spent, the error escalates to a restart from committed state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_escalate_to_a_restart() {
    let n = 600u64;
    let sink = MockSink::new().fail_after_with(200, 3, || ConnectorError::connection("down"));
    let settings = fast_settings().with_retry(
        RetryConfig::new()
            .with_max_retries(1)
            .with_initial_delay(Duration::from_millis(1)),
    );
    let p = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("escalate")
            .source(MockSource::counting(n), MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(settings),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(p.restarts, 1, "{p:?}");
    assert!(
        p.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("after 2 attempt(s)"),
        "{p:?}"
    );
    crate::common::assert_all_ids_present(&sink.written_events(), n);
}
