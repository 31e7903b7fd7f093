//! The `amqp` source: a consumer of one queue with manual acknowledgements;
//! each delivery is `basic.ack`ed only when the runtime resolves its token
//! `Delivered`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, Consumer};
use rivven_connect::{
    AckOutcome, AckToken, Catalog, CheckResult, ConfiguredCatalog, ConnectorError, Result,
    SecretString, Source, SourceConfig, SourceEvent, State, Stream,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use validator::Validate;

use super::config::{
    amqp_error, connect, field_table, json_value, short, validate_url, Binding, Endpoint,
    QueueDeclare,
};
use super::properties;
use crate::metrics::QueueMetrics;
use crate::payload::{self, BASE64, PAYLOAD_ENCODING};
use crate::tls::TlsOptions;

/// Consumes an AMQP 0-9-1 queue (RabbitMQ).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "amqp",
    version = env!("CARGO_PKG_VERSION"),
    description = "Consumes a RabbitMQ (AMQP 0-9-1) queue with manual acknowledgements: each message is basic.acked only after the pipeline committed it; unacknowledged messages are redelivered by the broker after a crash or a lost connection",
    author = "rivven-connect",
    category = "messaging",
    tags = ["amqp", "rabbitmq", "messaging", "queue"],
    connector = AmqpSource
)]
#[serde(deny_unknown_fields)]
pub struct AmqpSourceConfig {
    /// `amqp://host:port/vhost` (vhost `/` is `%2f`), or `amqps://…` for
    /// TLS (port 5671 by default); credentials go in `username`/`password`.
    #[validate(custom(function = "validate_url"))]
    #[schemars(example = &"amqp://127.0.0.1:5672/%2f")]
    pub url: String,
    /// User name (`guest` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password (a secret; `guest` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
    /// TLS of an `amqps://` URL: trusted CA (default: the system's roots),
    /// client certificate and key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub tls: Option<TlsOptions>,
    /// The queue to consume.
    #[validate(length(min = 1, max = 255))]
    pub queue: String,
    /// Declare the queue (idempotent; a declaration that differs from the
    /// existing queue's is a configuration error). Unset: the queue must
    /// exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declare: Option<QueueDeclare>,
    /// Bindings of the queue to exchanges, made at every connection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<Binding>,
    /// The credit (`basic.qos` prefetch): messages delivered and not yet
    /// acknowledged at most.
    #[serde(default = "default_prefetch")]
    #[validate(range(min = 1, max = 65535))]
    pub prefetch: u32,
    /// The consumer tag (empty: the broker makes one).
    #[serde(default = "default_consumer_tag")]
    #[validate(length(max = 255))]
    pub consumer_tag: String,
    /// What a message the pipeline rejects (a stage failed before its
    /// commit) becomes: `requeue` (redelivered, default) or `dead_letter`
    /// (rejected without requeue: the queue's dead letter exchange gets
    /// it, or it is dropped when the queue has none).
    #[serde(default)]
    pub on_reject: OnReject,
    /// Take the event key from this header instead of the routing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_header: Option<String>,
    /// Parse payloads as JSON (not JSON: a bad record, per `on_error`, its
    /// raw bytes kept).
    #[serde(default = "yes")]
    pub parse_json_payload: bool,
    /// Add `amqp_exchange`, `amqp_routing_key`, `amqp_redelivered` and
    /// `amqp_delivery_tag` to the event's metadata.
    #[serde(default = "yes")]
    pub include_metadata: bool,
    /// Timeout of connecting.
    #[serde(default = "default_connect_timeout")]
    #[validate(range(min = 1, max = 3600000))]
    pub connect_timeout_ms: u64,
    /// First delay before reconnecting after a lost connection (doubled on
    /// each failure).
    #[serde(default = "default_retry_initial")]
    #[validate(range(min = 1, max = 3600000))]
    pub retry_initial_ms: u64,
    /// Longest delay between reconnection attempts.
    #[serde(default = "default_retry_max")]
    #[validate(range(min = 1, max = 3600000))]
    pub retry_max_ms: u64,
}

/// What becomes of a message the pipeline rejects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnReject {
    /// `basic.nack` with requeue: the broker delivers it again.
    #[default]
    Requeue,
    /// `basic.reject` without requeue: to the queue's dead letter exchange.
    DeadLetter,
}

