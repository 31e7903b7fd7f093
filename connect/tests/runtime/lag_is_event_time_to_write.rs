use crate::common::{fast_settings, run_to_end};
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState};
use rivven_connect::SourceEvent;
use rivven_connect_testing::prelude::*;
use serde_json::json;

/// `lag_ms` is the newest written event's age when its write returned: events
/// stamped 5 s ago show a lag of at least 5 s; before any write there is none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_is_event_time_to_write() {
    let old = chrono::Utc::now() - chrono::Duration::seconds(5);
    let events = (0..10)
        .map(|i| {
            let mut e = SourceEvent::record("t", json!({"id": i}));
            e.timestamp = old;
            e
        })
        .collect();
    let p = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("lag")
            .source(MockSource::new().with_events(events), MockConfig::default())
            .sink(MockSink::new(), MockConfig::default())
            .settings(fast_settings()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let lag = p.lag_ms.expect("a lag after writes");
    assert!((5_000..60_000).contains(&lag), "lag {lag} ms");

    let p = run_to_end(
        MemoryOffsetStore::new(),
        Pipeline::builder("idle")
            .source(
                MockSource::new().with_events(Vec::new()),
                MockConfig::default(),
            )
            .sink(MockSink::new(), MockConfig::default())
            .settings(fast_settings()),
    )
    .await;
    assert_eq!(p.lag_ms, None, "no write, no lag");
}
