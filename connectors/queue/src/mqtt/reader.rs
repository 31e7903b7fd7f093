//! The `mqtt` source's connection: a poller task drives rumqttc's event
//! loop (never cancelled mid-write), a controller task turns publishes into
//! events with [`AckToken`]s, enforces the credit, and on the stream's end
//! stays a moment to send the acknowledgements of the final commit. A
//! delivered token's PUBACK/PUBREC goes straight into the client's request
//! queue when it has room; when it has none, an acknowledger task queues it,
//! waiting for room (a commit resolves many tokens at once: an
//! acknowledgement dropped on a full queue left the message unacknowledged
//! until a reconnect, and the broker, whose inflight window it held,
//! stopped sending).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use rivven_connect::{AckOutcome, AckToken, ConnectorError, Result, SourceEvent};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use super::client::{Client, Connection, Polled, Received, RequestError};
use super::config::{Backoff, BrokerAddr, ClientSettings};
use super::properties;
use super::source::MqttSourceConfig;
use crate::metrics::QueueMetrics;
use crate::payload::{self, BASE64, PAYLOAD_ENCODING};

/// How long a finished stream's connection waits for its outstanding
/// tokens (the runtime's final commit) before it disconnects; whatever is
/// unresolved then is redelivered by the broker later.
const GRACE: Duration = Duration::from_secs(10);

/// How long the end waits for the acknowledger to queue the last
/// acknowledgements (it never ends while unresolved tokens remain).
const ACK_DRAIN: Duration = Duration::from_secs(3);

type Item = std::result::Result<Polled, ConnectorError>;

/// Starts the connection; the stream ends with the first fatal error.
pub(super) fn spawn(
    config: MqttSourceConfig,
    settings: &ClientSettings<'_>,
    metrics: Arc<QueueMetrics>,
) -> Result<BoxStream<'static, Result<SourceEvent>>> {
    let (client, eventloop) = settings.connect(256)?;
    let (tx, rx) = mpsc::channel(usize::from(config.max_inflight));
    let (closed_tx, closed_rx) = oneshot::channel::<()>();
    let (rejected_tx, rejected_rx) = mpsc::unbounded_channel();
    let backoff = Backoff::new(
        config.retry_initial_ms,
        config.retry_max_ms,
        config.retry_multiplier,
    );
    let generation = Arc::new(AtomicU64::new(0));
    let (acks_tx, acks_rx) = mpsc::unbounded_channel();
    let waiting = Arc::new(AtomicUsize::new(0));
    let acknowledger = tokio::spawn(acknowledge(
        client.clone(),
        generation.clone(),
        settings.addr.to_string(),
        metrics.clone(),
        waiting.clone(),
        acks_rx,
    ));
    let acks = Arc::new(AckQueue {
        client: client.clone(),
        waiting,
        tx: acks_tx,
        metrics: metrics.clone(),
        addr: settings.addr.to_string(),
    });
    let controller = Controller {
        addr: settings.addr.clone(),
        client,
        credit: Arc::new(Semaphore::new(usize::from(config.max_inflight))),
        generation,
        rejected_tx,
        acks,
        metrics,
        config,
    };
    tokio::spawn(controller.run(eventloop, backoff, tx, closed_rx, rejected_rx, acknowledger));
    Ok(
        futures::stream::unfold((rx, closed_tx), |(mut rx, closed)| async move {
            rx.recv().await.map(|item| (item, (rx, closed)))
        })
        .boxed(),
    )
}

/// Aborts the poller when the controller ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Drives the event loop; `clean` asks for a new connection (so the broker
/// redelivers what was rejected).
async fn poll(
    mut eventloop: Connection,
    addr: BrokerAddr,
    events: mpsc::Sender<Item>,
    mut clean: mpsc::UnboundedReceiver<()>,
    mut backoff: Backoff,
) {
    loop {
        let mut reconnect = false;
        while clean.try_recv().is_ok() {
            reconnect = true;
        }
        if reconnect {
            eventloop.clean();
        }
        let polled = eventloop.poll(&addr).await;
        let disconnected = matches!(polled, Ok(Polled::Disconnected));
        let failed = polled.is_err();
        if matches!(polled, Ok(Polled::ConnAck { .. })) {
            backoff.reset();
        }
        if events.send(polled).await.is_err() || disconnected {
            return;
        }
        if failed {
            tokio::time::sleep(backoff.delay()).await;
        }
    }
}

struct Controller {
    config: MqttSourceConfig,
    addr: BrokerAddr,
    client: Client,
    credit: Arc<Semaphore>,
    /// Connections so far: a token of an earlier connection acknowledges
    /// nothing (packet ids are per connection).
    generation: Arc<AtomicU64>,
    rejected_tx: mpsc::UnboundedSender<u64>,
    acks: Arc<AckQueue>,
    metrics: Arc<QueueMetrics>,
}

