use crate::common::run_to_end;
use rivven_connect::runtime::{MemoryOffsetStore, OnError, Pipeline, PipelineState};
use rivven_connect::{ConnectorError, TransformOutput};
use rivven_connect_testing::prelude::*;

use crate::common::fast_settings;

/// With `on_error: skip`, rejected records are counted and acknowledged: the
/// pipeline completes and the committed position covers every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_counts_and_acks() {
    let n = 500u64;
    let sink = MockSink::new().fail_records(|e| e.data["id"].as_u64().is_some_and(|i| i % 10 == 3));
    let transform = MockTransform::new(|e| {
        if e.data["id"].as_u64().is_some_and(|i| i % 10 == 7) {
            Err(ConnectorError::data("bad record"))
        } else {
            Ok(TransformOutput::Emit(e))
        }
    });
    let source = MockSource::counting(n);
    let store = MemoryOffsetStore::new();
    let p = run_to_end(
        store.clone(),
        Pipeline::builder("skip")
            .source(source.clone(), MockConfig::default())
            .transform(transform, MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(fast_settings().with_on_error(OnError::Skip)),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(
        p.events_failed, 100,
        "50 rejected by the transform, 50 by the sink"
    );
    assert_eq!(p.events_written, 400);
    assert_eq!(sink.written_count(), 400);
    assert_eq!(p.restarts, 0);
    assert_eq!(p.in_flight_events, 0);
    assert_eq!(MockSource::position(&store.get("skip").unwrap()), n);
    // The source was told about the final position too.
    assert_eq!(source.commits().last().map(MockSource::position), Some(n));
}
