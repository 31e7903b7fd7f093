//! The durable consumer's edge cases: deleted while the source reads
//! (fail naming stream and consumer, or recreate when allowed), a stream
//! deleted, `create_consumer: false`, and `filter_subjects` on this
//! machine's nats-server 2.9 (a configuration error) beside a working
//! `filter_subject`.

use std::time::Duration;

use async_nats::jetstream;
use futures::stream::BoxStream;
use futures::StreamExt;
use rivven_connect::{ConfiguredCatalog, ErrorKind, Result, Source, SourceConfig, SourceEvent};
use rivven_connect_queue::nats::{NatsSource, NatsSourceConfig};
use rivven_connect_testing::services::Nats;
use serde_json::{json, Value};

use crate::support::*;

fn config(nats: &Nats, stream: &str, extra: Value) -> NatsSourceConfig {
    let mut config = source_json(nats, stream);
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    NatsSourceConfig::from_value(config).unwrap()
}

async fn js(nats: &Nats) -> jetstream::Context {
    jetstream::new(async_nats::connect(nats.url()).await.unwrap())
}

/// The next item within 15 s.
async fn next(events: &mut BoxStream<'static, Result<SourceEvent>>) -> Result<SourceEvent> {
    tokio::time::timeout(Duration::from_secs(15), events.next())
        .await
        .expect("an item in time")
        .expect("the stream goes on")
}

/// Takes `n` events, acking each; their ids in order of arrival.
async fn take_ids(events: &mut BoxStream<'static, Result<SourceEvent>>, n: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut event = next(events).await.unwrap();
        ids.push(event.data["id"].as_u64().unwrap());
        event.take_ack().unwrap().ack();
    }
    ids
}

async fn read(
    source: &NatsSource,
    config: &NatsSourceConfig,
) -> Result<BoxStream<'static, Result<SourceEvent>>> {
    source
        .read(config, &ConfiguredCatalog::default(), None)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_deleted_while_reading_fails_the_source_naming_stream_and_consumer() {
    let nats = server().await;
    create_stream(&nats, "GONE", &["gone"]).await;
    publish_ids(&nats, "gone", 0..5);
    let config = config(&nats, "GONE", json!({"durable_name": "gone-reader"}));
    let source = NatsSource::new();
    let mut events = read(&source, &config).await.unwrap();
    assert_eq!(take_ids(&mut events, 5).await, (0..5).collect::<Vec<_>>());

    js(&nats)
        .await
        .get_stream("GONE")
        .await
        .unwrap()
        .delete_consumer("gone-reader")
        .await
        .unwrap();
    let err = next(&mut events)
        .await
        .expect_err("the deletion is reported");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.is_retryable(), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("`gone-reader`")
            && message.contains("`GONE`")
            && message.contains("deleted"),
        "{message}"
    );
    assert!(message.contains("recreate_consumer"), "{message}");
    drop(events);
    // The runtime's restart (the same source) does not create it silently.
    let again = read(&source, &config).await.err().expect("still refused");
    assert!(again.to_string().contains("was deleted"), "{again}");
    assert!(!again.is_retryable());
    assert!(
        js(&nats)
            .await
            .get_stream("GONE")
            .await
            .unwrap()
            .consumer_info("gone-reader")
            .await
            .is_err(),
        "no consumer was created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_consumer_makes_a_deleted_consumer_again_and_reading_goes_on() {
    let nats = server().await;
    create_stream(&nats, "BACK", &["back"]).await;
    publish_ids(&nats, "back", 0..3);
    let config = config(
        &nats,
        "BACK",
        json!({"durable_name": "back-reader", "recreate_consumer": true, "deliver_policy": "new"}),
    );
    let source = NatsSource::new();
    let mut events = read(&source, &config).await.unwrap();
    // deliver_policy new: only what is published from now on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish_ids(&nats, "back", 3..6);
    assert_eq!(take_ids(&mut events, 3).await, vec![3, 4, 5]);

    let stream = js(&nats).await.get_stream("BACK").await.unwrap();
    stream.delete_consumer("back-reader").await.unwrap();
    // Recreated (it warns and counts an error), then new messages flow.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while stream.consumer_info("back-reader").await.is_err() {
        assert!(std::time::Instant::now() < deadline, "not recreated");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    publish_ids(&nats, "back", 6..9);
    assert_eq!(take_ids(&mut events, 3).await, vec![6, 7, 8]);
    assert!(source.metrics().snapshot().errors >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_deleted_while_reading_fails_the_source_naming_it() {
    let nats = server().await;
    create_stream(&nats, "DOOMED", &["doomed"]).await;
    publish_ids(&nats, "doomed", 0..2);
    let config = config(&nats, "DOOMED", json!({"recreate_consumer": true}));
    let mut events = read(&NatsSource::new(), &config).await.unwrap();
    assert_eq!(take_ids(&mut events, 2).await, vec![0, 1]);
    js(&nats).await.delete_stream("DOOMED").await.unwrap();
    let err = next(&mut events)
        .await
        .expect_err("the deletion is reported");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("stream `DOOMED`") && err.to_string().contains("deleted"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_consumer_false_reads_only_an_existing_consumer() {
    let nats = server().await;
    create_stream(&nats, "ADMIN", &["admin"]).await;
    publish_ids(&nats, "admin", 0..4);
    let config = config(
        &nats,
        "ADMIN",
        json!({"durable_name": "made-by-admin", "create_consumer": false}),
    );
    let err = read(&NatsSource::new(), &config)
        .await
        .err()
        .expect("no consumer yet");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(
        err.to_string().contains("`made-by-admin`")
            && err.to_string().contains("create_consumer is false"),
        "{err}"
    );
    js(&nats)
        .await
        .get_stream("ADMIN")
        .await
        .unwrap()
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("made-by-admin".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut events = read(&NatsSource::new(), &config).await.unwrap();
    assert_eq!(take_ids(&mut events, 4).await, (0..4).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_subjects_on_a_2_9_server_is_a_config_error_and_filter_subject_works() {
    let nats = server().await;
    create_stream(&nats, "EV", &["ev.>"]).await;
    publish_ids(&nats, "ev.a", 0..3);
    publish_ids(&nats, "ev.b", 3..6);
    let several = config(&nats, "EV", json!({"filter_subjects": ["ev.a", "ev.b"]}));
    let check = NatsSource::new().check(&several).await.unwrap();
    assert!(!check.is_success());
    let summary = check.summary();
    assert!(
        summary.contains("filter_subjects")
            && summary.contains("2.9.10")
            && summary.contains("2.10"),
        "{summary}"
    );
    assert!(!summary.trim_end().contains('\n'), "one line: {summary}");
    let err = read(&NatsSource::new(), &several)
        .await
        .err()
        .expect("refused");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.is_retryable());
    // Nothing was created with a filter the server would have ignored.
    let stream = js(&nats).await.get_stream("EV").await.unwrap();
    assert!(stream
        .consumer_info(several.effective_durable_name())
        .await
        .is_err());

    let one = config(&nats, "EV", json!({"filter_subject": "ev.b"}));
    assert!(NatsSource::new().check(&one).await.unwrap().is_success());
    let mut events = read(&NatsSource::new(), &one).await.unwrap();
    assert_eq!(take_ids(&mut events, 3).await, vec![3, 4, 5]);
    let quiet = tokio::time::timeout(Duration::from_millis(800), events.next()).await;
    assert!(quiet.is_err(), "only ev.b: {quiet:?}");
}
