use rivven_connect::runtime::{MemoryOffsetStore, OnError, Pipeline, PipelineState};
use rivven_connect::{ConnectorError, TransformOutput};
use rivven_connect_testing::prelude::*;

use crate::common::{fast_settings, ids, run_to_end};

/// With `on_error: stop`, the first rejected record fails the pipeline for
/// good (no restart) and no committed position passes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_commits_nothing_past_failure() {
    let sink = MockSink::new();
    let transform = MockTransform::new(|e| {
        if e.data["id"] == 500 {
            Err(ConnectorError::data("poison record"))
        } else {
            Ok(TransformOutput::Emit(e))
        }
    });
    let source = MockSource::counting(1_000);
    let store = MemoryOffsetStore::new();
    let p = run_to_end(
        store.clone(),
        Pipeline::builder("stop")
            .source(source.clone(), MockConfig::default())
            .transform(transform, MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(
                fast_settings()
                    .with_batch_size(10)
                    .with_on_error(OnError::Stop),
            ),
    )
    .await;
    assert_eq!(p.state, PipelineState::Failed, "{p:?}");
    assert_eq!(p.restarts, 0, "stop does not restart");
    let err = p.last_error.clone().unwrap_or_default();
    assert!(
        err.contains("poison record") && err.contains("on_error: stop"),
        "{err}"
    );
    assert_eq!(source.reads().len(), 1);
    assert!(ids(&sink.written_events()).iter().all(|i| *i < 500));
    let committed = store.get("stop").map_or(0, |s| MockSource::position(&s));
    assert!(
        committed <= 500,
        "committed {committed} passes the failed record"
    );
    for c in source.commits() {
        assert!(MockSource::position(&c) <= 500);
    }
}