fn default_prefetch() -> u32 {
    1000
}
fn default_consumer_tag() -> String {
    "rivven-connect".into()
}
pub(super) fn default_connect_timeout() -> u64 {
    10_000
}
fn default_retry_initial() -> u64 {
    100
}
fn default_retry_max() -> u64 {
    10_000
}
fn yes() -> bool {
    true
}

impl AmqpSourceConfig {
    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            url: &self.url,
            username: self.username.as_deref(),
            password: self.password.as_ref(),
            timeout: Duration::from_millis(self.connect_timeout_ms),
            name: "rivven-connect amqp source",
            tls: self.tls.as_ref(),
        }
    }
}

/// The `amqp` source (see the [module docs](super)).
#[derive(Debug, Clone)]
pub struct AmqpSource {
    metrics: Arc<QueueMetrics>,
}

impl Default for AmqpSource {
    fn default() -> Self {
        Self {
            metrics: Arc::new(QueueMetrics::new("amqp", "source")),
        }
    }
}

impl AmqpSource {
    /// A source; it connects when it reads.
    pub fn new() -> Self {
        Self::default()
    }

    /// What its readers counted so far (every `read` of this instance).
    pub fn metrics(&self) -> &QueueMetrics {
        &self.metrics
    }
}

#[async_trait]
impl Source for AmqpSource {
    type Config = AmqpSourceConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        Ok(super::config::check(config.endpoint()).await)
    }

    async fn discover(&self, config: &Self::Config) -> Result<Catalog> {
        Ok(Catalog::new(vec![Stream::new(
            config.queue.clone(),
            json!({}),
        )]))
    }

    async fn read(
        &self,
        config: &Self::Config,
        _catalog: &ConfiguredCatalog,
        _state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        // The first connection's errors (credentials, a bad declaration) are
        // the read's: not retried here.
        let session = Session::open(config, 0).await?;
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        tokio::spawn(acknowledge(ack_rx, config.on_reject, self.metrics.clone()));
        let (tx, rx) = mpsc::channel::<(Result<SourceEvent>, Arc<AtomicBool>)>(256);
        let reader = Reader {
            config: config.clone(),
            ack_tx,
            metrics: self.metrics.clone(),
        };
        // The reader ends by itself once the stream is dropped (it sees the
        // channel closed) and closes its connection: the broker requeues
        // what was delivered and not acknowledged.
        tokio::spawn(reader.run(session, tx));
        Ok(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|(item, handed)| {
                handed.store(true, Ordering::Release);
                (item, rx)
            })
        })
        .boxed())
    }

    fn exclusive_resource(&self, config: &Self::Config) -> Option<String> {
        // Two consumers of one queue split its messages: allowed by AMQP, but
        // two pipelines of one configuration would share the consumer tag.
        Some(format!(
            "amqp:{}/{}/{}",
            config.url, config.queue, config.consumer_tag
        ))
    }
}

/// One connection: its channel and consumer. `generation` tells tokens of
/// an earlier connection (whose delivery tags are void) from this one's.
struct Session {
    connection: Connection,
    channel: Channel,
    consumer: Consumer,
    generation: u64,
    outstanding: Arc<Outstanding>,
}

/// The session's tokens not yet acknowledged on its channel: a clean close
/// waits for them, so that the pipeline's last acks and rejects reach the
/// broker before the channel goes.
#[derive(Default)]
struct Outstanding {
    count: AtomicUsize,
    zero: Notify,
}

