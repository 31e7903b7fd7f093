//! The `nats` source's durable consumer: binding it (creating it only when
//! the configuration allows), telling whether it or its stream was deleted
//! while the source reads, and the server version `filter_subjects` needs.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::context::{
    ConsumerInfoError, ConsumerInfoErrorKind, GetStreamErrorKind,
};
use async_nats::jetstream::{self, ErrorCode};
use rivven_connect::{ConnectorError, Result};

use super::source::{DeliverPolicy, NatsSourceConfig};

/// The first nats-server version whose consumers take `filter_subjects`
/// (an older server ignores the field: the consumer would get every
/// subject of the stream).
const FILTER_SUBJECTS_SINCE: (u64, u64) = (2, 10);

/// How long after a first "not found" the consumer is looked up again.
const CONFIRM_GONE_AFTER: Duration = Duration::from_millis(500);

/// The durable consumers a source instance has bound in this process (by
/// URL, stream and name): one missing later was deleted, not new.
pub(super) type Bound = Arc<Mutex<HashSet<String>>>;

/// The stream `name`, or a `Config` error naming it when it does not exist.
pub(super) async fn get_stream(
    js: &jetstream::Context,
    name: &str,
    url: &str,
) -> Result<jetstream::stream::Stream> {
    js.get_stream(name).await.map_err(|e| match e.kind() {
        GetStreamErrorKind::JetStream(js_error)
            if js_error.error_code() == ErrorCode::STREAM_NOT_FOUND =>
        {
            ConnectorError::config(format!(
                "NATS {url}: JetStream stream `{name}` does not exist (the nats source reads an existing stream: create it first, e.g. with the nats sink's create_stream or `nats stream add`)"
            ))
        }
        GetStreamErrorKind::EmptyName | GetStreamErrorKind::InvalidStreamName => {
            ConnectorError::config(format!("stream `{name}` is not a valid stream name"))
        }
        _ => ConnectorError::connection(format!(
            "NATS {url}: JetStream stream `{name}`: {e} (is JetStream enabled?)"
        )),
    })
}

/// `filter_subjects` on a server older than 2.10: a configuration error
/// naming the key and the server's version.
pub(super) fn check_server_version(
    client: &async_nats::Client,
    config: &NatsSourceConfig,
) -> Result<()> {
    if config.filter_subjects.is_empty() {
        return Ok(());
    }
    let version = client.server_info().version;
    if supports_filter_subjects(&version) {
        return Ok(());
    }
    Err(ConnectorError::config(format!(
        "filter_subjects needs nats-server 2.10 or later; the server at {} is {version} (use filter_subject for one subject, or one source per subject)",
        config.url
    ))
    .with_retryable(false))
}

