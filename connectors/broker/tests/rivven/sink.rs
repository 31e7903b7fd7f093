//! The `rivven` sink: acknowledged batches read back by an independent
//! consumer, keys, topic creation and checks, failover, limits.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use rivven_client::Client;
use rivven_connect::{Sink, SinkConfig, SourceEvent};
use rivven_connect_broker::rivven::{RivvenSink, RivvenSinkConfig, MAX_MESSAGE_BYTES};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_written_batch_is_on_the_topic_by_id_keyed_by_the_event_key() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let config = sink_config(&servers, "orders");
    let sink = RivvenSink::new();
    let events = orders(0..2000);
    write_all(&sink, &config, &events[..1]).await; // connected, topic created
    let mut client = Client::connect(&broker.addr()).await.unwrap();
    let started = Instant::now();
    client.publish("single", b"one".to_vec()).await.unwrap();
    let round_trip = started.elapsed();
    let started = Instant::now();
    write_all(&sink, &config, &events[1..]).await;
    let elapsed = started.elapsed();
    println!(
        "one batch of 1999 events acknowledged in {elapsed:?} ({:.0} events/s); one publish round trip {round_trip:?}",
        1999.0 / elapsed.as_secs_f64()
    );
    // A round trip per event would take 1999 round trips.
    assert!(
        elapsed < round_trip * 1999 / 4,
        "{elapsed:?} vs {round_trip:?} per publish"
    );

    let messages = read_back(&broker.addr(), "orders").await;
    assert_eq!(messages.len(), 2000);
    assert_eq!(id_set(&messages), (0..2000).collect::<BTreeSet<u64>>());
    let mut partitions_of_key: BTreeMap<Vec<u8>, BTreeSet<u32>> = BTreeMap::new();
    for message in &messages {
        let event: SourceEvent = serde_json::from_slice(&message.value).unwrap();
        assert_eq!(event, events[event.data["id"].as_u64().unwrap() as usize]);
        let key = message.key.clone().unwrap();
        assert_eq!(key, format!("c-{}", message.id() % 7).into_bytes());
        partitions_of_key
            .entry(key)
            .or_default()
            .insert(message.partition);
    }
    assert!(
        partitions_of_key.values().all(|p| p.len() == 1),
        "{partitions_of_key:?}"
    );
    let used: BTreeSet<u32> = partitions_of_key.values().flatten().copied().collect();
    assert!(used.len() > 1, "7 keys all on one partition: {used:?}");
}

#[tokio::test]
async fn a_missing_topic_is_created_with_the_configured_partitions() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let mut config = sink_config(&servers, "five");
    config.partitions = 5;
    write_all(&RivvenSink::new(), &config, &orders(0..10)).await;
    let mut client = Client::connect(&broker.addr()).await.unwrap();
    assert_eq!(client.get_metadata("five").await.unwrap().1, 5);
}

#[tokio::test]
async fn require_topic_exists_fails_check_and_write_on_a_missing_topic() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let mut config = sink_config(&servers, "absent");
    config.require_topic_exists = true;
    let sink = RivvenSink::new();
    let check = sink.check(&config).await.unwrap();
    assert!(!check.is_success());
    assert!(
        check.summary().contains("topic `absent` does not exist"),
        "{}",
        check.summary()
    );
    let err = sink
        .write_borrowed(&config, &orders(0..1))
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let mut client = Client::connect(&broker.addr()).await.unwrap();
    assert!(!client
        .list_topics()
        .await
        .unwrap()
        .contains(&"absent".to_string()));
}

#[tokio::test]
async fn validate_existing_warns_naming_both_partition_counts() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let mut client = Client::connect(&broker.addr()).await.unwrap();
    client.create_topic("narrow", Some(1)).await.unwrap();
    let mut config = sink_config(&servers, "narrow");
    config.validate_existing = true;
    let check = RivvenSink::new().check(&config).await.unwrap();
    assert!(check.is_success(), "{}", check.summary());
    let warning = check.message.clone().unwrap_or_default();
    assert!(warning.contains("exists with 1 partition(s)"), "{warning}");
    assert!(warning.contains("partitions: 3"), "{warning}");
    // Writing uses the existing topic unchanged.
    write_all(&RivvenSink::new(), &config, &orders(0..5)).await;
    assert_eq!(client.get_metadata("narrow").await.unwrap().1, 1);
    config.validate_existing = false;
    let quiet = RivvenSink::new().check(&config).await.unwrap();
    assert_eq!(quiet.message, None);
}

#[tokio::test]
async fn an_unreachable_broker_fails_check_with_one_line() {
    let (a, b) = (closed_port(), closed_port());
    let config = RivvenSinkConfig::from_value(sink_json(&[a.clone(), b.clone()], "t")).unwrap();
    let check = RivvenSink::new().check(&config).await.unwrap();
    assert!(!check.is_success());
    assert!(check.is_retryable());
    let summary = check.summary();
    assert!(!summary.contains('\n'), "{summary}");
    assert!(
        summary.starts_with(&format!(
            "broker: cannot reach any bootstrap server ({a}, {b}): "
        )),
        "{summary}"
    );
    let err = RivvenSink::new()
        .write_borrowed(&config, &orders(0..1))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn a_first_bootstrap_server_that_is_down_is_skipped() {
    let broker = broker().await;
    let servers = vec![closed_port(), broker.addr()];
    let config = sink_config(&servers, "failover");
    let sink = RivvenSink::new();
    assert!(sink.check(&config).await.unwrap().is_success());
    write_all(&sink, &config, &orders(0..50)).await;
    assert_eq!(read_back(&broker.addr(), "failover").await.len(), 50);
}

#[tokio::test]
async fn an_event_too_large_or_too_deep_for_the_broker_round_trip_is_rejected_per_record() {
    let broker = broker().await;
    let config = sink_config(&broker.bootstrap_servers(), "big");
    let mut events = orders(0..4);
    events[1].data["blob"] = json!("x".repeat(MAX_MESSAGE_BYTES));
    let mut deep = json!(0);
    for _ in 0..1100 {
        deep = json!([deep]);
    }
    events[3].data["deep"] = deep;
    let result = RivvenSink::new()
        .write_borrowed(&config, &events)
        .await
        .unwrap();
    assert_eq!(result.records_written, 2);
    let failures: Vec<usize> = result.record_failures().map(|(i, _)| i).collect();
    assert_eq!(failures, [1, 3]);
    assert_eq!(
        id_set(&read_back(&broker.addr(), "big").await),
        [0, 2].into()
    );
}
