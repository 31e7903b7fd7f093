use crate::common::run_to_end;
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState, Runtime};
use rivven_connect::TransformOutput;
use rivven_connect_testing::prelude::*;
use std::time::{Duration, Instant};

use crate::common::fast_settings;

/// A per-pipeline rate limit paces the source (a lower bound on the run time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_paces_the_pipeline() {
    let sink = MockSink::new();
    let settings = fast_settings().with_rate_limit(500);
    let started = Instant::now();
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("limited")
                .source(MockSource::counting(1_000), MockConfig::default())
                .sink(sink.clone(), MockConfig::default())
                .settings(settings),
        )
        .start()
        .await
        .unwrap();
    let status = runtime.wait().await;
    assert_eq!(
        status.pipeline("limited").unwrap().state,
        PipelineState::Completed
    );
    assert_eq!(sink.written_count(), 1_000);
    // 1 000 events at 500/s with a burst of 500: at least one second.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

/// Dropped and split events are counted, and both acknowledge their batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_and_split_are_counted_and_acknowledged() {
    let sink = MockSink::new();
    let transform = MockTransform::new(|e| {
        let id = e.data["id"].as_u64().unwrap_or(0);
        Ok(match id % 3 {
            0 => TransformOutput::Drop,
            1 => TransformOutput::Multiple(vec![e.clone(), e]),
            _ => TransformOutput::Emit(e),
        })
    });
    let store = MemoryOffsetStore::new();
    let p = run_to_end(
        store.clone(),
        Pipeline::builder("t")
            .source(MockSource::counting(300), MockConfig::default())
            .transform(transform, MockConfig::default())
            .transform(MockTransform::identity(), MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(fast_settings()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed);
    assert_eq!(p.events_read, 300);
    assert_eq!(p.events_dropped, 100);
    assert_eq!(p.events_written, 300, "100 doubled + 100 passed");
    assert_eq!(sink.written_count(), 300);
    assert_eq!(MockSource::position(&store.get("t").unwrap()), 300);
}
