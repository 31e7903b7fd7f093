use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState};
use rivven_connect_testing::prelude::*;

use crate::common::{assert_all_ids_present, fast_settings, run_to_end};

/// A panic inside the source's stream fails only its actor; the supervisor
/// restarts the pipeline from the committed state and it completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_source_is_supervised() {
    let sink = MockSink::new();
    let source = MockSource::counting(600).panic_after(250);
    let p = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("panicky")
            .source(source.clone(), MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(fast_settings()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(p.restarts, 1);
    assert!(
        p.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("panicked"),
        "{p:?}"
    );
    assert_eq!(source.reads().len(), 2);
    assert_all_ids_present(&sink.written_events(), 600);
}

/// A panic inside a transform is supervised the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_transform_is_supervised() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let sink = MockSink::new();
    let panicked = Arc::new(AtomicBool::new(false));
    let flag = panicked.clone();
    let transform = MockTransform::new(move |e| {
        if e.data["id"] == 123 && !flag.swap(true, Ordering::SeqCst) {
            panic!("transform exploded");
        }
        Ok(rivven_connect::TransformOutput::Emit(e))
    });
    let p = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("p")
            .source(MockSource::counting(400), MockConfig::default())
            .transform(transform, MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(fast_settings()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(p.restarts, 1);
    assert_all_ids_present(&sink.written_events(), 400);
}
