use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState};
use rivven_connect::SourceEvent;
use rivven_connect_testing::prelude::*;
use serde_json::json;

use crate::common::{assert_all_ids_present, fast_settings, run_to_end};

/// Fails before the fix: the window was counted in batches only, so 1 MiB rows
/// in batches of 50 kept 200 MiB in flight; with `max_in_flight_bytes` a batch
/// closes at its byte share and the window stays within the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_rows_bound_the_window_in_bytes() {
    const MIB: usize = 1024 * 1024;
    let row = "x".repeat(MIB);
    let source = MockSource::new().with_generator(60, move |i| {
        SourceEvent::record("big", json!({ "id": i, "blob": row }))
    });
    let sink = MockSink::new().slow(200);
    let settings = fast_settings().with_max_in_flight_bytes(8 * MIB);
    let p = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("p")
            .source(source, MockConfig::default())
            .sink(sink.clone(), MockConfig::default())
            .settings(settings),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_all_ids_present(&sink.written_events(), 60);
    // 4 batches, each closed once it holds 2 MiB: at most 3 rows each.
    assert!(p.max_in_flight_events <= 12, "{p:?}");
}
