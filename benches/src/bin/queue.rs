//! The queue family's connectors against their client crates in a
//! hand-written loop, in one run, on private servers (Mosquitto, Redis from
//! connect-testing): messages/s at 1 KiB payloads.
//!
//! * **mqtt sink** — `MqttSink::write_borrowed` (batches of 1 000, QoS 1,
//!   pipelined: a write returns once its publishes went out, the next one
//!   collects the PUBACKs; a final `flush` awaits the last) vs rumqttc
//!   publishing the same messages and awaiting every PUBACK, in one
//!   continuous window and in rounds of 1 000 (each round's PUBACKs awaited
//!   before the next, as the sink did before pipelining); on a broker with
//!   Mosquitto's default settings and on one with `set_tcp_nodelay true`.
//! * **mqtt source** — `MqttSource::read` (QoS 1, each token resolved
//!   `Delivered` at once) vs rumqttc with manual acks, on messages queued
//!   for a persistent session.
//! * **redis sink** — `RedisStreamsSink::write_borrowed` (batches of 1 000)
//!   vs a pipelined XADD loop with the redis crate.
//! * **redis source** — `RedisStreamsSource::read` + XACK of every token vs
//!   an XREADGROUP (COUNT 1 000) / XACK loop.
//!
//! ```sh
//! cargo run --release -p rivven-connect-benches --bin queue                      # 50 000 messages
//! cargo run -p rivven-connect-benches --bin queue -- --messages 5000              # CI size
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rivven_connect_benches::messaging::{self, events, payload, rate, BATCH};
use std::time::{Duration, Instant};

use futures::StreamExt;
use redis::AsyncCommands;
use rivven_connect::{ConfiguredCatalog, Sink, SinkConfig, Source, SourceConfig};
use rivven_connect_queue::mqtt::{MqttSink, MqttSinkConfig, MqttSource, MqttSourceConfig};
use rivven_connect_queue::redis::{
    RedisStreamsSink, RedisStreamsSinkConfig, RedisStreamsSource, RedisStreamsSourceConfig,
};
use rivven_connect_testing::services::{Mosquitto, Redis};
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, Outgoing, QoS};
use serde_json::json;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Mosquitto's default `max_queued_messages` of an offline session.
const QUEUED: usize = 1000;

fn options(id: &str, broker: &Mosquitto, clean: bool) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", broker.port());
    o.set_clean_session(clean)
        .set_inflight(100)
        .set_keep_alive(Duration::from_secs(60))
        .set_max_packet_size(1 << 20, 1 << 20);
    o
}

/// rumqttc by hand: publish `n` at QoS 1, await every PUBACK, in one
/// continuous window.
async fn mqtt_publish_loop(broker: &Mosquitto, topic: &str, n: usize) -> Duration {
    mqtt_publish_rounds(broker, topic, n, n).await
}

/// rumqttc by hand: publish `n` at QoS 1 in rounds of `round` messages, each
/// round's PUBACKs all awaited before the next round starts (what a sink that
/// acknowledges each batch only once it is durable has to do).
async fn mqtt_publish_rounds(broker: &Mosquitto, topic: &str, n: usize, round: usize) -> Duration {
    let (client, mut el) = AsyncClient::new(options("bench-pub", broker, true), 256);
    let started = Instant::now();
    let p = payload().into_bytes();
    let mut done = 0;
    while done < n {
        let this = round.min(n - done);
        let (mut queued, mut acked) = (0, 0);
        while acked < this {
            while queued < this
                && client
                    .try_publish(topic, QoS::AtLeastOnce, false, p.clone())
                    .is_ok()
            {
                queued += 1;
            }
            if let Event::Incoming(Incoming::PubAck(_)) = el.poll().await.unwrap() {
                acked += 1;
            }
        }
        done += this;
    }
    let elapsed = started.elapsed();
    client.disconnect().await.unwrap();
    while !matches!(
        el.poll().await,
        Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_)
    ) {}
    elapsed
}

/// A persistent session subscribed to `topic` (then `n` messages queued for it).
async fn mqtt_session(broker: &Mosquitto, id: &str, topic: &str) {
    let (client, mut el) = AsyncClient::new(options(id, broker, false), 16);
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    while !matches!(
        el.poll().await.unwrap(),
        Event::Incoming(Incoming::SubAck(_))
    ) {}
    client.disconnect().await.unwrap();
    while !matches!(
        el.poll().await,
        Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_)
    ) {}
}

/// rumqttc by hand: receive `n` queued messages with manual acks.
async fn mqtt_receive_loop(broker: &Mosquitto, id: &str, n: usize) -> Duration {
    let mut o = options(id, broker, false);
    o.set_manual_acks(true);
    let (client, mut el) = AsyncClient::new(o, 1024);
    let started = Instant::now();
    let mut got = 0;
    while got < n {
        if let Event::Incoming(Incoming::Publish(p)) = el.poll().await.unwrap() {
            client.try_ack(&p).unwrap();
            got += 1;
        }
    }
    let elapsed = started.elapsed();
    client.disconnect().await.unwrap();
    while !matches!(
        el.poll().await,
        Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_)
    ) {}
    elapsed
}

