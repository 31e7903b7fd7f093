//! The `amqp` source and sink against lapin in a hand-written loop, in one
//! run, on a private RabbitMQ node (connect-testing): messages/s at 1 KiB
//! payloads, persistent messages in a durable queue.
//!
//! * **amqp sink** — `AmqpSink::write_borrowed` (batches of 1 000,
//!   publisher confirms awaited per batch) vs lapin publishing the same
//!   batches on a confirm-mode channel and awaiting every confirm.
//! * **amqp source** — `AmqpSource::read` (prefetch 1 000, each token
//!   resolved `Delivered` at once, acks coalesced) vs a lapin consumer
//!   (prefetch 1 000) acknowledging every 500th delivery with `multiple`,
//!   each until the queue has no consumer and no message left.
//!
//! ```sh
//! cargo run --release -p rivven-connect-benches --bin amqp                  # 50 000 messages
//! cargo run -p rivven-connect-benches --bin amqp -- --messages 5000         # CI size
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rivven_connect_benches::messaging::{self, events, payload, rate, BATCH};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use rivven_connect::{ConfiguredCatalog, Sink, SinkConfig, Source, SourceConfig};
use rivven_connect_queue::amqp::{AmqpSink, AmqpSinkConfig, AmqpSource, AmqpSourceConfig};
use rivven_connect_testing::services::RabbitMq;
use serde_json::json;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

async fn channel(rabbit: &RabbitMq) -> (Connection, Channel) {
    let url = format!(
        "amqp://{}:{}@127.0.0.1:{}/%2f",
        rabbit.user(),
        rabbit.password(),
        rabbit.port()
    );
    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    (conn, ch)
}

async fn declare(ch: &Channel, queue: &str) {
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions::durable(),
        FieldTable::default(),
    )
    .await
    .unwrap();
}

/// lapin by hand: batches of `BATCH` persistent messages, then every confirm.
async fn publish_loop(ch: &Channel, queue: &str, n: usize) -> Duration {
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let p = payload().into_bytes();
    let started = Instant::now();
    for _ in 0..n / BATCH {
        let mut confirms = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            confirms.push(
                ch.basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions::default(),
                    &p,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await
                .unwrap(),
            );
        }
        for c in confirms {
            assert!(c.await.unwrap().is_ack());
        }
    }
    started.elapsed()
}

/// Waits until `queue` has no consumer (its channel closed: whatever was
/// not acknowledged is ready again), then asserts it holds no message.
async fn drained(ch: &Channel, queue: &str) {
    loop {
        let q = ch
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        if q.consumer_count() == 0 {
            assert_eq!(
                q.message_count(),
                0,
                "{queue}: messages left unacknowledged"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// lapin by hand: consume `n` with prefetch `BATCH`.
async fn consume_loop(rabbit: &RabbitMq, queue: &str, n: usize) -> Duration {
    let (conn, ch) = channel(rabbit).await;
    ch.basic_qos(BATCH as u16, BasicQosOptions::default())
        .await
        .unwrap();
    let started = Instant::now();
    let mut consumer = ch
        .basic_consume(
            queue.into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    // One `multiple` ack per half prefetch window (and the last one): the
    // cheapest acknowledgement a hand-written consumer can do.
    for i in 1..=n {
        let delivery = consumer.next().await.unwrap().unwrap();
        if i % (BATCH / 2) == 0 || i == n {
            delivery
                .ack(BasicAckOptions { multiple: true })
                .await
                .unwrap();
        }
    }
    conn.close(200, "OK".into()).await.unwrap();
    started.elapsed()
}

async fn bench(n: usize) -> Vec<(String, f64, f64)> {
    let rabbit = RabbitMq::start().await.unwrap();
    let (_conn, ch) = channel(&rabbit).await;
    let (_conn2, admin) = channel(&rabbit).await;
    let m = n / BATCH * BATCH;
    let mut rows = Vec::new();
    // Sink.
    declare(&ch, "raw").await;
    let raw = publish_loop(&ch, "raw", n).await;
    let sink = AmqpSink::new();
    let config = AmqpSinkConfig::from_value(json!({
        "url": rabbit.url(), "routing_key": "src", "declare_queues": [{"name": "src"}]
    }))
    .unwrap();
    let batch = events(BATCH);
    // The first write connects and declares: outside the timing.
    assert!(sink
        .write_borrowed(&config, &batch[..1])
        .await
        .unwrap()
        .is_success());
    let started = Instant::now();
    for _ in 0..n / BATCH {
        assert!(sink
            .write_borrowed(&config, &batch)
            .await
            .unwrap()
            .is_success());
    }
    rows.push(("amqp sink".into(), rate(m, started.elapsed()), rate(m, raw)));
    // Source: the queues just written (`src` has one more message).
    let raw = consume_loop(&rabbit, "raw", m).await;
    drained(&admin, "raw").await;
    let config = AmqpSourceConfig::from_value(json!({
        "url": rabbit.url(), "queue": "src", "prefetch": BATCH, "parse_json_payload": false
    }))
    .unwrap();
    let started = Instant::now();
    let mut stream = AmqpSource::new()
        .read(&config, &ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    for _ in 0..=m {
        let mut event = stream.next().await.unwrap().unwrap();
        event.take_ack().unwrap().ack();
    }
    // Dropping the stream closes the connection once every ack is sent;
    // until then the consumer is there.
    drop(stream);
    drained(&admin, "src").await;
    let connector = started.elapsed();
    rows.push(("amqp source".into(), rate(m + 1, connector), rate(m, raw)));
    rows
}

#[tokio::main]
async fn main() {
    let n = messaging::messages_arg(50_000);
    let rows = bench(n).await;
    messaging::print_table(n, "lapin", &rows);
}
