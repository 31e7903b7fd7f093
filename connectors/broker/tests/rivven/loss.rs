//! A broker that lost acknowledged messages (`kill -9` of `rivvend` 0.0.22)
//! is detected, never passed over silently: the sink fails its next write
//! naming topic, partition and offsets; the source refuses a position it
//! cannot read on from (past a partition's end, or a hole below it:
//! rivvend keeps its end offsets when it loses messages).

use std::collections::BTreeSet;
use std::time::Duration;

use rivven_connect::{ErrorKind, Sink};
use rivven_connect_broker::rivven::{RivvenSink, RivvenSinkConfig, RivvenSource, TopicOffsets};
use rivven_connect_testing::run_source_with;

use crate::support::*;

/// Write `events`, retrying retryable failures (as the runtime does) until
/// the write succeeds or fails for good.
async fn write_through(
    sink: &RivvenSink,
    config: &RivvenSinkConfig,
    events: &[rivven_connect::SourceEvent],
) -> rivven_connect::Result<()> {
    let mut attempts = 0;
    loop {
        match sink.write_borrowed(config, events).await {
            Ok(result) => {
                assert!(result.is_success(), "{result:?}");
                return Ok(());
            }
            Err(e) if e.is_retryable() && attempts < 60 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[tokio::test]
async fn a_kill_9_of_the_broker_is_either_lossless_or_the_next_write_names_the_loss() {
    let mut broker = broker().await;
    let servers = broker.bootstrap_servers();
    let mut config = sink_config(&servers, "lossy");
    config.request_timeout_ms = 2000;
    config.connection_timeout_ms = 1000;
    let sink = RivvenSink::new();
    write_all(&sink, &config, &orders(0..100)).await;
    let acknowledged: BTreeSet<u64> = (0..100).collect();

    broker.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.restart().await.unwrap();
    let outcome = write_through(&sink, &config, &orders(100..200)).await;

    let readable = readable(&broker.addr(), "lossy").await;
    let lost: BTreeSet<u64> = acknowledged.difference(&readable).copied().collect();
    println!(
        "kill -9 after 100 acknowledged: {} readable of them, {} lost; the next write: {}",
        acknowledged.len() - lost.len(),
        lost.len(),
        match &outcome {
            Ok(()) => "succeeded".to_string(),
            Err(e) => e.to_string(),
        }
    );
    match outcome {
        // No silent case: a write that succeeded means nothing was lost.
        Ok(()) => {
            assert!(lost.is_empty(), "lost {lost:?} silently");
            assert!((100..200).all(|i| readable.contains(&i)));
        }
        Err(e) => {
            assert!(!lost.is_empty(), "a loss reported where none happened: {e}");
            assert_eq!(e.kind(), ErrorKind::Fatal, "{e}");
            assert!(!e.is_retryable());
            let text = e.message();
            assert!(text.contains("the broker lost"), "{text}");
            assert!(text.contains("of topic `lossy`"), "{text}");
            assert!(text.contains("which it had acknowledged"), "{text}");
            assert!(
                text.contains("are no longer readable (the first is"),
                "{text}"
            );
            assert!(text.contains("its end is now"), "{text}");
            // The partition it names is one that lost messages.
            let partitions_lost: BTreeSet<u32> = (0..3)
                .filter(|p| text.contains(&format!("of partition {p} of")))
                .collect();
            assert_eq!(partitions_lost.len(), 1, "{text}");
            // Every later write fails the same way (the events are gone).
            let again = sink.write_borrowed(&config, &orders(200..201)).await;
            let again = again.unwrap_err();
            assert!(!again.is_retryable());
            assert!(again.message().contains("the broker lost"), "{again}");
        }
    }
}

#[tokio::test]
async fn a_resumed_position_past_the_end_is_refused_naming_group_partition_and_offsets() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let mut sink = sink_config(&servers, "short");
    sink.partitions = 1;
    write_all(&RivvenSink::new(), &sink, &orders(0..40)).await;
    let config = source_config(&servers, "short", "ahead");

    // rivven-connect's own state says 100: the broker has only 40.
    let mut ahead = TopicOffsets::default();
    ahead.set(0, 100);
    let source = RivvenSource::new();
    let err = run_source_with(&source, &config, Some(ahead.to_state("short")), Some(1))
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let text = err.message();
    assert!(
        text.contains(
            "group `ahead` is at offset 100 of partition 0 of topic `short` but the broker's \
             end is 40: the broker lost 60 messages"
        ),
        "{text}"
    );
    // The same source refuses to read again, even without the state.
    let again = run_source_with(&source, &config, None, Some(1))
        .await
        .unwrap_err();
    assert!(again.message().contains("refuses to skip"), "{again}");

    // (A group's committed offset past the end cannot be made on purpose:
    // the broker refuses such a commit; it is checked by the same code.)
    // A position at the end is fine: it waits for new messages.
    let mut at_end = TopicOffsets::default();
    at_end.set(0, 40);
    let (events, _) = tokio::time::timeout(
        Duration::from_secs(3),
        run_source_with(
            &RivvenSource::new(),
            &config,
            Some(at_end.to_state("short")),
            Some(1),
        ),
    )
    .await
    .map(|r| r.unwrap())
    .unwrap_or_default();
    assert!(events.is_empty(), "{events:?}");
}

#[tokio::test]
async fn after_a_kill_9_the_source_either_reads_every_message_or_refuses_naming_the_hole() {
    let mut broker = broker().await;
    let servers = broker.bootstrap_servers();
    let mut sink = sink_config(&servers, "holes");
    sink.partitions = 1;
    write_all(&RivvenSink::new(), &sink, &orders(0..100)).await;
    let config = source_config(&servers, "holes", "g");
    let (read, state) = run_source_with(&RivvenSource::new(), &config, None, Some(30))
        .await
        .unwrap();
    assert_eq!(read.len(), 30);

    broker.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.restart().await.unwrap();
    let readable = readable(&broker.addr(), "holes").await;
    let rest: BTreeSet<u64> = (30..100).collect();
    let lost = rest.difference(&readable).count();
    // Resume from the position rivven-connect committed (30).
    let resumed = tokio::time::timeout(
        Duration::from_secs(20),
        run_source_with(&RivvenSource::new(), &config, Some(state), Some(70)),
    )
    .await;
    println!(
        "kill -9 after 100 acknowledged, 30 read: {lost} of the other 70 not readable; the source: {}",
        match &resumed {
            Err(_) => "stalled".to_string(),
            Ok(Ok((events, _))) => format!("read {}", events.len()),
            Ok(Err(e)) => e.to_string(),
        }
    );
    match resumed {
        Err(_elapsed) => panic!("the source stalled silently ({lost} messages lost)"),
        Ok(Ok((events, _))) => {
            let ids: BTreeSet<u64> = events
                .iter()
                .map(|e| e.data["id"].as_u64().unwrap())
                .collect();
            assert_eq!(lost, 0, "read on though messages were lost");
            assert_eq!(ids, rest);
        }
        Ok(Err(e)) => {
            assert!(lost > 0, "refused though nothing was lost: {e}");
            assert!(!e.is_retryable(), "{e}");
            let text = e.message();
            assert!(
                text.contains("group `g` is at offset ")
                    && text.contains(" of partition 0 of topic `holes`")
                    && text.contains("refuses to skip"),
                "{text}"
            );
        }
    }
}