/// How a delivered token's acknowledgement reaches the client: straight
/// into its request queue when there is room and nothing waits before it,
/// else through the acknowledger (in order, waiting for room).
struct AckQueue {
    client: Client,
    /// Acknowledgements handed to the acknowledger and not yet queued.
    waiting: Arc<AtomicUsize>,
    /// To the acknowledger, with their connection's generation.
    tx: mpsc::UnboundedSender<(u64, Received)>,
    metrics: Arc<QueueMetrics>,
    addr: String,
}

impl AckQueue {
    fn send(&self, generation: u64, publish: Received) {
        let publish = if self.waiting.load(Ordering::SeqCst) == 0 {
            match self.client.try_ack(&publish) {
                Ok(()) => return self.metrics.acked(),
                Err(RequestError::Full) => publish,
                Err(RequestError::Closed(e)) => {
                    return tracing::warn!(broker = %self.addr, topic = %publish.topic, pkid = publish.pkid(), error = %e, "acknowledgement not sent: the broker redelivers the message");
                }
            }
        } else {
            publish
        };
        self.waiting.fetch_add(1, Ordering::SeqCst);
        if self.tx.send((generation, publish)).is_err() {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Hands each acknowledgement to the client in order, waiting for room in
/// its request queue; one of an earlier connection is not sent (see
/// [`Controller::generation`]). Ends when every sender is gone.
async fn acknowledge(
    client: Client,
    current: Arc<AtomicU64>,
    addr: String,
    metrics: Arc<QueueMetrics>,
    waiting: Arc<AtomicUsize>,
    mut acks: mpsc::UnboundedReceiver<(u64, Received)>,
) {
    while let Some((generation, publish)) = acks.recv().await {
        if current.load(Ordering::SeqCst) == generation {
            match client.ack(&publish).await {
                Ok(()) => metrics.acked(),
                Err(e) => {
                    tracing::warn!(broker = %addr, topic = %publish.topic, pkid = publish.pkid(), error = %e, "acknowledgement not sent: the broker redelivers the message")
                }
            }
        }
        waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

type Out = mpsc::Sender<Result<SourceEvent>>;

impl Controller {
    async fn run(
        self,
        eventloop: Connection,
        backoff: Backoff,
        tx: Out,
        mut closed: oneshot::Receiver<()>,
        mut rejected: mpsc::UnboundedReceiver<u64>,
        acknowledger: tokio::task::JoinHandle<()>,
    ) {
        let (events_tx, mut events) = mpsc::channel(64);
        let (clean_tx, clean_rx) = mpsc::unbounded_channel();
        let poller = AbortOnDrop(tokio::spawn(poll(
            eventloop,
            self.addr.clone(),
            events_tx,
            clean_rx,
            backoff,
        )));
        let full = usize::from(self.config.max_inflight);
        let mut closing: Option<tokio::time::Instant> = None;
        loop {
            if closing.is_some() && self.credit.available_permits() >= full {
                break; // every token resolved: the acknowledgements are queued
            }
            let deadline = closing.unwrap_or_else(|| tokio::time::Instant::now() + GRACE);
            tokio::select! {
                _ = &mut closed, if closing.is_none() => {
                    closing = Some(tokio::time::Instant::now() + GRACE);
                }
                _ = tokio::time::sleep_until(deadline), if closing.is_some() => {
                    tracing::debug!(broker = %self.addr, "tokens still unresolved at the end: the broker redelivers those messages");
                    break;
                }
                Some(generation) = rejected.recv() => {
                    if closing.is_none() && generation == self.generation.load(Ordering::SeqCst) {
                        tracing::info!(broker = %self.addr, "a message was rejected: reconnecting so the broker redelivers it");
                        let _ = clean_tx.send(());
                    }
                }
                polled = events.recv() => {
                    let Some(polled) = polled else { break };
                    if !self.handle(polled, &tx, closing.is_some()).await {
                        break;
                    }
                    if tx.is_closed() && closing.is_none() {
                        closing = Some(tokio::time::Instant::now() + GRACE);
                    }
                }
            }
        }
        // The DISCONNECT goes after the acknowledgements (one FIFO): once
        // every token is gone, the acknowledger ends after queueing the last.
        let Self {
            client, addr, acks, ..
        } = self;
        drop(acks);
        let polled_meanwhile = async { while events.recv().await.is_some() {} };
        tokio::select! {
            _ = acknowledger => {}
            // The acknowledger may wait for room that only polling makes.
            _ = polled_meanwhile => {}
            _ = tokio::time::sleep(ACK_DRAIN) => {
                tracing::debug!(broker = %addr, "acknowledgements still queued at the end: the broker redelivers those messages");
            }
        }
        if client.try_disconnect() {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Some(polled) = events.recv().await {
                    if polled.is_err() {
                        break;
                    }
                }
            })
            .await;
        }
        drop(poller);
    }

    /// One event of the connection; `false` ends the stream.
    async fn handle(&self, polled: Item, tx: &Out, closing: bool) -> bool {
        match polled {
            Ok(Polled::ConnAck { session_present }) => {
                if self.generation.fetch_add(1, Ordering::SeqCst) > 0 {
                    self.metrics.reconnected();
                }
                tracing::info!(broker = %self.addr, session_present, "connected");
                if !session_present && !closing {
                    if let Err(e) = self
                        .client
                        .try_subscribe_many(&self.config.topics, self.config.qos)
                    {
                        let error = ConnectorError::connection(format!(
                            "MQTT broker {}: subscribe: {e}",
                            self.addr
                        ));
                        let _ = tx.send(Err(error)).await;
                        return false;
                    }
                }
                true
            }
            Ok(Polled::SubAck {
                refused: Some((i, refusal)),
            }) => {
                let filter = self.config.topics.get(i).cloned().unwrap_or_default();
                let what = format!(
                    "MQTT broker {} refused the subscription to `{filter}`",
                    self.addr
                );
                let error = refusal
                    .error(&what, ConnectorError::config)
                    .with_retryable(false);
                let _ = tx.send(Err(error)).await;
                false
            }
            // After the end no new message is taken: the broker redelivers it.
            Ok(Polled::Publish(_)) if closing => true,
            Ok(Polled::Publish(publish)) => {
                let arrived = std::time::Instant::now();
                let Ok(permit) = self.credit.clone().acquire_owned().await else {
                    return false;
                };
                self.metrics
                    .received(publish.payload().len(), arrived.elapsed());
                let message = self.message(publish, permit);
                if message.is_err() {
                    self.metrics.error();
                }
                tx.send(message).await.is_ok()
            }
            Ok(_) => true,
            Err(error) => {
                if closing {
                    return false;
                }
                if !error.is_retryable() {
                    let _ = tx.send(Err(error)).await;
                    return false;
                }
                self.metrics.error();
                tracing::warn!(broker = %self.addr, error = %error, "connection lost; reconnecting with backoff");
                true
            }
        }
    }

    fn token(&self, publish: Received, permit: OwnedSemaphorePermit) -> AckToken {
        let acks = self.acks.clone();
        let rejected = self.rejected_tx.clone();
        let current = self.generation.clone();
        let generation = current.load(Ordering::SeqCst);
        AckToken::new(move |outcome: AckOutcome| {
            match outcome {
                // A packet id of an earlier connection may name another
                // message now: that one is redelivered instead.
                AckOutcome::Delivered if current.load(Ordering::SeqCst) == generation => {
                    acks.send(generation, publish);
                }
                AckOutcome::Delivered => {}
                AckOutcome::Rejected => {
                    let _ = rejected.send(generation);
                }
            }
            drop(permit);
        })
    }

    fn message(&self, publish: Received, permit: OwnedSemaphorePermit) -> Result<SourceEvent> {
        let topic = publish.topic.clone();
        let decoded = payload::decode(publish.payload(), self.config.parse_json_payload);
        let flags = publish.flags();
        let properties = publish
            .properties()
            .map(properties::to_metadata)
            .unwrap_or_default();
        let raw = publish.payload().to_vec();
        let token = self.token(publish, permit);
        let (data, base64) = match decoded {
            Ok(decoded) => decoded,
            Err(why) => {
                return Err(ConnectorError::data(format!("MQTT topic `{topic}`: {why}"))
                    .with_raw_record(raw)
                    .with_ack(token))
            }
        };
        let mut event =
            SourceEvent::record(topic.clone(), data).with_key(Value::String(topic.clone()));
        if base64 {
            event = event.with_metadata(PAYLOAD_ENCODING, json!(BASE64));
        }
        // MQTT 5 properties are part of the message: always recorded.
        for (name, value) in properties {
            event = event.with_metadata(name, value);
        }
        if self.config.include_metadata {
            let (qos, retain, dup) = flags;
            event = event
                .with_metadata("mqtt_topic", json!(topic))
                .with_metadata("mqtt_qos", json!(qos))
                .with_metadata("mqtt_retain", json!(retain))
                .with_metadata("mqtt_dup", json!(dup));
        }
        Ok(event.with_ack(token))
    }
}
