//! The `rivven` source's read loop: positions per partition, pipelined
//! fetches of every partition, events with their offsets as state, and
//! reconnecting in place after a lost connection.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::Stream;
use rivven_client::{Client, MessageData};
use rivven_connect::{ConnectorError, Result, SourceEvent};

use super::super::codec::decode_event;
use super::super::connection::client_error;
use super::super::loss::{offsets_skipped, unreadable_position};
use super::super::offsets::{event_update, TopicOffsets};
use super::super::topic::describe;
use super::{no_committed_offset, AutoOffsetReset, RivvenSourceConfig};

/// Consecutive failed reconnects after which the error ends the stream (the
/// runtime then restarts the pipeline from its committed state).
const MAX_RECONNECTS: u32 = 10;
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A partition whose position has not moved for this long while its end is
/// past it has a hole (the broker lost the message there).
const HOLE_PATIENCE: Duration = Duration::from_secs(2);
/// How often an idle partition's end is read.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// A partition whose position has not moved.
struct Idle {
    position: u64,
    since: Instant,
    checked: Option<Instant>,
}

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
    /// Set when a position is past its partition's end or not readable
    /// (the source's, kept across reads: it refuses to read on).
    refused: Arc<Mutex<Option<String>>>,
    idle: BTreeMap<u32, Idle>,
}

impl Reader {
    /// Connect (failing the `read` call itself when no server is reachable).
    pub(crate) async fn connect(
        config: RivvenSourceConfig,
        resume: TopicOffsets,
        refused: Arc<Mutex<Option<String>>>,
    ) -> Result<Self> {
        let client = config.endpoint().connect().await?;
        Ok(Self {
            config,
            client: Some(client),
            resume,
            positions: TopicOffsets::default(),
            partitions: 0,
            metadata_read: None,
            waiting_logged: false,
            refused,
            idle: BTreeMap::new(),
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
            // The broker may have restarted (and lost messages) meanwhile.
            self.verify_positions().await?;
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
        self.check_holes().await?;
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
    /// `auto_offset_reset`; a resumed position past the partition's end is
    /// an error (the broker lost messages), never a silent reset.
    async fn start_of(&mut self, partition: u32) -> Result<u64> {
        let (group, topic, reset) = (
            self.config.consumer_group.clone(),
            self.config.topic.clone(),
            self.config.auto_offset_reset,
        );
        let resumed = match self.resume.get(partition) {
            Some(next) => Some(next),
            None => self
                .client()?
                .get_offset(&group, &topic, partition)
                .await
                .map_err(client_error)?,
        };
        let (earliest, end) = self.bounds(partition).await?;
        match (resumed, reset) {
            (Some(next), _) if next > end => Err(self.refuse(partition, next, end)),
            (Some(next), _) => Ok(next),
            (None, AutoOffsetReset::Earliest) => Ok(earliest),
            (None, AutoOffsetReset::Latest) => Ok(end),
            (None, AutoOffsetReset::None) => Err(no_committed_offset(&self.config, partition)),
        }
    }

    /// `(earliest, end)` offsets of `partition`.
    async fn bounds(&mut self, partition: u32) -> Result<(u64, u64)> {
        let topic = self.config.topic.clone();
        self.client()?
            .get_offset_bounds(&topic, partition)
            .await
            .map_err(|e| {
                client_error(e).context(format!("offsets of `{topic}` partition {partition}"))
            })
    }

    /// Every position against its partition's end (after a reconnect).
    async fn verify_positions(&mut self) -> Result<()> {
        let positions: Vec<(u32, u64)> = self.positions.iter().collect();
        for (partition, next) in positions {
            let (_, end) = self.bounds(partition).await?;
            if next > end {
                return Err(self.refuse(partition, next, end));
            }
        }
        Ok(())
    }

    /// A partition that does not move while its end is past its position has
    /// a hole: `rivvend` keeps its end offsets when it loses messages, and
    /// returns nothing at a lost offset — waiting there would stall the
    /// partition for good, skipping would lose silently.
    async fn check_holes(&mut self) -> Result<()> {
        let now = Instant::now();
        let positions: Vec<(u32, u64)> = self.positions.iter().collect();
        let mut due = Vec::new();
        for (partition, next) in positions {
            let idle = self.idle.entry(partition).or_insert(Idle {
                position: next,
                since: now,
                checked: None,
            });
            if idle.position != next {
                *idle = Idle {
                    position: next,
                    since: now,
                    checked: None,
                };
                continue;
            }
            let waited = now.duration_since(idle.since) >= HOLE_PATIENCE;
            if waited
                && idle
                    .checked
                    .is_none_or(|at| now.duration_since(at) >= IDLE_CHECK)
            {
                idle.checked = Some(now);
                due.push((partition, next));
            }
        }
        for (partition, next) in due {
            let (_, end) = self.bounds(partition).await?;
            if next != end {
                return Err(self.refuse(partition, next, end));
            }
        }
        Ok(())
    }

    /// The unreadable-position error, remembered so that no later read of this
    /// source goes on past it.
    fn refuse(&self, partition: u32, next: u64, end: u64) -> ConnectorError {
        let c = &self.config;
        let e = unreadable_position(&c.consumer_group, &c.topic, partition, next, end);
        self.refuse_with(e)
    }

    /// Log `e` and remember it: no later read of this source goes on.
    fn refuse_with(&self, e: ConnectorError) -> ConnectorError {
        let c = &self.config;
        tracing::error!(group = %c.consumer_group, topic = %c.topic, "rivven source: {}", e.message());
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        refused.get_or_insert_with(|| e.message().to_string());
        e
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
                if message.offset > position {
                    // A gap: the broker lost the messages in between.
                    let c = &self.config;
                    let e = offsets_skipped(
                        &c.consumer_group,
                        &topic,
                        partition,
                        position,
                        message.offset,
                    );
                    items.push(Err(self.refuse_with(e)));
                    return items;
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
