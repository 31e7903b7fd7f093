//! The `rivven` source: consumer-group resume, independent groups, offset
//! reset, bad records, and the runtime committing the group offsets.

use std::collections::BTreeSet;
use std::time::Duration;

use rivven_connect::runtime::{OnError, PipelineSettings};
use rivven_connect::{ErrorKind, Source, SourceEvent};
use rivven_connect_broker::rivven::{AutoOffsetReset, RivvenSink, RivvenSource};
use rivven_connect_testing::{run_source_with, MockSink, TestHarness};

use crate::support::*;

fn ids(events: &[SourceEvent]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e.data["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_group_resumes_at_its_committed_offsets_nothing_skipped_nothing_reread() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let produced = orders(0..300);
    write_all(
        &RivvenSink::new(),
        &sink_config(&servers, "resume"),
        &produced,
    )
    .await;
    let config = source_config(&servers, "resume", "g");

    let first = RivvenSource::new();
    let (read, state) = run_source_with(&first, &config, None, Some(120))
        .await
        .unwrap();
    first.commit(&config, &state).await.unwrap();
    let committed = first.committed_offsets(&config).await.unwrap();
    assert_eq!(
        committed.iter().map(|(_, next)| next).sum::<u64>(),
        120,
        "{committed:?}"
    );

    // A new source, no runtime state: it starts at the group's offsets.
    let second = RivvenSource::new();
    let (rest, _) = run_source_with(&second, &config, None, Some(180))
        .await
        .unwrap();
    let before: BTreeSet<u64> = ids(&read).into_iter().collect();
    let after: BTreeSet<u64> = ids(&rest).into_iter().collect();
    assert_eq!(before.len(), 120);
    assert_eq!(after.len(), 180, "re-read or duplicated ids");
    assert!(before.is_disjoint(&after), "re-read past the commit");
    assert_eq!(before.union(&after).count(), 300, "skipped ids");
    // Events come back exactly as they were produced.
    for event in read.iter().chain(&rest) {
        let mut event = event.clone();
        event.metadata.state = None;
        assert_eq!(event, produced[event.data["id"].as_u64().unwrap() as usize]);
    }
}

#[tokio::test]
async fn two_groups_each_get_every_event() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    write_all(
        &RivvenSink::new(),
        &sink_config(&servers, "fanout"),
        &orders(0..200),
    )
    .await;
    for group in ["one", "two"] {
        let source = RivvenSource::new();
        let config = source_config(&servers, "fanout", group);
        let (events, state) = run_source_with(&source, &config, None, Some(200))
            .await
            .unwrap();
        source.commit(&config, &state).await.unwrap();
        let got: BTreeSet<u64> = ids(&events).into_iter().collect();
        assert_eq!(got, (0..200).collect(), "group {group}");
    }
}

#[tokio::test]
async fn auto_offset_reset_latest_skips_the_backlog_and_none_fails_naming_the_partition() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let sink = RivvenSink::new();
    let sink_config = sink_config(&servers, "reset");
    write_all(&sink, &sink_config, &orders(0..30)).await;

    let mut none = source_config(&servers, "reset", "strict");
    none.auto_offset_reset = AutoOffsetReset::None;
    let err = run_source_with(&RivvenSource::new(), &none, None, Some(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.message()
            .contains("no committed offset for `reset` partition"),
        "{err}"
    );

    let mut latest = source_config(&servers, "reset", "tail");
    latest.auto_offset_reset = AutoOffsetReset::Latest;
    let reader = tokio::spawn(async move {
        run_source_with(&RivvenSource::new(), &latest, None, Some(10)).await
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    write_all(&sink, &sink_config, &orders(100..110)).await;
    let (events, _) = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        ids(&events).into_iter().collect::<BTreeSet<_>>(),
        (100..110).collect()
    );
}

#[tokio::test]
async fn a_foreign_message_is_a_bad_record_dead_lettered_with_its_payload() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let mut sink_config = sink_config(&servers, "mixed");
    sink_config.partitions = 1;
    let sink = RivvenSink::new();
    write_all(&sink, &sink_config, &orders(0..5)).await;
    publish_raw(
        &broker.addr(),
        "mixed",
        &[b"\xff\xfe poison", br#"{"not": "an event"}"#],
    )
    .await;
    write_all(&sink, &sink_config, &orders(5..10)).await;

    let config = source_config(&servers, "mixed", "dlq");
    let dead = MockSink::new();
    let settings = PipelineSettings {
        on_error: OnError::DeadLetter,
        ..PipelineSettings::default()
    };
    let harness = TestHarness::with_configs(
        RivvenSource::new(),
        config.clone(),
        MockSink::new(),
        Default::default(),
    )
    .with_dead_letter(dead.clone(), Default::default())
    .with_settings(settings);
    let result = harness.run_for(Duration::from_secs(4)).await.unwrap();
    assert_eq!(result.events_written, 10, "{result:?}");
    assert_eq!(result.dead_lettered, 2, "{result:?}");
    let letters = dead.written_events();
    let text = serde_json::to_string(&letters).unwrap();
    assert!(
        text.contains("message is not a rivven-connect event"),
        "{text}"
    );
    // The group's offset passed the bad records: all 12 messages are done.
    let committed = RivvenSource::new()
        .committed_offsets(&config)
        .await
        .unwrap();
    assert_eq!(committed.get(0), Some(12), "{committed:?}");
}

#[tokio::test]
async fn through_the_runtime_the_group_offset_follows_what_the_sink_wrote() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let sink = RivvenSink::new();
    let sink_config = sink_config(&servers, "runtime");
    write_all(&sink, &sink_config, &orders(0..100)).await;
    let config = source_config(&servers, "runtime", "to-mock");

    let written = MockSink::new();
    let harness = TestHarness::with_configs(
        RivvenSource::new(),
        config.clone(),
        written.clone(),
        Default::default(),
    );
    let result = harness.run_for(Duration::from_secs(3)).await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!(
        ids(&written.written_events())
            .into_iter()
            .collect::<BTreeSet<_>>(),
        (0..100).collect()
    );
    let committed = RivvenSource::new()
        .committed_offsets(&config)
        .await
        .unwrap();
    assert_eq!(
        committed.iter().map(|(_, n)| n).sum::<u64>(),
        100,
        "{committed:?}"
    );

    // A new pipeline (no runtime state) continues at the group's offsets.
    write_all(&sink, &sink_config, &orders(100..150)).await;
    let next = MockSink::new();
    let harness = TestHarness::with_configs(
        RivvenSource::new(),
        config,
        next.clone(),
        Default::default(),
    );
    harness.run_for(Duration::from_secs(3)).await.unwrap();
    assert_eq!(
        ids(&next.written_events())
            .into_iter()
            .collect::<BTreeSet<_>>(),
        (100..150).collect()
    );
}
