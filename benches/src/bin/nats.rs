//! The `nats` connectors against async-nats in a hand-written loop, in one
//! run, on a private nats-server with JetStream (connect-testing):
//! messages/s at 1 KiB payloads.
//!
//! * **nats sink** — `NatsSink::write_borrowed` (batches of 1 000: every
//!   publish sent, then every ack awaited) vs async-nats publishing the
//!   same batches to JetStream and awaiting their acks the same way.
//! * **nats source** — `NatsSource::read` (durable pull consumer, each
//!   token resolved `Delivered` at once, until the consumer has nothing
//!   pending or unacked) vs async-nats pulling batches of 1 000 from a
//!   durable consumer and acking each message.
//!
//! ```sh
//! cargo run --release -p rivven-connect-benches --bin nats                      # 50 000 messages
//! cargo run -p rivven-connect-benches --bin nats -- --messages 5000              # CI size
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rivven_connect_benches::messaging::{self, events, payload, rate, BATCH};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, stream};
use futures::StreamExt;
use rivven_connect::{ConfiguredCatalog, Sink, SinkConfig, Source, SourceConfig};
use rivven_connect_queue::nats::{NatsSink, NatsSinkConfig, NatsSource, NatsSourceConfig};
use rivven_connect_testing::services::Nats;
use serde_json::json;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

async fn context(nats: &Nats) -> jetstream::Context {
    jetstream::new(async_nats::connect(nats.url()).await.unwrap())
}

async fn create(js: &jetstream::Context, name: &str, subject: &str) {
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: vec![subject.into()],
        ..Default::default()
    })
    .await
    .unwrap();
}

/// async-nats by hand: batches of `BATCH` publishes, then their acks.
async fn publish_loop(js: &jetstream::Context, subject: &str, n: usize) -> Duration {
    let p = bytes::Bytes::from(payload());
    let started = Instant::now();
    for _ in 0..n / BATCH {
        let mut acks = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            acks.push(js.publish(subject.to_string(), p.clone()).await.unwrap());
        }
        for ack in
            futures::future::join_all(acks.into_iter().map(std::future::IntoFuture::into_future))
                .await
        {
            ack.unwrap();
        }
    }
    started.elapsed()
}

/// Until the durable consumer has nothing pending and nothing unacked.
async fn drained(js: &jetstream::Context, stream: &str, durable: &str) {
    let mut consumer: jetstream::consumer::PullConsumer = js
        .get_stream(stream)
        .await
        .unwrap()
        .get_consumer(durable)
        .await
        .unwrap();
    loop {
        let info = consumer.info().await.unwrap();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// async-nats by hand: pull batches of `BATCH`, ack each message.
async fn pull_loop(js: &jetstream::Context, stream: &str, n: usize) -> Duration {
    let consumer = js
        .get_stream(stream)
        .await
        .unwrap()
        .create_consumer(pull::Config {
            durable_name: Some("raw".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let started = Instant::now();
    let mut got = 0;
    while got < n {
        let mut batch = consumer
            .batch()
            .max_messages(BATCH)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap();
        while let Some(message) = batch.next().await {
            message.unwrap().ack().await.unwrap();
            got += 1;
        }
    }
    drained(js, stream, "raw").await;
    started.elapsed()
}

async fn bench(n: usize) -> Vec<(String, f64, f64)> {
    let nats = Nats::start().await.unwrap();
    let js = context(&nats).await;
    create(&js, "RAW", "bench.raw").await;
    create(&js, "SRC", "bench.src").await;
    let mut rows = Vec::new();
    let m = n / BATCH * BATCH;
    // Sink: each side fills the stream the other side's source then reads.
    let raw = publish_loop(&js, "bench.raw", m).await;
    let sink = NatsSink::new();
    let config =
        NatsSinkConfig::from_value(json!({"url": nats.url(), "subject": "bench.src"})).unwrap();
    let batch = events(BATCH);
    let started = Instant::now();
    for _ in 0..m / BATCH {
        assert!(sink
            .write_borrowed(&config, &batch)
            .await
            .unwrap()
            .is_success());
    }
    rows.push(("nats sink".into(), rate(m, started.elapsed()), rate(m, raw)));
    // Source.
    let raw = pull_loop(&js, "RAW", m).await;
    let config = NatsSourceConfig::from_value(json!({
        "url": nats.url(), "stream": "SRC", "durable_name": "src", "parse_json_payload": false
    }))
    .unwrap();
    let started = Instant::now();
    let mut stream = NatsSource::new()
        .read(&config, &ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    for _ in 0..m {
        let mut event = stream.next().await.unwrap().unwrap();
        event.take_ack().unwrap().ack();
    }
    drained(&js, "SRC", "src").await;
    rows.push((
        "nats source".into(),
        rate(m, started.elapsed()),
        rate(m, raw),
    ));
    rows
}

#[tokio::main]
async fn main() {
    let n = messaging::messages_arg(50_000);
    let rows = bench(n).await;
    messaging::print_table(n, "async-nats", &rows);
}
