use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState, Runtime};
use rivven_connect_testing::prelude::*;
use std::time::Duration;

use crate::common::{fast_settings, ids, PATIENCE};

/// Shutdown stops reading, drains what is in flight, and commits the final
/// offsets even with a long commit interval; a new runtime on the same store
/// resumes exactly after the last written event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_commits_final_offsets() {
    let store = MemoryOffsetStore::new();
    let sink = MockSink::new();
    let source = MockSource::new()
        .endless()
        .with_delay(Duration::from_micros(100));
    let settings = fast_settings().with_checkpoint_interval(Duration::from_secs(3600));
    let runtime = Runtime::builder()
        .offset_store(store.clone())
        .pipeline(
            Pipeline::builder("g")
                .source(source.clone(), MockConfig::default())
                .sink(sink.clone(), MockConfig::default())
                .settings(settings.clone()),
        )
        .start()
        .await
        .unwrap();
    assert!(eventually(|| sink.written_count() >= 500, PATIENCE).await);
    let status = runtime.shutdown(Duration::from_secs(10)).await;
    let p = status.pipeline("g").unwrap();
    assert_eq!(p.state, PipelineState::Stopped);
    assert_eq!(p.in_flight_events, 0, "everything read was drained");
    let written = sink.written_count() as u64;
    assert_eq!(p.events_written, written);
    let committed = MockSource::position(&store.get("g").expect("final offsets committed"));
    assert_eq!(
        committed, written,
        "the final commit covers every written event"
    );
    assert_eq!(
        source.commits().last().map(MockSource::position),
        Some(written)
    );

    // Resume: the next run starts right after the last written event.
    let sink2 = MockSink::new();
    let runtime2 = Runtime::builder()
        .offset_store(store.clone())
        .pipeline(
            Pipeline::builder("g")
                .source(MockSource::counting(written + 100), MockConfig::default())
                .sink(sink2.clone(), MockConfig::default())
                .settings(settings),
        )
        .start()
        .await
        .unwrap();
    let status2 = runtime2.wait().await;
    assert_eq!(
        status2.pipeline("g").unwrap().state,
        PipelineState::Completed
    );
    assert_eq!(
        ids(&sink2.written_events()),
        (written..written + 100).collect::<Vec<_>>()
    );
}
