use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState, RestartPolicy, Runtime};
use rivven_connect_testing::prelude::*;
use std::time::Duration;

use crate::common::{fast_settings, PATIENCE};

/// One pipeline fails for good; its neighbours keep running (or complete).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_pipeline_does_not_stop_others() {
    let doomed_settings = fast_settings().with_restart(RestartPolicy {
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_consecutive_failures: 3,
        ..RestartPolicy::default()
    });
    let bounded = MockSink::new();
    let endless = MockSink::new();
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("doomed")
                .source(MockSource::new().endless(), MockConfig::default())
                .sink(
                    MockSink::new().fail_after_with(0, u64::MAX, || {
                        rivven_connect::ConnectorError::auth(
                            "destination unreachable: access denied",
                        )
                    }),
                    MockConfig::default(),
                )
                .settings(doomed_settings),
        )
        .pipeline(
            Pipeline::builder("bounded")
                .source(MockSource::counting(1_000), MockConfig::default())
                .sink(bounded.clone(), MockConfig::default())
                .settings(fast_settings()),
        )
        .pipeline(
            Pipeline::builder("endless")
                .source(
                    MockSource::new()
                        .endless()
                        .with_delay(Duration::from_micros(200)),
                    MockConfig::default(),
                )
                .sink(endless.clone(), MockConfig::default())
                .settings(fast_settings()),
        )
        .start()
        .await
        .unwrap();

    let failed = eventually(
        || {
            runtime
                .status_now()
                .pipeline("doomed")
                .is_some_and(|p| p.state == PipelineState::Failed)
        },
        PATIENCE,
    )
    .await;
    assert!(failed, "{:?}", runtime.status_now());
    let doomed = runtime.status().await.pipeline("doomed").cloned().unwrap();
    assert!(doomed
        .last_error
        .unwrap_or_default()
        .contains("destination unreachable"));

    // The endless neighbour is still running and still making progress.
    let before = endless.written_count();
    assert!(eventually(|| endless.written_count() > before + 100, PATIENCE).await);
    assert_eq!(
        runtime.status().await.pipeline("endless").unwrap().state,
        PipelineState::Running
    );
    assert!(eventually(|| bounded.written_count() == 1_000, PATIENCE).await);

    let end = runtime.shutdown(Duration::from_secs(10)).await;
    assert_eq!(end.pipeline("doomed").unwrap().state, PipelineState::Failed);
    assert_eq!(
        end.pipeline("bounded").unwrap().state,
        PipelineState::Completed
    );
    assert_eq!(
        end.pipeline("endless").unwrap().state,
        PipelineState::Stopped
    );
    assert!(!end.all_succeeded());
}