/// The sink's rows on `broker`: against the continuous window and against
/// rounds of the sink's batch size.
async fn mqtt_sink(broker: &Mosquitto, n: usize, label: &str) -> Vec<(String, f64, f64)> {
    let n = n / BATCH * BATCH;
    let raw = mqtt_publish_loop(broker, "bench/raw", n).await;
    let rounds = mqtt_publish_rounds(broker, "bench/raw", n, BATCH).await;
    let sink = MqttSink::new();
    let config =
        MqttSinkConfig::from_value(json!({"broker_url": broker.url(), "topic": "bench/sink"}))
            .unwrap();
    let batch = events(BATCH);
    let started = Instant::now();
    let mut written = 0;
    for _ in 0..n / BATCH {
        let result = sink.write_borrowed(&config, &batch).await.unwrap();
        assert!(result.is_success());
        written += result.records_written;
    }
    // Writes are pipelined: the last PUBACKs are collected by the flush.
    let flushed = sink.flush(&config).await.unwrap();
    assert_eq!(flushed.pending, 0);
    assert_eq!(written + flushed.records_written, n as u64);
    let connector = rate(n, started.elapsed());
    vec![
        (
            format!("mqtt sink{label} / continuous window"),
            connector,
            rate(n, raw),
        ),
        (
            format!("mqtt sink{label} / {BATCH}-message rounds"),
            connector,
            rate(n, rounds),
        ),
    ]
}

async fn mqtt(n: usize) -> Vec<(String, f64, f64)> {
    // Mosquitto's default (Nagle on), then `set_tcp_nodelay true`.
    let nodelay = Mosquitto::builder()
        .tcp_nodelay(true)
        .start()
        .await
        .unwrap();
    let mut rows = mqtt_sink(&nodelay, n, " (broker nodelay)").await;
    drop(nodelay);
    let broker = Mosquitto::start().await.unwrap();
    rows.splice(0..0, mqtt_sink(&broker, n, "").await);
    // Source: Mosquitto queues at most 1 000 messages (max_queued_messages)
    // for an offline session, so rounds of 1 000: publish, then receive.
    mqtt_session(&broker, "bench-raw", "bench/in/raw").await;
    let config = MqttSourceConfig::from_value(json!({
        "broker_url": broker.url(), "topics": ["bench/in/src"], "client_id": "bench-src",
        "parse_json_payload": false
    }))
    .unwrap();
    mqtt_session(&broker, "bench-src", "bench/in/src").await;
    let rounds = (n / QUEUED).max(1);
    let (mut raw, mut connector) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        mqtt_publish_loop(&broker, "bench/in/raw", QUEUED).await;
        raw += mqtt_receive_loop(&broker, "bench-raw", QUEUED).await;
        mqtt_publish_loop(&broker, "bench/in/src", QUEUED).await;
        let started = Instant::now();
        let mut stream = MqttSource::new()
            .read(&config, &ConfiguredCatalog::default(), None)
            .await
            .unwrap();
        for _ in 0..QUEUED {
            let mut event = stream.next().await.unwrap().unwrap();
            event.take_ack().unwrap().ack();
        }
        connector += started.elapsed();
        drop(stream);
        // The stream's connection sends its last PUBACKs and disconnects.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let n = rounds * QUEUED;
    rows.push(("mqtt source".into(), rate(n, connector), rate(n, raw)));
    rows
}

async fn redis_bench(n: usize) -> Vec<(String, f64, f64)> {
    let server = Redis::start().await.unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut rows = Vec::new();
    // Sink.
    let p = payload();
    let started = Instant::now();
    for _ in 0..n / BATCH {
        let mut pipe = redis::pipe();
        for _ in 0..BATCH {
            pipe.cmd("XADD").arg("raw").arg("*").arg("payload").arg(&p);
        }
        let _: Vec<redis::Value> = pipe.query_async(&mut conn).await.unwrap();
    }
    let raw = started.elapsed();
    let sink = RedisStreamsSink::new();
    let config =
        RedisStreamsSinkConfig::from_value(json!({"url": server.url(), "stream": "src"})).unwrap();
    let batch = events(BATCH);
    let started = Instant::now();
    for _ in 0..n / BATCH {
        assert!(sink
            .write_borrowed(&config, &batch)
            .await
            .unwrap()
            .is_success());
    }
    let m = n / BATCH * BATCH;
    rows.push((
        "redis sink".into(),
        rate(m, started.elapsed()),
        rate(m, raw),
    ));
    // Source: the streams just written.
    let _: () = conn.xgroup_create("raw", "g", "0").await.unwrap();
    let started = Instant::now();
    let mut got = 0;
    while got < m {
        let opts = redis::streams::StreamReadOptions::default()
            .group("g", "c")
            .count(BATCH);
        let reply: redis::streams::StreamReadReply =
            conn.xread_options(&["raw"], &[">"], &opts).await.unwrap();
        let ids: Vec<String> = reply
            .keys
            .into_iter()
            .flat_map(|k| k.ids)
            .map(|e| e.id)
            .collect();
        got += ids.len();
        let _: u64 = conn.xack("raw", "g", &ids).await.unwrap();
    }
    let raw = started.elapsed();
    let config = RedisStreamsSourceConfig::from_value(json!({
        "url": server.url(), "stream": "src", "group": "g", "parse_json_payload": false
    }))
    .unwrap();
    let started = Instant::now();
    let mut stream = RedisStreamsSource::new()
        .read(&config, &ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    for _ in 0..m {
        let mut event = stream.next().await.unwrap().unwrap();
        event.take_ack().unwrap().ack();
    }
    // Until the last XACK is through: nothing pending.
    loop {
        let pending: (u64,) = redis::cmd("XPENDING")
            .arg("src")
            .arg("g")
            .query_async::<(u64, redis::Value, redis::Value, redis::Value)>(&mut conn)
            .await
            .map(|r| (r.0,))
            .unwrap();
        if pending.0 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    rows.push((
        "redis source".into(),
        rate(m, started.elapsed()),
        rate(m, raw),
    ));
    rows
}

#[tokio::main]
async fn main() {
    let n = messaging::messages_arg(50_000);
    let mut rows = mqtt(n).await;
    rows.extend(redis_bench(n).await);
    messaging::print_table(n, "client", &rows);
}