impl Outstanding {
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.zero.notify_waiters();
        }
    }

    async fn drained(&self, timeout: Duration) {
        let wait = async {
            loop {
                let notified = self.zero.notified();
                if self.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
    }
}

/// How long a clean close waits for the pipeline to resolve the tokens.
const CLOSE_GRACE: Duration = Duration::from_secs(30);

impl Session {
    async fn open(config: &AmqpSourceConfig, generation: u64) -> Result<Self> {
        let url = &config.url;
        let connection = connect(config.endpoint()).await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| amqp_error(url, &e))?;
        let queue = short(&config.queue, "queue").map_err(config_error)?;
        let (options, arguments) = match &config.declare {
            Some(declare) => (
                QueueDeclareOptions {
                    durable: declare.durable,
                    exclusive: declare.exclusive,
                    auto_delete: declare.auto_delete,
                    ..QueueDeclareOptions::default()
                },
                field_table(&declare.arguments, "declare.arguments")?,
            ),
            None => (
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            ),
        };
        channel
            .queue_declare(queue.clone(), options, arguments)
            .await
            .map_err(|e| {
                amqp_error(url, &e).context(format!(
                    "declare queue `{}` (key `declare`{})",
                    config.queue,
                    if config.declare.is_none() {
                        "; unset, so the queue must exist"
                    } else {
                        ""
                    }
                ))
            })?;
        for (i, binding) in config.bindings.iter().enumerate() {
            let exchange = short(&binding.exchange, "bindings.exchange").map_err(config_error)?;
            let key = short(&binding.routing_key, "bindings.routing_key").map_err(config_error)?;
            channel
                .queue_bind(
                    queue.clone(),
                    exchange,
                    key,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|e| {
                    amqp_error(url, &e).context(format!(
                        "bind `{}` to exchange `{}` (key `bindings[{i}]`)",
                        config.queue, binding.exchange
                    ))
                })?;
        }
        let prefetch = u16::try_from(config.prefetch)
            .map_err(|_| ConnectorError::config("prefetch: at most 65535"))?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| amqp_error(url, &e).context("basic.qos (key `prefetch`)"))?;
        let tag = short(&config.consumer_tag, "consumer_tag").map_err(config_error)?;
        let consumer = channel
            .basic_consume(
                queue,
                tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| amqp_error(url, &e).context(format!("consume `{}`", config.queue)))?;
        tracing::debug!(queue = %config.queue, generation, "amqp consumer started");
        Ok(Self {
            connection,
            channel,
            consumer,
            generation,
            outstanding: Arc::default(),
        })
    }

    /// Closes cleanly: the consumer first (nothing more is delivered), then,
    /// once the tokens are resolved (or after `grace`), the channel — the
    /// broker requeues whatever is still unacknowledged.
    async fn close(self, grace: Duration) {
        let _ = self
            .channel
            .basic_cancel(self.consumer.tag(), BasicCancelOptions::default())
            .await;
        drop(self.consumer);
        if !grace.is_zero() {
            self.outstanding.drained(grace).await;
        }
        let _ = self.channel.close(200, "OK".into()).await;
        let _ = self.connection.close(200, "OK".into()).await;
    }
}

fn config_error(e: ConnectorError) -> ConnectorError {
    ConnectorError::config(e.message().to_owned())
}

/// What the acknowledging task does with one resolved token.
struct Resolved {
    channel: Channel,
    generation: u64,
    tag: u64,
    outcome: AckOutcome,
    /// Whether the pipeline got the event (a rejected one it never got —
    /// still buffered when the stream was dropped — is always requeued).
    handed: bool,
    outstanding: Arc<Outstanding>,
}

/// Acknowledges resolved tokens on their delivery's channel, in order: a
/// run of `Delivered` with consecutive tags on one channel is one
/// `basic.ack multiple`. A failure (the channel is gone) is only logged:
/// the broker requeued that channel's unacknowledged messages.
async fn acknowledge(
    mut resolved: mpsc::UnboundedReceiver<Resolved>,
    on_reject: OnReject,
    metrics: Arc<QueueMetrics>,
) {
    let mut pending: Vec<Resolved> = Vec::new();
    while let Some(first) = resolved.recv().await {
        pending.push(first);
        while let Ok(next) = resolved.try_recv() {
            pending.push(next);
        }
        let mut items = pending.drain(..).peekable();
        while let Some(item) = items.next() {
            let mut done = vec![item.outstanding.clone()];
            let delivered = item.outcome == AckOutcome::Delivered;
            let outcome = if delivered {
                let mut last = item.tag;
                while let Some(next) = items.peek() {
                    if next.outcome == AckOutcome::Delivered
                        && next.generation == item.generation
                        && next.tag == last + 1
                    {
                        last = next.tag;
                        if let Some(next) = items.next() {
                            done.push(next.outstanding);
                        }
                    } else {
                        break;
                    }
                }
                let multiple = last != item.tag;
                item.channel
                    .basic_ack(last, BasicAckOptions { multiple })
                    .await
            } else {
                match if item.handed {
                    on_reject
                } else {
                    OnReject::Requeue
                } {
                    OnReject::Requeue => {
                        item.channel
                            .basic_nack(
                                item.tag,
                                BasicNackOptions {
                                    multiple: false,
                                    requeue: true,
                                },
                            )
                            .await
                    }
                    OnReject::DeadLetter => {
                        item.channel
                            .basic_reject(item.tag, BasicRejectOptions { requeue: false })
                            .await
                    }
                }
            };
            match outcome {
                Ok(()) if delivered => {
                    for _ in &done {
                        metrics.acked();
                    }
                }
                Ok(()) => {}
                Err(e) => {
                    metrics.error();
                    tracing::warn!(tag = item.tag, error = %e, "amqp acknowledgement on a closed channel; the broker redelivers");
                }
            }
            for outstanding in done {
                outstanding.done();
            }
        }
    }
}

