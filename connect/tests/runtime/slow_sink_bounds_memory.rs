use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState, Runtime};
use rivven_connect_testing::prelude::*;
use std::time::Duration;

use crate::common::{fast_settings, PATIENCE};

/// An unlimited source in front of a ~1k events/s sink: the events between
/// source and sink never exceed the credit window (batch size × window),
/// however long the pipeline runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_sink_bounds_memory() {
    let sink = MockSink::new().slow(1_000);
    let settings = fast_settings()
        .with_batch_size(50)
        .with_max_in_flight_batches(4);
    let window = 50 * 4;
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("slow")
                .source(MockSource::new().endless(), MockConfig::default())
                .sink(sink.clone(), MockConfig::default())
                .settings(settings),
        )
        .start()
        .await
        .unwrap();

    assert!(eventually(|| sink.written_count() >= 1_500, PATIENCE).await);
    let status = runtime.status().await;
    let p = status.pipeline("slow").unwrap();
    assert_eq!(p.state, PipelineState::Running);
    assert!(
        p.max_in_flight_events <= window,
        "in-flight high-water mark {} exceeds the window {window}",
        p.max_in_flight_events
    );
    // The source was held back: it read at most one window (plus the batch it
    // is filling) more than the sink wrote, although it could produce millions.
    assert!(
        p.events_read <= p.events_written + window + 50,
        "source ran ahead: read {} written {}",
        p.events_read,
        p.events_written
    );
    let end = runtime.shutdown(Duration::from_secs(10)).await;
    assert_eq!(end.pipeline("slow").unwrap().state, PipelineState::Stopped);
}
