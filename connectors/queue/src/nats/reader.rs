//! The `nats` source's tasks: a reader that pulls batches of the free
//! credit from the durable consumer (or drains a core subscription) and
//! turns messages into events, and an acker that acks (or naks) each
//! JetStream message in the order the runtime resolves their tokens.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::{self, AckKind};
use async_nats::HeaderMap;
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::{AckOutcome, AckToken, ConnectorError, Result, SourceEvent};
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::config::NatsMode;
use super::consumer::{check_server_version, Bound, Durable};
use super::source::NatsSourceConfig;
use crate::metrics::QueueMetrics;
use crate::payload::{self, BASE64, PAYLOAD_ENCODING};

/// Connects, binds the consumer (creating it if needed) and starts the tasks.
pub(super) async fn start(
    config: NatsSourceConfig,
    metrics: Arc<QueueMetrics>,
    bound: Bound,
) -> Result<BoxStream<'static, Result<SourceEvent>>> {
    let settings = config.settings();
    let client = settings.connect().await?;
    let (tx, rx) = mpsc::channel(256);
    let credit = Arc::new(Semaphore::new(config.max_inflight as usize));
    let task = match config.mode {
        NatsMode::Jetstream => {
            check_server_version(&client, &config)?;
            let js = settings.jetstream(client.clone(), 16);
            let (durable, consumer) = Durable::bind(&js, &config, &bound).await?;
            let (ack_tx, ack_rx) = mpsc::unbounded_channel();
            tokio::spawn(acknowledge(client, config.clone(), metrics.clone(), ack_rx));
            let reader = Reader {
                config,
                credit,
                ack_tx,
                metrics,
            };
            tokio::spawn(reader.pull(durable, consumer, tx))
        }
        NatsMode::Core => {
            let subject = config
                .subject
                .clone()
                .ok_or_else(|| ConnectorError::config("subject is required with mode: core"))?;
            let subscription = match &config.queue_group {
                Some(group) => client.queue_subscribe(subject.clone(), group.clone()).await,
                None => client.subscribe(subject.clone()).await,
            }
            .map_err(|e| {
                ConnectorError::connection(format!(
                    "NATS {}: subscribe to `{subject}`: {e}",
                    config.url
                ))
            })?;
            let (ack_tx, _) = mpsc::unbounded_channel();
            let reader = Reader {
                config,
                credit,
                ack_tx,
                metrics,
            };
            tokio::spawn(reader.core(client, subscription, tx))
        }
    };
    let guard = AbortOnDrop(task);
    Ok(
        futures::stream::unfold((rx, guard), |(mut rx, guard)| async move {
            rx.recv().await.map(|item| (item, (rx, guard)))
        })
        .boxed(),
    )
}