/// The reader's side of the stream: each item with the flag the stream
/// sets when the pipeline takes it.
type Sender = mpsc::Sender<(Result<SourceEvent>, Arc<AtomicBool>)>;

struct Reader {
    config: AmqpSourceConfig,
    ack_tx: mpsc::UnboundedSender<Resolved>,
    metrics: Arc<QueueMetrics>,
}

impl Reader {
    async fn run(self, mut session: Session, tx: Sender) {
        loop {
            let next = tokio::select! {
                next = session.consumer.next() => next,
                () = tx.closed() => {
                    // The stream is gone: dropping our sender frees the
                    // events still buffered (their tokens resolve, requeued)
                    // before the close waits for the tokens.
                    drop(tx);
                    session.close(CLOSE_GRACE).await;
                    return;
                }
            };
            match next {
                Some(Ok(delivery)) => {
                    let arrived = std::time::Instant::now();
                    let bytes = delivery.data.len();
                    let handed = Arc::new(AtomicBool::new(false));
                    let item = self.event(delivery, &session, &handed);
                    match &item {
                        Ok(_) => self.metrics.received(bytes, arrived.elapsed()),
                        Err(_) => self.metrics.error(),
                    }
                    if tx.send((item, handed)).await.is_err() {
                        drop(tx);
                        session.close(CLOSE_GRACE).await;
                        return;
                    }
                }
                other => {
                    let why = match other {
                        Some(Err(e)) => amqp_error(&self.config.url, &e).to_string(),
                        _ => "the broker cancelled the consumer".to_string(),
                    };
                    self.metrics.error();
                    let generation = session.generation + 1;
                    // The connection is gone: nothing to wait for.
                    session.close(Duration::ZERO).await;
                    match self.reconnect(generation, &why, &tx).await {
                        Some(new) => session = new,
                        None => return,
                    }
                }
            }
        }
    }

