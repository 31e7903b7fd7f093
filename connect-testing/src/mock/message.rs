//! [`MockBroker`] and [`MockMessageSource`]: an in-memory message broker that
//! keeps books of every delivery and acknowledgement, and a source that reads
//! it with [`AckToken`]s — the shape of an MQTT, AMQP, JetStream, Redis
//! streams or SQS source.
//!
//! A message delivered to a subscriber is *unacked* until its token is
//! resolved: acknowledged ([`AckOutcome::Delivered`]) it is done; rejected
//! ([`AckOutcome::Rejected`], or the token dropped) it is ready again. When a
//! new subscriber arrives, every message still unacked by an earlier one is
//! redelivered to it (as a broker does when a consumer's connection is gone),
//! and a late resolution from the earlier subscriber is ignored and counted
//! as stale.

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use rivven_connect::{
    AckOutcome, AckToken, Catalog, CheckResult, ConfiguredCatalog, ConnectorError, ConnectorKind,
    ConnectorSpec, Result, Source, SourceEvent, Stream,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

use super::MockConfig;

/// Payload key that makes the [`MockMessageSource`] reject a message as
/// unreadable (a poison message): `{"poison": true}`.
pub const POISON_KEY: &str = "poison";

#[derive(Debug, Default)]
struct Books {
    next_id: u64,
    payloads: BTreeMap<u64, Value>,
    /// Waiting for delivery, lowest id first.
    ready: BTreeSet<u64>,
    /// Delivered and not yet resolved: id → subscription it went to.
    unacked: BTreeMap<u64, u64>,
    /// Acknowledgements per id (exactly one each when all is well).
    acked: BTreeMap<u64, u32>,
    /// Deliveries per id.
    deliveries: BTreeMap<u64, u32>,
    nacks: u64,
    stale_acks: u64,
    stale_nacks: u64,
    subscription: u64,
    high_water_unacked: usize,
    closed: bool,
}

/// An in-memory message broker. Clones share the broker, so a test keeps one
/// handle and reads the books while a pipeline consumes from another.
///
/// ```
/// use rivven_connect_testing::mock::MockBroker;
/// use futures::StreamExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let broker = MockBroker::new();
/// broker.publish_ids(2);
/// broker.close();
/// let mut events = broker.subscribe("orders");
/// let mut first = events.next().await.unwrap().unwrap();
/// let second = events.next().await.unwrap().unwrap();
/// assert_eq!(broker.unacked(), 2);
/// first.take_ack().unwrap().ack();
/// drop(second); // its token is dropped unresolved: rejected, ready again
/// assert_eq!(broker.acked_ids(), [0].into());
/// assert_eq!(broker.nacks(), 1);
/// assert_eq!(broker.unacked(), 0);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MockBroker {
    books: Arc<Mutex<Books>>,
    notify: Arc<Notify>,
}

impl MockBroker {
    /// An empty, open broker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Publish one message; returns its id (0, 1, 2, … in publish order).
    pub fn publish(&self, payload: Value) -> u64 {
        let id = {
            let mut b = self.lock();
            let id = b.next_id;
            b.next_id += 1;
            b.payloads.insert(id, payload);
            b.ready.insert(id);
            id
        };
        self.notify.notify_waiters();
        id
    }

    /// Publish `n` messages `{"id": i}`, i = the message id.
    pub fn publish_ids(&self, n: u64) -> Vec<u64> {
        (0..n)
            .map(|_| {
                let id = self.lock().next_id;
                self.publish(json!({ "id": id }))
            })
            .collect()
    }

