//! `Nats`: a JetStream round trip, kill/restart with the stream on disk.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use rivven_connect_testing::eventually;
use rivven_connect_testing::services::Nats;

use crate::{CLIENT_TIMEOUT, SYSTEM_PORTS};

async fn nats_connect(nats: &Nats) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(nats.url())
        .await
}

/// Whether any file under `dir` contains `needle`.
fn tree_contains(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let path = entry.path();
            if path.is_dir() {
                tree_contains(&path, needle)
            } else {
                std::fs::read(&path)
                    .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            }
        })
}

#[tokio::test]
async fn nats_jetstream_round_trip_survives_kill_and_restart() {
    use async_nats::jetstream::{self, consumer::pull, stream};
    let mut nats = Nats::start().await.unwrap();
    assert!(!SYSTEM_PORTS.contains(&nats.port()));
    assert_eq!(nats.url(), format!("nats://127.0.0.1:{}", nats.port()));
    let js = jetstream::new(nats_connect(&nats).await.unwrap());
    let events = js
        .create_stream(stream::Config {
            name: "EVENTS".into(),
            subjects: vec!["events.>".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();
    let ack = js
        .publish("events.one", "persisted-payload".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((ack.stream.as_str(), ack.sequence), ("EVENTS", 1));
    let consumer = events
        .create_consumer(pull::Config {
            durable_name: Some("reader".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer.fetch().max_messages(1).messages().await.unwrap();
    let message = tokio::time::timeout(CLIENT_TIMEOUT, batch.next())
        .await
        .unwrap()
        .expect("one message")
        .unwrap();
    assert_eq!(&message.payload[..], b"persisted-payload");
    message.ack().await.unwrap();

    // JetStream acknowledges before its write reaches the file: wait for it.
    let store = nats.store_dir();
    assert!(
        eventually(
            || tree_contains(&store, b"persisted-payload"),
            CLIENT_TIMEOUT
        )
        .await
    );
    nats.kill();
    assert!(!nats.is_running());
    assert!(
        nats_connect(&nats).await.is_err(),
        "new connection after kill"
    );

    nats.restart().await.unwrap();
    let js = jetstream::new(nats_connect(&nats).await.unwrap());
    let events = js.get_stream("EVENTS").await.unwrap();
    let stored = events.get_raw_message(1).await.unwrap();
    assert_eq!(&stored.payload[..], b"persisted-payload");
}