    /// A new session, after an exponential backoff; `None` when the stream
    /// is gone or the error is not retryable (then sent to the stream).
    async fn reconnect(&self, generation: u64, why: &str, tx: &Sender) -> Option<Session> {
        let max = Duration::from_millis(self.config.retry_max_ms);
        let mut delay = Duration::from_millis(self.config.retry_initial_ms).min(max);
        tracing::warn!(queue = %self.config.queue, error = %why, "amqp connection lost; reconnecting (unacknowledged messages are redelivered)");
        loop {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = tx.closed() => return None,
            }
            match Session::open(&self.config, generation).await {
                Ok(session) => {
                    self.metrics.reconnected();
                    tracing::info!(queue = %self.config.queue, "amqp reconnected");
                    return Some(session);
                }
                Err(e) if !e.is_retryable() => {
                    let _ = tx.send((Err(e), Arc::new(AtomicBool::new(true)))).await;
                    return None;
                }
                Err(e) => {
                    tracing::warn!(queue = %self.config.queue, error = %e, ?delay, "amqp reconnect failed");
                    delay = (delay * 2).min(max);
                }
            }
        }
    }

    fn token(&self, session: &Session, tag: u64, handed: &Arc<AtomicBool>) -> AckToken {
        let acks = self.ack_tx.clone();
        let channel = session.channel.clone();
        let generation = session.generation;
        let outstanding = session.outstanding.clone();
        outstanding.count.fetch_add(1, Ordering::AcqRel);
        let handed = handed.clone();
        AckToken::new(move |outcome: AckOutcome| {
            let resolved = Resolved {
                channel,
                generation,
                tag,
                outcome,
                handed: handed.load(Ordering::Acquire),
                outstanding,
            };
            if let Err(unsent) = acks.send(resolved) {
                unsent.0.outstanding.done();
            }
        })
    }

    fn event(
        &self,
        delivery: Delivery,
        session: &Session,
        handed: &Arc<AtomicBool>,
    ) -> Result<SourceEvent> {
        let token = self.token(session, delivery.delivery_tag, handed);
        let (data, base64) = match payload::decode(&delivery.data, self.config.parse_json_payload) {
            Ok(decoded) => decoded,
            Err(why) => {
                return Err(ConnectorError::data(format!(
                    "AMQP queue `{}` message {}: {why}",
                    self.config.queue, delivery.delivery_tag
                ))
                .with_raw_record(delivery.data)
                .with_ack(token))
            }
        };
        let mut event = SourceEvent::record(self.config.queue.clone(), data);
        let header_key = self.config.key_header.as_deref().and_then(|name| {
            let headers = delivery.properties.headers().as_ref()?;
            headers.inner().get(name).map(|v| match v {
                AMQPValue::LongString(s) => {
                    Value::String(String::from_utf8_lossy(s.as_bytes()).into_owned())
                }
                other => json_value(other),
            })
        });
        match header_key {
            Some(key) => event = event.with_key(key),
            None if self.config.key_header.is_none()
                && !delivery.routing_key.as_str().is_empty() =>
            {
                event = event.with_key(Value::String(delivery.routing_key.as_str().to_owned()));
            }
            None => {}
        }
        if base64 {
            event = event.with_metadata(PAYLOAD_ENCODING, json!(BASE64));
        }
        for (name, value) in properties::to_metadata(&delivery.properties) {
            event = event.with_metadata(name, value);
        }
        if self.config.include_metadata {
            event = event
                .with_metadata("amqp_exchange", json!(delivery.exchange.as_str()))
                .with_metadata("amqp_routing_key", json!(delivery.routing_key.as_str()))
                .with_metadata("amqp_redelivered", json!(delivery.redelivered))
                .with_metadata("amqp_delivery_tag", json!(delivery.delivery_tag));
        }
        Ok(event.with_ack(token))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rivven_connect::SourceConfig;

    #[test]
    fn prefetch_zero_and_a_bad_declare_are_config_errors_naming_the_key() {
        let base = json!({"url": "amqp://h:5672/%2f", "queue": "q"});
        let mut zero = base.clone();
        zero["prefetch"] = json!(0);
        let err = AmqpSourceConfig::from_value(zero).unwrap_err().to_string();
        assert!(err.contains("prefetch"), "{err}");
        let mut bad = base.clone();
        bad["declare"] = json!({"durable": "yes"});
        let err = AmqpSourceConfig::from_value(bad).unwrap_err().to_string();
        assert!(err.contains("declare"), "{err}");
        let mut unknown = base;
        unknown["declare"] = json!({"durabel": true});
        let err = AmqpSourceConfig::from_value(unknown)
            .unwrap_err()
            .to_string();
        assert!(err.contains("durabel"), "{err}");
    }

    #[test]
    fn a_numeric_password_is_refused_without_showing_it_and_a_quoted_one_never_shows() {
        let err = AmqpSourceConfig::from_value(json!({
            "url": "amqp://h:5672/%2f", "queue": "q", "password": 123456789
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("password"), "{err}");
        assert!(!err.contains("123456789"), "{err}");
        let config = AmqpSourceConfig::from_value(json!({
            "url": "amqp://h:5672/%2f", "queue": "q", "password": "123456789"
        }))
        .unwrap();
        assert!(!format!("{config:?}").contains("123456789"));
        assert!(!serde_json::to_string(&config)
            .unwrap()
            .contains("123456789"));
    }
}