    /// No more messages will be published: a subscription's stream ends once
    /// nothing is ready for it (a bounded test source).
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    /// A new subscription: every message an earlier subscriber left unacked
    /// is redelivered to this one. Each event is a record on `stream` with key
    /// and `metadata.extra["message_id"]` = the id, and carries its [`AckToken`].
    pub fn subscribe(&self, stream: impl Into<String>) -> BoxStream<'static, Result<SourceEvent>> {
        let subscription = {
            let mut b = self.lock();
            b.subscription += 1;
            let orphaned = std::mem::take(&mut b.unacked);
            b.ready.extend(orphaned.into_keys());
            b.subscription
        };
        let broker = self.clone();
        let stream: Arc<str> = Arc::from(stream.into());
        stream::unfold((), move |()| {
            let broker = broker.clone();
            let stream = stream.clone();
            async move {
                let item = broker.next_delivery(subscription, &stream).await?;
                Some((item, ()))
            }
        })
        .boxed()
    }

    async fn next_delivery(&self, subscription: u64, stream: &str) -> Option<Result<SourceEvent>> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut b = self.lock();
                if let Some(id) = b.ready.pop_first() {
                    b.unacked.insert(id, subscription);
                    *b.deliveries.entry(id).or_default() += 1;
                    b.high_water_unacked = b.high_water_unacked.max(b.unacked.len());
                    let payload = b.payloads.get(&id).cloned().unwrap_or(Value::Null);
                    drop(b);
                    return Some(self.message(id, subscription, stream, payload));
                }
                if b.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    fn message(
        &self,
        id: u64,
        subscription: u64,
        stream: &str,
        payload: Value,
    ) -> Result<SourceEvent> {
        let token = self.token(id, subscription);
        if payload.get(POISON_KEY).and_then(Value::as_bool) == Some(true) {
            return Err(ConnectorError::data(format!("message {id} is unreadable"))
                .with_raw_record(payload.to_string())
                .with_ack(token));
        }
        Ok(SourceEvent::record(stream, payload)
            .with_key(json!(id))
            .with_metadata("message_id", json!(id))
            .with_ack(token))
    }

    fn token(&self, id: u64, subscription: u64) -> AckToken {
        let broker = self.clone();
        AckToken::new(move |outcome: AckOutcome| broker.resolve(id, subscription, outcome))
    }

    fn resolve(&self, id: u64, subscription: u64, outcome: AckOutcome) {
        let mut b = self.lock();
        let current = b.unacked.get(&id) == Some(&subscription);
        match (outcome, current) {
            (AckOutcome::Delivered, true) => {
                b.unacked.remove(&id);
                *b.acked.entry(id).or_default() += 1;
            }
            (AckOutcome::Rejected, true) => {
                b.unacked.remove(&id);
                b.ready.insert(id);
                b.nacks += 1;
                drop(b);
                self.notify.notify_waiters();
            }
            (AckOutcome::Delivered, false) => b.stale_acks += 1,
            (AckOutcome::Rejected, false) => b.stale_nacks += 1,
        }
    }

    /// Number of messages published.
    pub fn published(&self) -> u64 {
        self.lock().next_id
    }

    /// Ids acknowledged at least once.
    pub fn acked_ids(&self) -> BTreeSet<u64> {
        self.lock().acked.keys().copied().collect()
    }

    /// Acknowledgements per id.
    pub fn ack_counts(&self) -> BTreeMap<u64, u32> {
        self.lock().acked.clone()
    }

    /// Deliveries per id.
    pub fn delivery_counts(&self) -> BTreeMap<u64, u32> {
        self.lock().deliveries.clone()
    }

    /// Deliveries beyond the first of each message.
    pub fn redeliveries(&self) -> u64 {
        self.lock()
            .deliveries
            .values()
            .map(|&n| u64::from(n.saturating_sub(1)))
            .sum()
    }

    /// Messages delivered and not yet resolved.
    pub fn unacked(&self) -> usize {
        self.lock().unacked.len()
    }

    /// The most messages that were ever unacked at once.
    pub fn high_water_unacked(&self) -> usize {
        self.lock().high_water_unacked
    }

    /// Rejections (nacks and dropped tokens) of current deliveries.
    pub fn nacks(&self) -> u64 {
        self.lock().nacks
    }

    /// Acknowledgements that arrived for a delivery the broker had already
    /// given to a later subscriber (they are ignored).
    pub fn stale_acks(&self) -> u64 {
        self.lock().stale_acks
    }

    /// Rejections that arrived for such superseded deliveries (ignored).
    pub fn stale_nacks(&self) -> u64 {
        self.lock().stale_nacks
    }

    /// Number of subscriptions so far.
    pub fn subscriptions(&self) -> u64 {
        self.lock().subscription
    }

    fn lock(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A message source reading a [`MockBroker`]: each [`Source::read`] is a new
/// subscription, and every event carries the [`AckToken`] of its message.
/// A message whose payload has `"poison": true` is read as an error (kind
/// `data`) that carries the raw payload and the token.
#[derive(Debug, Clone)]
pub struct MockMessageSource {
    broker: MockBroker,
    stream: String,
    positions: bool,
}

impl MockMessageSource {
    /// Read `broker` into stream `messages`.
    pub fn new(broker: MockBroker) -> Self {
        Self {
            broker,
            stream: "messages".into(),
            positions: false,
        }
    }

    /// Also report a position: each event carries the stream-state update
    /// `{"message_id": id}`, so the runtime commits a state to the offset
    /// store for every batch (a source that uses both mechanisms).
    pub fn with_positions(mut self) -> Self {
        self.positions = true;
        self
    }

    /// The broker this source reads.
    pub fn broker(&self) -> &MockBroker {
        &self.broker
    }
}

#[async_trait]
impl Source for MockMessageSource {
    type Config = MockConfig;

    fn spec() -> ConnectorSpec {
        ConnectorSpec::builder("mock-messages", env!("CARGO_PKG_VERSION"))
            .kind(ConnectorKind::Source)
            .description("Message source over an in-memory broker, for tests")
            .config_schema_from::<MockConfig>()
            .build()
    }

    async fn check(&self, _config: &MockConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }

    async fn discover(&self, _config: &MockConfig) -> Result<Catalog> {
        Ok(Catalog::default().add_stream(Stream::new(&self.stream, json!({"type": "object"}))))
    }

    async fn read(
        &self,
        _config: &MockConfig,
        _catalog: &ConfiguredCatalog,
        _state: Option<rivven_connect::State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let events = self.broker.subscribe(self.stream.clone());
        if !self.positions {
            return Ok(events);
        }
        Ok(events
            .map(|item| {
                item.map(|event| {
                    let id = event.metadata.extra.get("message_id").cloned();
                    event.with_state("message_id", id.unwrap_or(Value::Null))
                })
            })
            .boxed())
    }
}
