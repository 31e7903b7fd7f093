//! The `rivven` sink against the best plain `rivven-client` loop, on a
//! private `rivvend` (connect-testing's `services::Rivven`) started by the
//! run itself:
//!
//! * **loop** — N datagen `orders` events (seed 42) generated *before* the
//!   clock starts and encoded as the sink encodes them (the whole event as
//!   JSON, the key's JSON text); timed: connect, create the topic (3
//!   partitions, the sink's default), then produce them in batches of 10 000
//!   with the sink's producer settings (one `Producer` per partition, up to
//!   16; `send_to_partition` with the murmur2 partition of the key), every
//!   acknowledgement of a batch awaited before the next batch.
//! * **runtime** — YAML `datagen (orders, seed 42, max_events N,
//!   events_per_second 0) → rivven sink`, a direct pipeline, until it ended
//!   (every event acknowledged by the broker and committed).
//! * **topic** — YAML: the datagen source with `topic: t` and
//!   `broker.bootstrap_servers`, one `file` sink subscribed. Reported is the
//!   publisher's rate: time until its pipeline completed (every event
//!   acknowledged by the broker and the source's position committed); the
//!   end-to-end time (until the subscriber wrote all N to its file) is
//!   printed beside it.
//!
//! Each mode writes to a fresh topic. Each round runs every mode once, in
//! turn; the median of the rounds is reported as events/s and the ratio to
//! the loop (target ≥ 0.8). `rivvend` 0.0.22 syncs its log per message, so
//! the broker, not rivven-connect, sets the pace.
//!
//! ```sh
//! cargo run --release -p rivven-connect-benches --bin broker                    # 10 000 events, 3 rounds
//! cargo run -p rivven-connect-benches --bin broker -- --events 2000 --rounds 1   # CI size
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use rivven_client::{Client, Producer, ProducerConfig};
use rivven_connect::builtin::{DataPattern, DatagenConfig, DatagenSource};
use rivven_connect::config::Loader;
use rivven_connect::registry::Registry;
use rivven_connect::runtime::PipelineState;
use rivven_connect::{ConfiguredCatalog, Source};
use rivven_connect_testing::services::Rivven;
use rivven_core::hash::murmur2_partition;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const MODES: [&str; 3] = ["loop", "runtime", "topic"];
/// The sink's default partition count of a created topic.
const PARTITIONS: u32 = 3;
/// Events per batch of the loop (the runtime's batches are of the same size
/// or smaller).
const LOOP_BATCH: usize = 10_000;

/// Key and value of one message, as the sink encodes an event.
type Message = (Option<Bytes>, Bytes);

/// N datagen `orders` events (seed 42) as messages.
async fn generate(events: u64) -> Vec<Message> {
    let mut config = DatagenConfig::new(DataPattern::Orders);
    config.seed = Some(42);
    config.max_events = events;
    config.events_per_second = 0;
    let stream = DatagenSource::new()
        .read(&config, &ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    let generated: Vec<_> = stream.collect().await;
    let messages: Vec<Message> = generated
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.key.is_some())
        .map(|e| {
            let key = match e.key.as_ref() {
                Some(serde_json::Value::String(s)) => Some(Bytes::copy_from_slice(s.as_bytes())),
                Some(other) => Some(Bytes::from(serde_json::to_vec(other).unwrap())),
                None => None,
            };
            (key, Bytes::from(serde_json::to_vec(&e).unwrap()))
        })
        .collect();
    assert_eq!(messages.len() as u64, events, "datagen made every event");
    messages
}

/// The sink's producer settings (connectors/broker/src/rivven/sink.rs).
fn producer_config(servers: &[String]) -> ProducerConfig {
    ProducerConfig::builder()
        .bootstrap_servers(servers.to_vec())
        .batch_size(2 * 1024 * 1024)
        .linger_ms(5)
        .buffer_memory(16 * 1024 * 2 * 1024 * 1024)
        .max_in_flight_requests(5)
        .request_timeout(Duration::from_secs(30))
        .delivery_timeout(Duration::from_secs(3600))
        .acks(1)
        .build()
        .unwrap()
}

/// The plain loop: connect, create the topic, produce every batch.
async fn plain_loop(servers: &[String], topic: &str, messages: &[Message]) -> Duration {
    let started = Instant::now();
    let mut client = Client::connect(&servers[0]).await.unwrap();
    let partitions = client.create_topic(topic, Some(PARTITIONS)).await.unwrap();
    let mut producers = Vec::new();
    for _ in 0..partitions.min(16) {
        producers.push(Producer::new(producer_config(servers)).await.unwrap());
    }
    for batch in messages.chunks(LOOP_BATCH) {
        let mut acks: FuturesUnordered<_> = batch
            .iter()
            .enumerate()
            .map(|(i, (key, value))| {
                let partition = match key {
                    Some(key) => murmur2_partition(key, partitions),
                    None => i as u32 % partitions,
                };
                let producer = &producers[partition as usize % producers.len()];
                producer.send_to_partition(topic, partition, key.clone(), value.clone())
            })
            .collect();
        while let Some(ack) = acks.next().await {
            ack.unwrap();
        }
    }
    let took = started.elapsed();
    for p in producers {
        p.close().await;
    }
    took
}

