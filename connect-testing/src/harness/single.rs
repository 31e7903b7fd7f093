//! Single-connector helpers: read a source to its end, write events to a sink.

use futures::stream::{self, BoxStream, StreamExt};
use rivven_connect::{
    ConnectorError, EventType, Result, Sink, Source, SourceEvent, State, WriteResult,
};
use std::time::Duration;

/// How long [`run_source`] waits for a bounded source to end.
const SOURCE_TIMEOUT: Duration = Duration::from_secs(60);

/// Check, discover and read `source` to its end (at most 60 s), returning
/// the data events. Errors name the step that failed.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> rivven_connect::Result<()> {
/// use rivven_connect_testing::prelude::*;
/// let events = run_source(&MockSource::counting(3), &MockConfig::default()).await?;
/// assert_eq!(events.len(), 3);
/// # Ok(()) }
/// ```
pub async fn run_source<S: Source>(source: &S, config: &S::Config) -> Result<Vec<SourceEvent>> {
    Ok(run_source_with(source, config, None, None).await?.0)
}

/// Like [`run_source`], resuming from `state` and stopping after
/// `max_events` data events (for endless sources). Also returns the state
/// accumulated from the events, the way the runtime accumulates it.
pub async fn run_source_with<S: Source>(
    source: &S,
    config: &S::Config,
    state: Option<State>,
    max_events: Option<usize>,
) -> Result<(Vec<SourceEvent>, State)> {
    let check = source.check(config).await?;
    if !check.is_success() {
        return Err(ConnectorError::connection(format!(
            "check failed: {}",
            check.summary()
        )));
    }
    let catalog = source.discover(config).await?.configure_all();
    let mut accumulated = state.clone().unwrap_or_default();
    let mut stream = source.read(config, &catalog, state).await?;
    let mut events = Vec::new();
    let read_all = async {
        while max_events.is_none_or(|n| events.len() < n) {
            let Some(item) = stream.next().await else {
                break;
            };
            let event = item?;
            match event.event_type {
                EventType::State => {
                    let update: State = serde_json::from_value(event.data).map_err(|e| {
                        ConnectorError::data(format!("state event is not a valid State: {e}"))
                    })?;
                    accumulated.merge(update);
                }
                EventType::Log => {}
                _ => {
                    if let Some(update) = &event.metadata.state {
                        accumulated.apply_stream_update(&event.stream, update);
                    }
                    events.push(event);
                }
            }
        }
        Ok::<(), ConnectorError>(())
    };
    match tokio::time::timeout(SOURCE_TIMEOUT, read_all).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(ConnectorError::timeout(format!(
                "the source did not end within {SOURCE_TIMEOUT:?} ({} events read); pass max_events for endless sources",
                events.len()
            )))
        }
    }
    Ok((events, accumulated))
}

/// Write `events` to `sink` as one batch.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> rivven_connect::Result<()> {
/// use rivven_connect_testing::prelude::*;
/// use rivven_connect_testing::events;
/// let sink = MockSink::new();
/// let result = run_sink(&sink, &MockConfig::default(), events::records("t", 5)).await?;
/// assert_eq!(result.records_written, 5);
/// # Ok(()) }
/// ```
pub async fn run_sink<K: Sink>(
    sink: &K,
    config: &K::Config,
    events: Vec<SourceEvent>,
) -> Result<WriteResult> {
    sink.write(config, stream::iter(events).boxed()).await
}

/// A helper for calling one connector's methods directly (the shape of the
/// connector-development guide's tests). Import it as `TestHarness` from
/// [`crate::unit`]; for whole pipelines use [`crate::TestHarness`].
#[derive(Debug, Clone, Default)]
pub struct UnitHarness {
    _private: (),
}

impl UnitHarness {
    /// A harness.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stream a sink's `write` takes.
    pub fn create_events(&self, events: Vec<SourceEvent>) -> BoxStream<'static, SourceEvent> {
        stream::iter(events).boxed()
    }

    /// Read `source` to its end ([`run_source`]).
    pub async fn read<S: Source>(
        &self,
        source: &S,
        config: &S::Config,
    ) -> Result<Vec<SourceEvent>> {
        run_source(source, config).await
    }

    /// Write `events` to `sink` as one batch ([`run_sink`]).
    pub async fn write<K: Sink>(
        &self,
        sink: &K,
        config: &K::Config,
        events: Vec<SourceEvent>,
    ) -> Result<WriteResult> {
        run_sink(sink, config, events).await
    }
}
