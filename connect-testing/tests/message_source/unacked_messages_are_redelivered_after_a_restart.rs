use rivven_connect::runtime::{Pipeline, PipelineState};
use rivven_connect_testing::prelude::*;
use std::collections::BTreeSet;

use crate::common::{ids, memory, run_to_end, settings};

/// A sink failure restarts the pipeline; the messages the failed generation
/// held come again to the new subscription, and in the end every message is
/// written and acknowledged exactly once in the broker's books.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_messages_are_redelivered_after_a_restart() {
    let broker = MockBroker::new();
    broker.publish_ids(200);
    broker.close();
    let sink = MockSink::new().fail_after(60);
    let p = run_to_end(
        memory(),
        Pipeline::builder("redeliver")
            .source(
                MockMessageSource::new(broker.clone()),
                MockConfig::default(),
            )
            .sink(sink.clone(), MockConfig::default())
            .settings(settings()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(p.restarts, 1);
    assert_eq!(broker.subscriptions(), 2);
    assert!(
        broker.redeliveries() > 0,
        "the failed generation's messages came again"
    );

    let all: BTreeSet<u64> = (0..200).collect();
    assert_eq!(ids(&sink.written_events()), all, "every message written");
    assert_eq!(broker.acked_ids(), all, "every message acknowledged");
    let counts = broker.ack_counts();
    assert!(
        counts.values().all(|&n| n == 1),
        "acknowledged once: {counts:?}"
    );
    assert_eq!(
        broker.stale_acks(),
        0,
        "no acknowledgement of a superseded delivery"
    );
    assert_eq!(broker.unacked(), 0);
}
