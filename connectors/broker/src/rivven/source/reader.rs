//! The `rivven` source's read loop: positions per partition, pipelined
//! fetches of every partition, events with their offsets as state, and
//! reconnecting in place after a lost connection.

use std::time::{Duration, Instant};

use futures::Stream;
use rivven_client::{Client, MessageData};
use rivven_connect::{ConnectorError, Result, SourceEvent};

use super::super::codec::decode_event;
use super::super::connection::client_error;
use super::super::offsets::{event_update, TopicOffsets};
use super::super::topic::describe;
use super::{no_committed_offset, AutoOffsetReset, RivvenSourceConfig};

/// Consecutive failed reconnects after which the error ends the stream (the
/// runtime then restarts the pipeline from its committed state).
const MAX_RECONNECTS: u32 = 10;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub(crate) struct Reader {
    config: RivvenSourceConfig,
    client: Option<Client>,
    /// From the runtime's committed state: where `read` resumes.
    resume: TopicOffsets,
    /// The next offset to read of every known partition.
    positions: TopicOffsets,
    partitions: u32,
    metadata_read: Option<Instant>,
    waiting_logged: bool,
}

impl Reader {
    /// Connect (failing the `read` call itself when no server is reachable).
    pub(crate) async fn connect(config: RivvenSourceConfig, resume: TopicOffsets) -> Result<Self> {
        let client = config.endpoint().connect().await?;
        Ok(Self {
            config,
            client: Some(client),
            resume,
            positions: TopicOffsets::default(),
            partitions: 0,
            metadata_read: None,
            waiting_logged: false,
        })
    }

    pub(crate) fn into_stream(
        mut self,
    ) -> impl Stream<Item = Result<SourceEvent>> + Send + 'static {
        async_stream::stream! {
            let mut failures = 0u32;
            loop {
                match self.poll().await {
                    Ok(items) => {
                        failures = 0;
                        for item in items {
                            yield item;
                        }
                    }
                    Err(e) if e.is_retryable() && failures < MAX_RECONNECTS => {
                        failures += 1;
                        let backoff = (Duration::from_millis(100) * 2u32.pow(failures)).min(MAX_BACKOFF);
                        tracing::warn!(topic = %self.config.topic, error = %e, attempt = failures, ?backoff, "rivven source: reconnecting");
                        self.client = None;
                        tokio::time::sleep(backoff).await;
                    }
                    Err(e) => {
                        yield Err(e);
                        break;
                    }
                }
            }
        }
    }

    /// One round: refresh metadata when due, fetch every partition once.
    async fn poll(&mut self) -> Result<Vec<Result<SourceEvent>>> {
        if self.client.is_none() {
            self.client = Some(self.config.endpoint().connect().await?);
        }
        let refresh = Duration::from_millis(self.config.metadata_refresh_ms);
        if self.partitions == 0 || self.metadata_read.is_none_or(|at| at.elapsed() >= refresh) {
            self.refresh_partitions().await?;
        }
        let poll_interval = Duration::from_millis(self.config.poll_interval_ms);
        if self.partitions == 0 {
            tokio::time::sleep(poll_interval.max(Duration::from_millis(500))).await;
            return Ok(Vec::new());
        }
        let fetched = self.fetch().await?;
        let items = self.events(fetched);
        if items.is_empty() {
            tokio::time::sleep(poll_interval).await;
        }
        Ok(items)
    }

    fn client(&mut self) -> Result<&mut Client> {
        self.client
            .as_mut()
            .ok_or_else(|| ConnectorError::connection("not connected to the broker"))
    }

    /// Read the partition count; start newly seen partitions.
    async fn refresh_partitions(&mut self) -> Result<()> {
        let topic = self.config.topic.clone();
        let count = describe(self.client()?, &topic).await?;
        self.metadata_read = Some(Instant::now());
        let Some(count) = count else {
            if !self.waiting_logged {
                tracing::warn!(topic = %topic, "rivven source: the topic does not exist yet, waiting for it");
                self.waiting_logged = true;
            }
            // Look again soon rather than after a whole refresh period.
            self.metadata_read = None;
            return Ok(());
        };
        for partition in self.partitions..count {
            let start = self.start_of(partition).await?;
            tracing::debug!(topic = %topic, partition, start, "rivven source: reading partition");
            self.positions.set(partition, start);
        }
        self.partitions = self.partitions.max(count);
        Ok(())
    }

    /// The runtime's state, else the group's committed offset, else
    /// `auto_offset_reset`.
    async fn start_of(&mut self, partition: u32) -> Result<u64> {
        if let Some(next) = self.resume.get(partition) {
            return Ok(next);
        }
        let (group, topic, reset) = (
            self.config.consumer_group.clone(),
            self.config.topic.clone(),
            self.config.auto_offset_reset,
        );
        let client = self.client()?;
        if let Some(next) = client
            .get_offset(&group, &topic, partition)
            .await
            .map_err(client_error)?
        {
            return Ok(next);
        }
        let (earliest, latest) = client
            .get_offset_bounds(&topic, partition)
            .await
            .map_err(client_error)?;
        match reset {
            AutoOffsetReset::Earliest => Ok(earliest),
            AutoOffsetReset::Latest => Ok(latest),
            AutoOffsetReset::None => Err(no_committed_offset(&self.config, partition)),
        }
    }

    /// One pipelined fetch of every partition from its position.
    async fn fetch(&mut self) -> Result<Vec<(u32, Vec<MessageData>)>> {
        let topic = self.config.topic.clone();
        let max = self.config.batch_size;
        let fetches: Vec<(&str, u32, u64, u32, Option<u8>)> = self
            .positions
            .iter()
            .map(|(partition, next)| (topic.as_str(), partition, next, max, None))
            .collect();
        let partitions: Vec<u32> = fetches.iter().map(|f| f.1).collect();
        let results = self
            .client
            .as_mut()
            .ok_or_else(|| ConnectorError::connection("not connected to the broker"))?
            .consume_pipelined(&fetches)
            .await
            .map_err(client_error)?;
        partitions
            .into_iter()
            .zip(results)
            .map(|(partition, result)| {
                result.map(|messages| (partition, messages)).map_err(|e| {
                    client_error(e).context(format!("fetch `{topic}` partition {partition}"))
                })
            })
            .collect()
    }

    /// The fetched messages as events (each with its partition's next
    /// offset as state), bad ones as data errors followed by a state event.
    fn events(&mut self, fetched: Vec<(u32, Vec<MessageData>)>) -> Vec<Result<SourceEvent>> {
        let topic = self.config.topic.clone();
        let mut items = Vec::with_capacity(fetched.iter().map(|(_, m)| m.len()).sum());
        for (partition, messages) in fetched {
            for message in messages {
                let position = self.positions.get(partition).unwrap_or(0);
                if message.offset < position {
                    continue; // already read
                }
                let next = message.offset + 1;
                self.positions.set(partition, next);
                let at = format!("{topic}/{partition}@{}", message.offset);
                match decode_event(&message.value, &at) {
                    Ok(mut event) => {
                        event.metadata.state = Some(event_update(&topic, partition, next));
                        items.push(Ok(event));
                    }
                    Err(e) => {
                        items.push(Err(e));
                        // The bad record is disposed of by `on_error`; its
                        // offset is read past once that batch is committed.
                        items.push(Ok(SourceEvent::state(self.positions.to_state(&topic))));
                    }
                }
            }
        }
        items
    }
}
