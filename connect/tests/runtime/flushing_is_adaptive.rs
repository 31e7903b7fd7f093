use std::time::Duration;

use rivven_connect::runtime::PipelineSettings;
use rivven_connect::BatchConfig;
use rivven_connect_testing::prelude::*;

/// Fails before the fix: at a low rate each event waited for the sink's batch
/// timeout (here 10 s). A batch the source sent with nothing more ready is
/// now written at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_event_is_written_without_waiting_for_the_batch_timeout() {
    let source = MockSource::counting(3).with_delay(Duration::from_millis(400));
    let sink = MockSink::new();
    let harness = TestHarness::new(source, sink.clone()).with_settings(
        PipelineSettings::default()
            .with_linger(Duration::from_millis(5))
            .with_sink_batch(BatchConfig::new(10_000, 10_000)),
    );
    let (result, written_early) = tokio::join!(harness.run_pipeline(), async {
        // The first event comes after ~400 ms, the second after ~800 ms.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        sink.written_count()
    });
    let result = result.unwrap();
    assert!(result.success, "{:?}", result.error);
    assert!(
        written_early >= 1,
        "nothing was written 600 ms after the first event (batch timeout 10 s)"
    );
    assert_eq!(sink.written_count(), 3);
    assert!(
        result.duration < Duration::from_secs(5),
        "{:?}",
        result.duration
    );
}

/// Under load the sink still batches: a source that always has events
/// ready fills its batches, and the sink joins them up to the credit window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_the_sink_still_batches() {
    let n = 20_000;
    let sink = MockSink::new();
    let harness = TestHarness::new(MockSource::counting(n), sink.clone()).with_settings(
        PipelineSettings::default()
            .with_batch_size(100)
            .with_max_in_flight_batches(4)
            .with_sink_batch(BatchConfig::new(10_000, 1_000)),
    );
    let result = harness.run_pipeline().await.unwrap();
    assert!(result.success, "{:?}", result.error);
    assert_eq!(sink.written_count(), n as usize);
    // 200 source batches of 100; written in groups, not one write each.
    let writes = sink.write_calls();
    assert!(writes < 200, "{writes} writes for 200 full source batches");
}
