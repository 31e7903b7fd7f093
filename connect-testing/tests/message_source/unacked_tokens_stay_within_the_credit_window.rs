use rivven_connect::runtime::{Pipeline, PipelineState};
use rivven_connect_testing::prelude::*;
use std::time::Duration;

use crate::common::{memory, run_to_end, settings};

/// Tokens live only with in-flight batches: however slow the sink, and even
/// with a long commit interval, the broker never has more messages out than
/// the window (batches × batch size) allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_tokens_stay_within_the_credit_window() {
    let broker = MockBroker::new();
    broker.publish_ids(600);
    broker.close();
    let sink = MockSink::new().slow(3_000);
    let s = settings()
        .with_batch_size(10)
        .with_max_in_flight_batches(3)
        // Message batches are committed when acknowledged, not on this interval.
        .with_checkpoint_interval(Duration::from_secs(3_600));
    let window = s.batch_size * s.max_in_flight_batches;
    let p = run_to_end(
        memory(),
        Pipeline::builder("window")
            .source(
                MockMessageSource::new(broker.clone()),
                MockConfig::default(),
            )
            .sink(sink.clone(), MockConfig::default())
            .settings(s),
    )
    .await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(sink.written_count(), 600);
    assert_eq!(broker.acked_ids().len(), 600);
    let high = broker.high_water_unacked();
    assert!(high <= window, "{high} unacked messages > window {window}");
    assert!(high >= 10, "the window was used: {high}");
}
