use rivven_connect::runtime::{Pipeline, PipelineState, Runtime};
use rivven_connect::ConnectorError;
use rivven_connect_testing::prelude::*;

use crate::common::{ids, memory, run_to_end, settings, FailingStore, GateSink, PATIENCE};

/// While the sink has not written, nothing is acknowledged; once it has (and
/// the batch is committed), exactly what it wrote is acknowledged, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_acked_before_the_sink_wrote() {
    let broker = MockBroker::new();
    broker.publish_ids(100);
    broker.close();
    let sink = GateSink::closed();
    let runtime = Runtime::builder()
        .offset_store(memory())
        .pipeline(
            Pipeline::builder("gate")
                .source(
                    MockMessageSource::new(broker.clone()),
                    MockConfig::default(),
                )
                .sink(sink.clone(), MockConfig::default())
                .settings(settings()),
        )
        .start()
        .await
        .unwrap();
    assert!(eventually(|| sink.writes_started() > 0, PATIENCE).await);
    // The window is full and the sink holds it: messages are out, none acked.
    assert!(eventually(|| broker.unacked() == 30, PATIENCE).await);
    assert!(broker.acked_ids().is_empty(), "{:?}", broker.acked_ids());

    sink.open();
    let status = runtime.wait().await;
    assert_eq!(status.pipelines[0].state, PipelineState::Completed);
    let all: std::collections::BTreeSet<u64> = (0..100).collect();
    assert_eq!(ids(&sink.written()), all);
    assert_eq!(broker.acked_ids(), all);
    assert!(broker.ack_counts().values().all(|&n| n == 1));
    assert_eq!(broker.unacked(), 0);
}

/// A sink that never writes: every delivered message ends up rejected (the
/// pipeline dropped it unacknowledged), none acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sink_acks_nothing_and_rejects_what_it_held() {
    let broker = MockBroker::new();
    broker.publish_ids(50);
    broker.close();
    let sink = MockSink::new().fail_after_with(0, u64::MAX, || ConnectorError::fatal("sink down"));
    let p = run_to_end(
        memory(),
        Pipeline::builder("down")
            .source(
                MockMessageSource::new(broker.clone()),
                MockConfig::default(),
            )
            .sink(sink, MockConfig::default())
            .settings(settings()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Failed, "{p:?}");
    assert!(broker.acked_ids().is_empty());
    assert!(broker.nacks() > 0, "dropped tokens are rejections");
    // Every token was resolved: nothing is left delivered-but-unresolved
    // except what a superseded subscription could not give back.
    assert!(eventually(|| broker.unacked() == 0, PATIENCE).await);
}

/// The sink wrote, but the offset store could not commit the state covering
/// the batch: the messages are not acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_offset_commit_acks_nothing() {
    let broker = MockBroker::new();
    broker.publish_ids(40);
    broker.close();
    let sink = MockSink::new();
    let store = FailingStore::default();
    let p = run_to_end(
        store.clone(),
        Pipeline::builder("no-commit")
            .source(
                MockMessageSource::new(broker.clone()).with_positions(),
                MockConfig::default(),
            )
            .sink(sink.clone(), MockConfig::default())
            .settings(settings()),
    )
    .await;
    assert_eq!(p.state, PipelineState::Failed, "{p:?}");
    assert!(sink.written_count() > 0, "the sink did write");
    assert!(*store.saves.lock().unwrap() > 0);
    assert!(broker.acked_ids().is_empty(), "{:?}", broker.acked_ids());
}
