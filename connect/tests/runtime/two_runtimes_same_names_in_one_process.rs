use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineState, Runtime};
use rivven_connect_testing::prelude::*;

use crate::common::{assert_all_ids_present, fast_settings};

/// Two runtimes with the same pipeline names run side by side in one process
/// without sharing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runtimes_same_names_in_one_process() {
    let sinks = [MockSink::new(), MockSink::new()];
    let mut runtimes = Vec::new();
    for (i, sink) in sinks.iter().enumerate() {
        let runtime = Runtime::builder()
            .offset_store(MemoryOffsetStore::new())
            .pipeline(
                Pipeline::builder("orders")
                    .source(
                        MockSource::counting(300 + i as u64 * 100),
                        MockConfig::default(),
                    )
                    .sink(sink.clone(), MockConfig::default())
                    .settings(fast_settings()),
            )
            .start()
            .await
            .unwrap();
        runtimes.push(runtime);
    }
    for (i, runtime) in runtimes.iter().enumerate() {
        let status = runtime.wait().await;
        let p = status.pipeline("orders").unwrap();
        assert_eq!(p.state, PipelineState::Completed);
        assert_eq!(p.events_written, 300 + i as u64 * 100);
    }
    assert_all_ids_present(&sinks[0].written_events(), 300);
    assert_all_ids_present(&sinks[1].written_events(), 400);
    assert_eq!(sinks[0].written_count(), 300);
    assert_eq!(sinks[1].written_count(), 400);
}
