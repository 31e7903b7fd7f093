//! The two ends of an embedded topic as pipeline stages: [`TopicSink`] (what
//! a publisher pipeline writes to) and [`TopicSource`] (what a subscriber
//! pipeline reads from).

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use std::sync::Arc;

use super::disk::{json_depth, MAX_DEPTH};
use super::{Topic, TopicStorage};
use crate::catalog::Catalog;
use crate::check::CheckResult;
use crate::connector::{BatchConfig, WriteResult};
use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use crate::runtime::{AnySink, AnySource};
use crate::spec::{ConnectorKind, ConnectorSpec};
use crate::state::State;

/// Events a subscriber takes from its topic at a time (one state update each).
const READ_CHUNK: usize = 512;

/// Appends a publisher pipeline's events to its topic. Memory storage
/// acknowledges a write once it is in the topic (the publisher's checkpointer
/// commits its state only once every consumer group has committed past it);
/// disk storage once it is fsynced.
#[derive(Debug, Clone)]
pub struct TopicSink {
    topic: Arc<Topic>,
}

impl TopicSink {
    /// A sink appending to `topic`.
    pub fn new(topic: Arc<Topic>) -> Self {
        Self { topic }
    }
}

#[async_trait]
impl AnySink for TopicSink {
    fn spec(&self) -> ConnectorSpec {
        ConnectorSpec::builder("topic", env!("CARGO_PKG_VERSION"))
            .kind(ConnectorKind::Sink)
            .description("appends to an embedded topic")
            .build()
    }

    async fn check(&self) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }

    fn batch_config(&self) -> Option<BatchConfig> {
        None
    }

    async fn write(&self, events: &[SourceEvent]) -> Result<WriteResult> {
        let (mut result, rejected) = self.topic.append_batch(events.to_vec()).await?;
        for (index, _, error) in rejected {
            result.add_record_failure(index, &error);
        }
        Ok(result)
    }
}

/// A record of a batch that a disk topic cannot store: its index in the
/// batch, the event and why.
pub(crate) type Rejected = (usize, SourceEvent, ConnectorError);

impl Topic {
    /// Append a batch given up by the caller (the sink actor of a publisher
    /// pipeline hands it over rather than have it copied). Memory storage
    /// appends it as it is, once there is room; disk storage encodes each
    /// record — one that cannot be stored comes back, for `on_error` — and
    /// returns once the rest is fsynced.
    pub(crate) async fn append_batch(
        &self,
        events: Vec<SourceEvent>,
    ) -> Result<(WriteResult, Vec<Rejected>)> {
        let mut result = WriteResult::new();
        let mut rejected = Vec::new();
        let (kept, payloads) = match self.storage() {
            TopicStorage::Memory => (events, Vec::new()),
            TopicStorage::Disk => {
                let mut kept = Vec::with_capacity(events.len());
                let mut payloads = Vec::with_capacity(events.len());
                for (index, event) in events.into_iter().enumerate() {
                    match encode(self.name(), &event) {
                        Ok(p) => {
                            payloads.push(p);
                            kept.push(event);
                        }
                        Err(error) => rejected.push((index, event, error)),
                    }
                }
                (kept, payloads)
            }
        };
        let n = kept.len() as u64;
        let bytes = kept.iter().map(|e| e.approx_size() as u64).sum();
        self.append(kept, payloads).await?;
        result.add_success(n, bytes);
        Ok((result, rejected))
    }
}

/// A record as stored on disk; one that could not be read back is refused here.
fn encode(topic: &str, event: &SourceEvent) -> Result<Vec<u8>> {
    let payload = serde_json::to_vec(event).map_err(|e| {
        ConnectorError::data(format!(
            "topic `{topic}`: the event does not serialize: {e}"
        ))
    })?;
    let depth = json_depth(&payload);
    if depth > MAX_DEPTH {
        return Err(ConnectorError::data(format!(
            "topic `{topic}`: the event nests {depth} levels deep; a disk topic stores at most {MAX_DEPTH}"
        )));
    }
    Ok(payload)
}

/// Reads one or more topics as consumer group `group`. Its state is each
/// topic's next offset (global key `topic:<name>`); `commit` moves the group's
/// cursor, which is what lets the topic drop (memory) or delete (disk) events.
#[derive(Debug, Clone)]
pub struct TopicSource {
    topics: Vec<Arc<Topic>>,
    group: String,
}

impl TopicSource {
    /// A source reading `topics` as consumer group `group`.
    pub fn new(topics: Vec<Arc<Topic>>, group: impl Into<String>) -> Self {
        Self {
            topics,
            group: group.into(),
        }
    }

    /// The state key of `topic`'s offset.
    pub fn state_key(topic: &str) -> String {
        format!("topic:{topic}")
    }
}

fn offset_state(topic: &str, next: u64) -> SourceEvent {
    let mut state = State::new();
    state.set_global(TopicSource::state_key(topic), serde_json::json!(next));
    SourceEvent::state(state)
}

#[async_trait]
impl AnySource for TopicSource {
    fn spec(&self) -> ConnectorSpec {
        ConnectorSpec::builder("topic", env!("CARGO_PKG_VERSION"))
            .kind(ConnectorKind::Source)
            .description("reads embedded topics as a consumer group")
            .build()
    }

    async fn check(&self) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }

    async fn discover(&self) -> Result<Catalog> {
        Ok(Catalog::default())
    }

    async fn read(&self, state: Option<State>) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let mut streams = Vec::with_capacity(self.topics.len());
        for topic in &self.topics {
            let key = Self::state_key(topic.name());
            let committed = state.as_ref().and_then(|s| s.get::<u64>(&key));
            let start = committed.unwrap_or_else(|| topic.start_of(&self.group));
            let end = topic.status().end_offset;
            if start > end {
                return Err(ConnectorError::fatal(format!(
                    "topic `{}`: consumer group `{}` committed offset {start}, beyond the topic's end {end}: \
                     the topic's files were lost or replaced; refusing to skip",
                    topic.name(),
                    self.group
                )));
            }
            topic.commit(&self.group, start)?;
            streams.push(subscribe(topic.clone(), start).boxed());
        }
        Ok(futures::stream::select_all(streams).boxed())
    }

    async fn commit(&self, state: &State) -> Result<()> {
        for topic in &self.topics {
            if let Some(next) = state.get::<u64>(&Self::state_key(topic.name())) {
                topic.commit(&self.group, next)?;
            }
        }
        Ok(())
    }
}

/// The events of `topic` from `start`, each chunk followed by its offset;
/// ends when the topic is closed and read to its end.
fn subscribe(
    topic: Arc<Topic>,
    start: u64,
) -> impl futures::Stream<Item = Result<SourceEvent>> + Send + 'static {
    async_stream::stream! {
        let mut next = start;
        let mut reader = None;
        loop {
            match topic.read(next, READ_CHUNK, &mut reader) {
                Ok(events) if !events.is_empty() => {
                    next += events.len() as u64;
                    for e in events {
                        yield Ok(e);
                    }
                    yield Ok(offset_state(topic.name(), next));
                }
                Ok(_) => {
                    if !topic.wait_for(next).await {
                        break;
                    }
                }
                Err(e) => {
                    yield Err(e);
                    break;
                }
            }
        }
    }
}
