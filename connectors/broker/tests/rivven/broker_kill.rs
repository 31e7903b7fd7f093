//! What a `kill -9` of the broker loses, measured; asserted is what
//! rivven-connect guarantees: it never commits a source position for a
//! batch the broker did not acknowledge, and a loss of acknowledged
//! messages fails the pipeline naming it (the sink reads back what the
//! broker acknowledged once it reconnected) — never a silent success.

use std::time::Duration;

use rivven_connect_testing::{MockSource, TestHarness};

use crate::broker_restart::patient_settings;
use crate::support::*;

#[tokio::test]
async fn a_broker_kill_loses_acknowledged_messages_but_no_position_passes_an_unacknowledged_batch()
{
    let mut broker = broker().await;
    let servers = broker.bootstrap_servers();
    let mut config = sink_config(&servers, "killed");
    config.request_timeout_ms = 2000;
    config.connection_timeout_ms = 1000;
    let total = 2000;
    let source = MockSource::counting(total).with_delay(Duration::from_micros(500));
    let sink = Recording::default();
    let harness = TestHarness::with_configs(source, Default::default(), sink.clone(), config)
        .with_settings(patient_settings())
        .with_timeout(Duration::from_secs(120));
    let acked = sink.acknowledged.clone();
    let pipeline = tokio::spawn(async move {
        let result = harness.run_pipeline().await;
        (result, harness.committed_state())
    });

    let started = rivven_connect_testing::eventually(
        || acked.lock().unwrap().len() > 500,
        Duration::from_secs(30),
    )
    .await;
    assert!(
        started,
        "the pipeline did not get 500 events onto the broker"
    );
    let acked_before_kill = acked.lock().unwrap().len();
    broker.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    broker.restart().await.unwrap();
    let (result, committed) = pipeline.await.unwrap();
    let result = result.unwrap();

    // rivven-connect's guarantee: the committed position (the mock's next
    // event) never passes an event whose batch the broker did not acknowledge.
    let committed = committed.unwrap();
    let next: u64 = committed.get_stream("mock").unwrap().get("next").unwrap();
    let acknowledged = acked.lock().unwrap().clone();
    assert!(
        (0..next).all(|i| acknowledged.contains(&i)),
        "committed past an unacknowledged event"
    );

    // The broker's side, measured: acknowledged messages it lost.
    let ids = readable(&broker.addr(), "killed").await;
    let lost: Vec<u64> = acknowledged
        .iter()
        .copied()
        .filter(|i| !ids.contains(i))
        .collect();
    println!(
        "kill -9 of rivvend after {acked_before_kill} acknowledged events: {} of {} acknowledged events are not readable after the restart ({} readable); the pipeline: {}",
        lost.len(),
        acknowledged.len(),
        ids.len(),
        result.error.as_deref().unwrap_or("succeeded")
    );
    if result.success {
        assert_eq!(next, total);
        assert!(
            lost.is_empty(),
            "lost {} acknowledged events silently",
            lost.len()
        );
    } else {
        let error = result.error.unwrap_or_default();
        // Nearly always the reader agrees that messages are gone. Rarely (seen
        // once in eight runs) it finds them all: the sink read an offset back
        // as holding another message while the lost one was gone, and the old
        // producers' last retry wrote it again afterwards, at a later offset.
        // A loss reported that way is loud and names the offsets; what must
        // never happen is the other way round (a silent success, above).
        if lost.is_empty() {
            println!("the sink reported a loss that a later retry repaired: {error}");
        }
        assert!(
            error.contains("the broker lost") && error.contains("of topic `killed`"),
            "{error}"
        );
    }
}
