use std::time::Duration;

use rivven_connect::runtime::PipelineSettings;
use rivven_connect::{SourceEvent, State};
use rivven_connect_testing::prelude::*;
use serde_json::json;

/// A checkpoint that arrives with no data after it (a CDC heartbeat on an
/// idle stream) is committed within the linger, not held until more data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_only_batches_are_not_held_back() {
    // 1.5 s apart: a record, a checkpoint, then a record that comes late.
    let source = MockSource::new()
        .with_generator(3, |i| match i {
            1 => SourceEvent::state(State::builder().global("heartbeat", json!(1)).build()),
            _ => SourceEvent::record("t", json!({"id": i})),
        })
        .with_delay(Duration::from_millis(1500));
    let sink = MockSink::new();
    let harness = TestHarness::new(source, sink.clone()).with_settings(
        PipelineSettings::default()
            .with_linger(Duration::from_millis(5))
            .with_checkpoint_interval(Duration::ZERO),
    );
    let (result, (committed, written)) = tokio::join!(harness.run_pipeline(), async {
        tokio::time::sleep(Duration::from_millis(3800)).await;
        (harness.committed_state(), sink.written_count())
    });
    assert!(result.unwrap().success);
    assert_eq!(written, 1, "the late record had not arrived yet");
    let committed = committed.expect("the checkpoint was committed before the next record");
    assert_eq!(committed.global.get("heartbeat"), Some(&json!(1)));
}
