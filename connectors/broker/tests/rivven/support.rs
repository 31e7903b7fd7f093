//! Shared helpers: the broker, events with ids, configs, and an independent
//! read-back with a plain rivven-client consumer.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::BoxStream;
use rivven_client::Client;
use rivven_connect::{
    CheckResult, Result, Sink, SinkConfig, SourceConfig, SourceEvent, WriteResult,
};
use rivven_connect_broker::rivven::{RivvenSink, RivvenSinkConfig, RivvenSourceConfig};
use rivven_connect_testing::services::Rivven;
use serde_json::{json, Value};

pub async fn broker() -> Rivven {
    Rivven::start().await.unwrap_or_else(|e| panic!("{e}"))
}

/// A `host:port` on which nothing listens.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr.to_string()
}

/// Records `{"id": i, …}` on stream `orders`, keyed by customer.
pub fn orders(ids: std::ops::Range<u64>) -> Vec<SourceEvent> {
    ids.map(|i| {
        let mut event = SourceEvent::record(
            "orders",
            json!({"id": i, "customer": format!("c-{}", i % 7), "amount": i as f64 * 1.5}),
        );
        event.key = Some(json!(format!("c-{}", i % 7)));
        event
    })
    .collect()
}

// Generous request timeouts: a debug rivvend on a loaded 2-core machine once
// took more than 5 s to acknowledge a batch of 2 000; the tests are about
// what arrives, not how fast.
pub fn sink_json(servers: &[String], topic: &str) -> Value {
    json!({"bootstrap_servers": servers, "topic": topic, "request_timeout_ms": 30000})
}

pub fn sink_config(servers: &[String], topic: &str) -> RivvenSinkConfig {
    RivvenSinkConfig::from_value(sink_json(servers, topic)).unwrap()
}

pub fn source_json(servers: &[String], topic: &str, group: &str) -> Value {
    json!({"bootstrap_servers": servers, "topic": topic, "consumer_group": group,
           "poll_interval_ms": 20, "request_timeout_ms": 30000})
}

pub fn source_config(servers: &[String], topic: &str, group: &str) -> RivvenSourceConfig {
    RivvenSourceConfig::from_value(source_json(servers, topic, group)).unwrap()
}

/// Write `events` as one batch; every one must be acknowledged.
pub async fn write_all(sink: &RivvenSink, config: &RivvenSinkConfig, events: &[SourceEvent]) {
    let result = sink.write_borrowed(config, events).await.unwrap();
    assert!(result.is_success(), "{result:?}");
    assert_eq!(result.records_written, events.len() as u64);
}

/// One message as a plain consumer sees it.
#[derive(Debug, Clone)]
pub struct Message {
    pub partition: u32,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
}

impl Message {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.value).unwrap()
    }

    /// `data.id` of the event the message holds.
    pub fn id(&self) -> u64 {
        self.json()["data"]["id"].as_u64().unwrap()
    }
}

/// Every message of `topic`, read with a plain rivven-client `Client` (not
/// the `rivven` source), partition by partition.
pub async fn read_back(addr: &str, topic: &str) -> Vec<Message> {
    let mut client = Client::connect(addr).await.unwrap();
    let (_, partitions) = client.get_metadata(topic).await.unwrap();
    let mut messages = Vec::new();
    for partition in 0..partitions {
        let (mut next, end) = client.get_offset_bounds(topic, partition).await.unwrap();
        while next < end {
            let batch = client.consume(topic, partition, next, 1000).await.unwrap();
            let Some(last) = batch.last() else { break };
            next = last.offset + 1;
            messages.extend(batch.into_iter().map(|m| Message {
                partition,
                key: m.key.map(|k| k.to_vec()),
                value: m.value.to_vec(),
            }));
        }
    }
    messages
}

/// The ids a consumer can read from `topic`: each partition walked offset by
/// offset from its earliest to its end, a message counted only at its own
/// offset (as the `rivven` source reads), a hole stepped over.
pub async fn readable(addr: &str, topic: &str) -> BTreeSet<u64> {
    let mut client = Client::connect(addr).await.unwrap();
    let (_, partitions) = client.get_metadata(topic).await.unwrap();
    let mut ids = BTreeSet::new();
    for partition in 0..partitions {
        let (mut at, end) = client.get_offset_bounds(topic, partition).await.unwrap();
        while at < end {
            let batch = client.consume(topic, partition, at, 1000).await.unwrap();
            let mut next = at;
            for m in &batch {
                if m.offset != next {
                    continue;
                }
                let event: serde_json::Value = serde_json::from_slice(&m.value).unwrap();
                ids.insert(event["data"]["id"].as_u64().unwrap());
                next += 1;
            }
            at = if next == at { at + 1 } else { next };
        }
    }
    ids
}

pub fn id_set(messages: &[Message]) -> BTreeSet<u64> {
    messages.iter().map(Message::id).collect()
}

/// Publish raw payloads with a plain client.
pub async fn publish_raw(addr: &str, topic: &str, payloads: &[&[u8]]) {
    let mut client = Client::connect(addr).await.unwrap();
    for payload in payloads {
        client.publish(topic, payload.to_vec()).await.unwrap();
    }
}

/// The `rivven` sink, recording the ids of every event whose write the
/// broker acknowledged (`write` returned success).
#[derive(Debug, Default, Clone)]
pub struct Recording {
    pub inner: RivvenSink,
    pub acknowledged: Arc<Mutex<BTreeSet<u64>>>,
}

#[async_trait]
impl Sink for Recording {
    type Config = RivvenSinkConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        self.inner.check(config).await
    }

    async fn write(
        &self,
        config: &Self::Config,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        use futures::StreamExt;
        let events: Vec<SourceEvent> = events.collect().await;
        self.write_borrowed(config, &events).await
    }

    async fn write_borrowed(
        &self,
        config: &Self::Config,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        let result = self.inner.write_borrowed(config, events).await?;
        if result.is_success() {
            let mut acked = self.acknowledged.lock().unwrap();
            acked.extend(events.iter().filter_map(|e| e.data["id"].as_u64()));
        }
        Ok(result)
    }
}