/// Whether a server of `version` (`2.9.10`, `v2.10.4-beta`) takes
/// `filter_subjects`; an unreadable version does not.
fn supports_filter_subjects(version: &str) -> bool {
    let mut parts = version
        .trim_start_matches('v')
        .split(['.', '-'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= FILTER_SUBJECTS_SINCE
}

/// The durable consumer of a running source.
pub(super) struct Durable {
    stream: jetstream::stream::Stream,
    config: pull::Config,
    name: String,
    stream_name: String,
    url: String,
    recreate: bool,
}

impl Durable {
    /// Binds the durable consumer: an existing one is used (updated where
    /// its settings allow); a missing one is created if `create_consumer`
    /// allows and this source did not bind it before (else it was deleted:
    /// created again only with `recreate_consumer`).
    pub(super) async fn bind(
        js: &jetstream::Context,
        config: &NatsSourceConfig,
        bound: &Bound,
    ) -> Result<(Self, PullConsumer)> {
        let stream_name = config.stream_name()?.to_owned();
        let stream = get_stream(js, &stream_name, &config.url).await?;
        let name = config.effective_durable_name();
        let key = format!("{}/{stream_name}/{name}", config.url);
        let durable = Self {
            stream,
            config: consumer_config(config, &name),
            name,
            stream_name,
            url: config.url.clone(),
            recreate: config.recreate_consumer,
        };
        let seen_before = lock(bound).contains(&key);
        let consumer = match durable.stream.consumer_info(&durable.name).await {
            Ok(_) => durable.update_or_use().await?,
            Err(e) => match e.kind() {
                ConsumerInfoErrorKind::NotFound if seen_before && !durable.recreate => {
                    return Err(durable.deleted())
                }
                ConsumerInfoErrorKind::NotFound if !seen_before && !config.create_consumer => {
                    return Err(ConnectorError::config(format!(
                        "NATS {}: durable consumer `{}` of stream `{}` does not exist and create_consumer is false (create it, e.g. with `nats consumer add`)",
                        durable.url, durable.name, durable.stream_name
                    ))
                    .with_retryable(false))
                }
                ConsumerInfoErrorKind::NotFound => durable.create().await?,
                ConsumerInfoErrorKind::StreamNotFound => return Err(durable.stream_deleted()),
                _ => {
                    return Err(ConnectorError::connection(format!(
                        "NATS {}: durable consumer `{}` of stream `{}`: {e}",
                        durable.url, durable.name, durable.stream_name
                    )))
                }
            },
        };
        lock(bound).insert(key);
        Ok((durable, consumer))
    }

    /// After a failed pull: `Ok(None)` when the consumer is still there (or
    /// the server cannot tell now: the pull is retried), `Ok(Some(_))` when
    /// it was deleted and `recreate_consumer` created it again, and a
    /// non-retryable error naming stream and consumer when it (or the
    /// stream) was deleted.
    pub(super) async fn after_failed_pull(&self) -> Result<Option<PullConsumer>> {
        let gone = |e: &ConsumerInfoError| {
            matches!(
                e.kind(),
                ConsumerInfoErrorKind::NotFound | ConsumerInfoErrorKind::StreamNotFound
            )
        };
        let mut probe = self.stream.consumer_info(&self.name).await;
        if probe.as_ref().is_err_and(gone) {
            // Asked again a moment later: a server that has just restarted
            // is not taken at its first word.
            tokio::time::sleep(CONFIRM_GONE_AFTER).await;
            probe = self.stream.consumer_info(&self.name).await;
        }
        match probe {
            Ok(_) => Ok(None),
            Err(e) => match e.kind() {
                ConsumerInfoErrorKind::NotFound if self.recreate => {
                    tracing::warn!(nats = %self.url, stream = %self.stream_name, durable = %self.name, "the durable consumer was deleted; recreating it (recreate_consumer: true): it starts over per deliver_policy");
                    self.create().await.map(Some)
                }
                ConsumerInfoErrorKind::NotFound => Err(self.deleted()),
                ConsumerInfoErrorKind::StreamNotFound => Err(self.stream_deleted()),
                _ => Ok(None),
            },
        }
    }

    async fn create(&self) -> Result<PullConsumer> {
        self.stream
            .create_consumer(self.config.clone())
            .await
            .map_err(|e| {
                ConnectorError::connection(format!(
                    "NATS {}: create durable consumer `{}` on stream `{}`: {e}",
                    self.url, self.name, self.stream_name
                ))
            })
    }

    async fn update_or_use(&self) -> Result<PullConsumer> {
        match self.stream.create_consumer(self.config.clone()).await {
            Ok(consumer) => Ok(consumer),
            Err(create_error) => {
                // An existing durable whose settings cannot change (e.g.
                // its deliver policy): use it as it is.
                let consumer = self
                    .stream
                    .get_consumer::<pull::Config>(&self.name)
                    .await
                    .map_err(|e| {
                        ConnectorError::connection(format!(
                            "NATS {}: durable consumer `{}` of stream `{}`: {e}",
                            self.url, self.name, self.stream_name
                        ))
                    })?;
                tracing::warn!(nats = %self.url, stream = %self.stream_name, durable = %self.name, error = %create_error, "the durable consumer exists with other settings; using it as it is");
                Ok(consumer)
            }
        }
    }

    fn deleted(&self) -> ConnectorError {
        ConnectorError::config(format!(
            "NATS {}: durable consumer `{}` of stream `{}` was deleted while the source read it (its position and unacked messages are gone); create it again (e.g. `nats consumer add`), restart to let create_consumer make a new one, or set recreate_consumer: true",
            self.url, self.name, self.stream_name
        ))
        .with_retryable(false)
    }

    fn stream_deleted(&self) -> ConnectorError {
        ConnectorError::config(format!(
            "NATS {}: JetStream stream `{}` (durable consumer `{}`) was deleted while the source read it",
            self.url, self.stream_name, self.name
        ))
        .with_retryable(false)
    }
}

fn lock(bound: &Bound) -> std::sync::MutexGuard<'_, HashSet<String>> {
    bound.lock().unwrap_or_else(|e| e.into_inner())
}

fn consumer_config(config: &NatsSourceConfig, durable: &str) -> pull::Config {
    let deliver_policy = match config.deliver_policy {
        DeliverPolicy::All => jetstream::consumer::DeliverPolicy::All,
        DeliverPolicy::New => jetstream::consumer::DeliverPolicy::New,
        DeliverPolicy::Last => jetstream::consumer::DeliverPolicy::Last,
        DeliverPolicy::ByStartSequence => jetstream::consumer::DeliverPolicy::ByStartSequence {
            start_sequence: config.start_sequence.unwrap_or(1),
        },
    };
    pull::Config {
        durable_name: Some(durable.to_owned()),
        deliver_policy,
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(config.ack_wait_secs),
        max_ack_pending: config.max_ack_pending,
        filter_subject: config.filter_subject.clone().unwrap_or_default(),
        filter_subjects: config.filter_subjects.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_subjects_need_2_10() {
        assert!(!supports_filter_subjects("2.9.10"));
        assert!(!supports_filter_subjects("1.11.0"));
        assert!(!supports_filter_subjects(""));
        assert!(supports_filter_subjects("2.10.0"));
        assert!(supports_filter_subjects("v2.11.4-beta.1"));
        assert!(supports_filter_subjects("3.0.0"));
    }
}
