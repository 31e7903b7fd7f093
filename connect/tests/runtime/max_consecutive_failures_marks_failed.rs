use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState, RestartPolicy, Runtime};
use rivven_connect::ConnectorError;
use rivven_connect_testing::prelude::*;
use std::time::{Duration, Instant};

use crate::common::fast_settings;

/// A source that fails on every start without progress with an error that
/// waiting does not cure (auth): after `max_consecutive_failures` attempts the
/// pipeline is `Failed`, having waited the exponential backoff in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_consecutive_failures_marks_failed() {
    let source = MockSource::counting(100)
        .fail_after(0, || ConnectorError::auth("password authentication failed"))
        .always();
    let policy = RestartPolicy {
        initial_backoff: Duration::from_millis(20),
        multiplier: 2.0,
        max_backoff: Duration::from_secs(1),
        jitter: 0.0,
        max_consecutive_failures: 4,
        healthy_after: Duration::from_secs(60),
    };
    let started = Instant::now();
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("p")
                .source(source.clone(), MockConfig::default())
                .sink(MockSink::new(), MockConfig::default())
                .settings(fast_settings().with_restart(policy)),
        )
        .start()
        .await
        .unwrap();
    let status = runtime.wait().await;
    let elapsed = started.elapsed();
    let p = status.pipeline("p").unwrap();
    assert_eq!(p.state, PipelineState::Failed);
    assert_eq!(source.reads().len(), 4, "four attempts");
    assert_eq!(p.restarts, 3);
    let err = p.last_error.clone().unwrap_or_default();
    assert!(
        err.contains("4 consecutive failures") && err.contains("password authentication failed"),
        "{err}"
    );
    // Backoff 20 + 40 + 80 ms happened between the attempts.
    assert!(elapsed >= Duration::from_millis(140), "{elapsed:?}");
    assert_eq!(p.events_written, 0);
}
