//! The `amqp` source through the runtime; `pika` publishes.

use std::time::Duration;

use rivven_connect::runtime::{OnError, PipelineSettings};
use rivven_connect::{ConnectorError, Source, SourceConfig};
use rivven_connect_queue::amqp::{AmqpSource, AmqpSourceConfig};
use rivven_connect_testing::{MockSink, TestHarness};
use serde_json::json;

use crate::support::*;

fn harness(config: AmqpSourceConfig, sink: MockSink) -> TestHarness<AmqpSource, MockSink> {
    TestHarness::with_configs(AmqpSource::new(), config, sink, Default::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_arrives_once_with_its_properties_and_is_acknowledged() {
    let rabbit = server().await;
    publish_ids(&rabbit, "orders", 0..300);
    // Numbers beyond f64 and nesting beyond serde_json's limit: valid JSON,
    // kept byte for byte.
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    publish_raw(&rabbit, "exact", &[br#"{"v": 1e400}"#, deep.as_bytes()]);
    let config = source_config(&rabbit, "orders");
    let sink = MockSink::new();
    let source = AmqpSource::new();
    let result = TestHarness::with_configs(
        source.clone(),
        config.clone(),
        sink.clone(),
        Default::default(),
    )
    .run_for(Duration::from_secs(3))
    .await
    .unwrap();
    assert!(result.success, "{result:?}");
    let events = sink.written_events();
    assert_eq!(id_counts(&events), once_each(0..300));
    let counted = source.metrics().snapshot();
    assert_eq!((counted.messages, counted.errors), (300, 0), "{counted:?}");
    assert_eq!(
        counted.acks, 300,
        "each acknowledged after the commit: {counted:?}"
    );
    let first = events.iter().find(|e| e.data["id"] == 7).unwrap();
    assert_eq!(first.stream, "orders");
    assert_eq!(first.key, Some(json!("orders")), "key = routing key");
    let meta = &first.metadata.extra;
    assert_eq!(meta["amqp_message_id"], "m-7");
    assert_eq!(meta["amqp_headers"], json!({"n": 7}));
    assert_eq!(meta["amqp_delivery_mode"], 2);
    assert_eq!(meta["amqp_routing_key"], "orders");
    assert_eq!(meta["amqp_exchange"], "");
    assert_eq!(meta["amqp_redelivered"], false);
    assert!(meta["amqp_delivery_tag"].as_u64().unwrap() > 0);
    settle(&rabbit, &["orders"], 0).await;

    // The key from a header; exact payloads.
    publish_ids(&rabbit, "orders", 300..305);
    let mut keyed = source_json(&rabbit, "orders");
    keyed["key_header"] = json!("n");
    let next = MockSink::new();
    harness(AmqpSourceConfig::from_value(keyed).unwrap(), next.clone())
        .run_for(Duration::from_secs(2))
        .await
        .unwrap();
    let events = next.written_events();
    assert_eq!(id_counts(&events), once_each(300..305));
    assert!(events.iter().all(|e| e.key == Some(e.data["id"].clone())));

    let exact = MockSink::new();
    harness(source_config(&rabbit, "exact"), exact.clone())
        .run_for(Duration::from_secs(2))
        .await
        .unwrap();
    let events = exact.written_events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].data, json!(r#"{"v": 1e400}"#));
    assert_eq!(events[1].data, json!(deep));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncommitted_messages_come_again_and_rejected_ones_can_go_to_the_dead_letter_exchange() {
    let rabbit = server().await;
    publish_ids(&rabbit, "jobs", 0..100);
    let config = source_config(&rabbit, "jobs");
    let failing =
        MockSink::new().fail_after_with(0, u64::MAX, || ConnectorError::connection("sink down"));
    harness(config.clone(), failing.clone())
        .run_for(Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(failing.written_count(), 0);
    assert!(failing.write_attempts() > 0);
    let sink = MockSink::new();
    harness(config, sink.clone())
        .run_for(Duration::from_secs(3))
        .await
        .unwrap();
    let events = sink.written_events();
    let ids = id_counts(&events);
    assert_eq!(
        ids.keys().copied().collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>(),
        "none lost"
    );
    assert!(events
        .iter()
        .any(|e| e.metadata.extra["amqp_redelivered"] == true));
    settle(&rabbit, &["jobs"], 0).await;

    // on_reject: dead_letter — messages the pipeline rejects go to the
    // queue's dead letter exchange instead of coming again.
    pika(
        &rabbit,
        json!({"op": "declare", "exchanges": [{"name": "dlx", "type": "fanout"}],
               "queues": [{"name": "dead", "bindings": [{"exchange": "dlx"}]}]}),
    );
    let mut dl = source_json(&rabbit, "tasks");
    dl["declare"] = json!({"durable": true, "arguments": {"x-dead-letter-exchange": "dlx"}});
    dl["on_reject"] = json!("dead_letter");
    let dl = AmqpSourceConfig::from_value(dl).unwrap();
    publish_ids_declared(
        &rabbit,
        json!({"name": "tasks", "arguments": {"x-dead-letter-exchange": "dlx"}}),
        0..20,
    );
    // The pipeline rejects the first 5 (the runtime resolves their tokens
    // `Rejected`), acknowledges the next 5, and the stream is dropped
    // while the rest is still buffered or prefetched.
    let mut stream = AmqpSource::new()
        .read(&dl, &rivven_connect::ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    for i in 0..10 {
        let mut event = futures::StreamExt::next(&mut stream)
            .await
            .unwrap()
            .unwrap();
        let token = event.take_ack().unwrap();
        if i < 5 {
            token.nack();
        } else {
            token.ack();
        }
    }
    drop(stream);
    // What the pipeline rejected is dead-lettered, what it acknowledged is
    // gone, what it never got is back in the queue.
    let ids = |messages: Vec<serde_json::Value>| -> Vec<u64> {
        messages
            .iter()
            .map(|m| {
                serde_json::from_slice::<serde_json::Value>(&unb64(&m["body"])).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    settle(&rabbit, &["dead", "tasks"], 15).await;
    let dead = get_all(&rabbit, "dead");
    assert!(dead
        .iter()
        .all(|m| m["headers"]["x-first-death-reason"] == "rejected"));
    assert_eq!(ids(dead), (0..5).collect::<Vec<_>>());
    let mut back = ids(get_all(&rabbit, "tasks"));
    back.sort();
    assert_eq!(back, (10..20).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_kill_and_restart_mid_stream_loses_nothing() {
    let mut rabbit = server().await;
    publish_ids(&rabbit, "events", 0..50);
    let config = source_config(&rabbit, "events");
    let sink = MockSink::new();
    let pipeline = {
        let h = harness(config, sink.clone());
        // Long enough for a node restart (6-8 s) and the reconnect backoff
        // on a loaded machine.
        tokio::spawn(async move { h.run_for(Duration::from_secs(40)).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    rabbit.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    rabbit.restart().await.unwrap();
    publish_ids(&rabbit, "events", 50..100);
    let result = pipeline.await.unwrap().unwrap();
    assert!(result.success, "{result:?}");
    let counts = id_counts(&sink.written_events());
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    settle(&rabbit, &["events"], 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_and_acknowledged() {
    let rabbit = server().await;
    publish_ids(&rabbit, "mixed", 0..5);
    publish_raw(&rabbit, "mixed", &[b"not json", b"\xff\xfe invalid utf-8"]);
    publish_ids(&rabbit, "mixed", 5..10);
    let dead = MockSink::new();
    let written = MockSink::new();
    let settings = PipelineSettings {
        on_error: OnError::DeadLetter,
        ..PipelineSettings::default()
    };
    let result = harness(source_config(&rabbit, "mixed"), written.clone())
        .with_dead_letter(dead.clone(), Default::default())
        .with_settings(settings)
        .run_for(Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(result.events_written, 10, "{result:?}");
    assert_eq!(result.dead_lettered, 2, "{result:?}");
    let letters = serde_json::to_string(&dead.written_events()).unwrap();
    assert!(letters.contains("not JSON"), "{letters}");
    assert!(letters.contains("not UTF-8"), "{letters}");
    settle(&rabbit, &["mixed"], 0).await;
}