fn yaml(mode: &str, dir: &Path, servers: &[String], topic: &str, events: u64) -> String {
    let d = dir.display();
    let servers = serde_json::to_string(servers).unwrap();
    let datagen = format!(
        "config: {{ pattern: orders, seed: 42, max_events: {events}, events_per_second: 0 }}"
    );
    let head = format!("data_dir: {d}/data\noffsets: {{ backend: memory }}\n");
    match mode {
        "runtime" => format!(
            "{head}sources:\n  gen: {{ connector: datagen, {datagen} }}\n\
             sinks:\n  out: {{ connector: rivven, config: {{ bootstrap_servers: {servers}, topic: {topic} }} }}\n\
             pipelines:\n  p: {{ source: gen, sink: out }}\n"
        ),
        _ => format!(
            "{head}broker: {{ bootstrap_servers: {servers} }}\n\
             sources:\n  gen: {{ connector: datagen, topic: {topic}, {datagen} }}\n\
             sinks:\n  out: {{ connector: file, topics: [{topic}], config: {{ path: {d}/out.jsonl }} }}\n"
        ),
    }
}

/// One run through the runtime: the publisher's (or the direct pipeline's)
/// time, and for `topic` the end-to-end time.
async fn run(
    registry: &Registry,
    mode: &str,
    servers: &[String],
    topic: &str,
    events: u64,
) -> (Duration, Option<Duration>) {
    let dir = tempfile::tempdir().unwrap();
    let config = Loader::new(registry)
        .load(&yaml(mode, dir.path(), servers, topic, events))
        .unwrap();
    let started = Instant::now();
    let runtime = config
        .runtime_builder(registry)
        .unwrap()
        .start()
        .await
        .unwrap();
    if mode == "runtime" {
        let status = runtime.wait().await;
        let took = started.elapsed();
        assert!(status.all_succeeded(), "{mode}: {status:?}");
        assert_eq!(status.pipelines[0].events_written, events, "{mode}");
        return (took, None);
    }
    let (mut published, mut delivered) = (None, None);
    let deadline = started + Duration::from_secs(600);
    while delivered.is_none() {
        let status = runtime.status_now();
        for p in &status.pipelines {
            assert!(p.state != PipelineState::Failed, "{mode}: {p:?}");
        }
        let publisher = status
            .pipelines
            .iter()
            .find(|p| p.state == PipelineState::Completed);
        if let (None, Some(p)) = (published, publisher) {
            assert_eq!(p.events_written, events, "{mode}: the publisher wrote all");
            published = Some(started.elapsed());
        }
        let subscriber = status
            .pipelines
            .iter()
            .find(|p| p.state != PipelineState::Completed);
        if published.is_some() && subscriber.is_some_and(|s| s.events_written >= events) {
            delivered = Some(started.elapsed());
        }
        assert!(
            Instant::now() < deadline,
            "{mode}: not done in 600 s: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    runtime.shutdown(Duration::from_secs(30)).await;
    (published.unwrap(), delivered)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut events = 10_000u64;
    let mut rounds = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args
            .next()
            .expect("a value")
            .parse::<u64>()
            .expect("a number");
        match a.as_str() {
            "--events" => events = value,
            "--rounds" => rounds = value.max(1) as usize,
            other => panic!("unknown argument {other} (--events N --rounds R)"),
        }
    }
    rivven_connect_broker::link();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let registry = Registry::discovered().unwrap();
    assert!(
        registry.sink("rivven").is_some(),
        "the broker family is linked"
    );
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); MODES.len()];
    let mut end_to_end = Vec::new();
    rt.block_on(async {
        let broker = Rivven::start().await.unwrap_or_else(|e| panic!("{e}"));
        let servers = broker.bootstrap_servers();
        let messages = generate(events).await;
        for round in 0..rounds {
            for (i, mode) in MODES.iter().enumerate() {
                let topic = format!("bench-{}-{round}", mode.replace(' ', "-"));
                let took = match *mode {
                    "loop" => plain_loop(&servers, &topic, &messages).await,
                    _ => {
                        let (took, e2e) = run(&registry, mode, &servers, &topic, events).await;
                        end_to_end.extend(e2e);
                        took
                    }
                };
                times[i].push(took);
            }
        }
    });
    let plain = median(times[0].clone()).as_secs_f64();
    println!(
        "broker: {events} datagen orders → rivvend 0.0.22 ({PARTITIONS} partitions), median of {rounds} round(s)"
    );
    for (mode, t) in MODES.iter().zip(times) {
        let secs = median(t).as_secs_f64();
        let what = match *mode {
            "loop" => "events/s (plain rivven-client loop, produce only)",
            "runtime" => "events/s (datagen → rivven sink, until completed)",
            _ => "events/s (publisher: until every event acknowledged and committed)",
        };
        println!(
            "  {mode:<8} {:>8.0} {what}   {:.2}× loop",
            events as f64 / secs,
            plain / secs
        );
    }
    let e2e = median(end_to_end).as_secs_f64();
    println!(
        "  topic end to end (until the subscriber's file held all): {:.0} events/s",
        events as f64 / e2e
    );
}