/// Acks or naks messages in the order their tokens are resolved; ends (and
/// flushes the connection) once every token is gone.
async fn acknowledge(
    client: async_nats::Client,
    config: NatsSourceConfig,
    metrics: Arc<QueueMetrics>,
    mut acks: mpsc::UnboundedReceiver<(Acker, AckOutcome)>,
) {
    while let Some((acker, outcome)) = acks.recv().await {
        let kind = match outcome {
            AckOutcome::Delivered => AckKind::Ack,
            AckOutcome::Rejected => AckKind::Nak(None),
        };
        // A failed ack (no connection) is not retried: the server
        // redelivers the message after ack_wait (at-least-once).
        let delivered = outcome == AckOutcome::Delivered;
        match acker.ack_with(kind).await {
            Ok(()) if delivered => metrics.acked(),
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(nats = %config.url, stream = ?config.stream, error = %e, "ack not sent: the server redelivers the message after ack_wait")
            }
        }
    }
    if let Err(e) = client.flush().await {
        tracing::warn!(nats = %config.url, error = %e, "final acks not flushed: the server redelivers those messages");
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type Out = mpsc::Sender<Result<SourceEvent>>;

struct Reader {
    config: NatsSourceConfig,
    credit: Arc<Semaphore>,
    ack_tx: mpsc::UnboundedSender<(Acker, AckOutcome)>,
    metrics: Arc<QueueMetrics>,
}

impl Reader {
    async fn pull(self, durable: Durable, mut consumer: PullConsumer, tx: Out) {
        let expires = Duration::from_millis(self.config.fetch_expires_ms);
        let mut backoff = Duration::from_millis(self.config.retry_initial_ms);
        let max_backoff = Duration::from_millis(self.config.retry_max_ms);
        loop {
            let Ok(first) = self.credit.clone().acquire_owned().await else {
                return;
            };
            let free = 1 + self.credit.available_permits();
            let batch = consumer
                .batch()
                .max_messages(free)
                .expires(expires)
                .messages()
                .await;
            let mut batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    drop(first);
                    tracing::warn!(nats = %self.config.url, stream = ?self.config.stream, error = %e, ?backoff, "pull failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(max_backoff);
                    if !self.recover(&durable, &mut consumer, &tx).await {
                        return;
                    }
                    continue;
                }
            };
            backoff = Duration::from_millis(self.config.retry_initial_ms);
            let mut permit = Some(first);
            // A live pull ends at its expiry (the server says so); a pull
            // lost with the server (a restart) is given up when no message
            // came for a second longer than that (async-nats itself waits
            // five), so the next pull is not held up long. Time spent
            // handing events downstream does not count.
            let idle = expires + Duration::from_secs(1);
            while let Ok(Some(message)) = tokio::time::timeout(idle, batch.next()).await {
                let message = match message {
                    Ok(message) => message,
                    Err(e) => {
                        // A status such as a server restart (or the
                        // consumer's deletion) ends the batch; unacked
                        // messages come again after ack_wait.
                        tracing::warn!(nats = %self.config.url, error = %e, ?backoff, "pull batch ended; pulling again");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(max_backoff);
                        if !self.recover(&durable, &mut consumer, &tx).await {
                            return;
                        }
                        break;
                    }
                };
                let permit = match permit.take() {
                    Some(p) => p,
                    None => match self.credit.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                };
                if tx
                    .send(self.jetstream_event(message, permit))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }

    /// After a failed pull: whether to go on (with the consumer recreated
    /// if it was deleted and `recreate_consumer` allows); a deleted
    /// consumer or stream otherwise ends the stream with an error.
    async fn recover(&self, durable: &Durable, consumer: &mut PullConsumer, tx: &Out) -> bool {
        match durable.after_failed_pull().await {
            Ok(None) => true,
            Ok(Some(recreated)) => {
                self.metrics.error();
                *consumer = recreated;
                true
            }
            Err(e) => {
                self.metrics.error();
                tracing::error!(nats = %self.config.url, error = %e, "the source stops");
                let _ = tx.send(Err(e)).await;
                false
            }
        }
    }

    async fn core(
        self,
        client: async_nats::Client,
        mut subscription: async_nats::Subscriber,
        tx: Out,
    ) {
        // The client resubscribes after a reconnect by itself; `None`
        // means the client was closed.
        while let Some(message) = subscription.next().await {
            let event = self.event(
                &message.subject,
                message.headers.as_ref(),
                &message.payload,
                None,
                Map::new(),
            );
            if tx.send(event).await.is_err() {
                return;
            }
        }
        drop(client);
        let _ = tx
            .send(Err(ConnectorError::connection(format!(
                "NATS {}: the subscription to `{}` ended",
                self.config.url,
                self.config.subject.as_deref().unwrap_or("")
            ))))
            .await;
    }

    fn jetstream_event(
        &self,
        message: jetstream::Message,
        permit: OwnedSemaphorePermit,
    ) -> Result<SourceEvent> {
        let mut extra = Map::new();
        if let Ok(info) = message.info() {
            extra.insert("nats_stream".into(), json!(info.stream));
            extra.insert("nats_stream_seq".into(), json!(info.stream_sequence));
            extra.insert("nats_consumer_seq".into(), json!(info.consumer_sequence));
            extra.insert("nats_delivered".into(), json!(info.delivered));
            extra.insert("nats_redelivered".into(), json!(info.delivered > 1));
        }
        let (message, acker) = message.split();
        let acks = self.ack_tx.clone();
        let token = AckToken::new(move |outcome: AckOutcome| {
            let _ = acks.send((acker, outcome));
            drop(permit);
        });
        self.event(
            &message.subject,
            message.headers.as_ref(),
            &message.payload,
            Some(token),
            extra,
        )
    }

    fn event(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        body: &[u8],
        token: Option<AckToken>,
        extra: Map<String, Value>,
    ) -> Result<SourceEvent> {
        self.metrics.received(body.len(), Duration::ZERO);
        let (data, base64) = match payload::decode(body, self.config.parse_json_payload) {
            Ok(decoded) => decoded,
            Err(why) => {
                self.metrics.error();
                let mut error = ConnectorError::data(format!("NATS subject `{subject}`: {why}"))
                    .with_raw_record(body.to_vec());
                if let Some(token) = token {
                    error = error.with_ack(token);
                }
                return Err(error);
            }
        };
        let header_map = headers.map(headers_json).unwrap_or_default();
        let key = self
            .config
            .key_header
            .as_ref()
            .and_then(|name| headers?.get(name.as_str()))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_else(|| subject.to_owned());
        let mut event = SourceEvent::record(subject.to_owned(), data).with_key(Value::String(key));
        if base64 {
            event = event.with_metadata(PAYLOAD_ENCODING, json!(BASE64));
        }
        if !header_map.is_empty() {
            event = event.with_metadata("nats_headers", Value::Object(header_map));
        }
        if self.config.include_metadata {
            event = event.with_metadata("nats_subject", json!(subject));
            for (name, value) in extra {
                event = event.with_metadata(name, value);
            }
        }
        Ok(match token {
            Some(token) => event.with_ack(token),
            None => event,
        })
    }
}

/// Headers as a JSON object: one value as a string, several as an array.
fn headers_json(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, values) in headers.iter() {
        let values: Vec<Value> = values.iter().map(|v| json!(v.as_str())).collect();
        let value = match <[Value; 1]>::try_from(values) {
            Ok([one]) => one,
            Err(many) => Value::Array(many),
        };
        out.insert(name.to_string(), value);
    }
    out
}
