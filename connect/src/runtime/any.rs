//! Type-erased connectors: what the runtime (and the registry) hold.
//!
//! `SourceAdapter`, `SinkAdapter`, `BatchSinkAdapter` and `TransformAdapter`
//! pair a typed connector with its validated config behind the object-safe
//! [`AnySource`], [`AnySink`] and [`AnyTransform`] traits.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use std::fmt;

use crate::catalog::{Catalog, ConfiguredCatalog};
use crate::check::CheckResult;
use crate::connector::{
    BatchConfig, BatchSink, Sink, Source, Transform, TransformOutput, WriteResult,
};
use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::state::State;

/// A source with its config, behind a trait object.
#[async_trait]
pub trait AnySource: Send + Sync + 'static {
    /// The connector's spec.
    fn spec(&self) -> ConnectorSpec;
    /// Check connectivity.
    async fn check(&self) -> Result<CheckResult>;
    /// Discover streams.
    async fn discover(&self) -> Result<Catalog>;
    /// Read from `state`.
    async fn read(&self, state: Option<State>) -> Result<BoxStream<'static, Result<SourceEvent>>>;
    /// Read only the streams selected in `catalog` (all when it is empty).
    /// The default reads everything and drops data events of other streams;
    /// [`SourceAdapter`] hands the catalog to the connector instead.
    async fn read_catalog(
        &self,
        catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let catalog = catalog.clone();
        let events = self.read(state).await?;
        Ok(events
            .filter(move |item| {
                let keep = match item {
                    Ok(e) if e.is_data() => catalog.includes(&e.stream),
                    _ => true,
                };
                futures::future::ready(keep)
            })
            .boxed())
    }
    /// Confirm a committed state upstream.
    async fn commit(&self, state: &State) -> Result<()>;
    /// See [`Source::exclusive_resource`].
    fn exclusive_resource(&self) -> Option<String> {
        None
    }
}

/// A sink with its config, behind a trait object.
#[async_trait]
pub trait AnySink: Send + Sync + 'static {
    /// The connector's spec.
    fn spec(&self) -> ConnectorSpec;
    /// Check connectivity.
    async fn check(&self) -> Result<CheckResult>;
    /// The sink's own batching, if it is a [`BatchSink`].
    fn batch_config(&self) -> Option<BatchConfig>;
    /// Write one batch; the caller keeps the events (for retries and the
    /// dead-letter queue), see [`Sink::write_borrowed`].
    async fn write(&self, events: &[SourceEvent]) -> Result<WriteResult>;
    /// See [`Sink::exclusive_resource`].
    fn exclusive_resource(&self) -> Option<String> {
        None
    }
    /// See [`Sink::stores_position`].
    fn stores_position(&self) -> bool {
        false
    }
    /// See [`Sink::committed_position`].
    async fn committed_position(&self) -> Result<Option<State>> {
        Ok(None)
    }
    /// See [`Sink::write_with_position`]. The default writes without it.
    async fn write_with_position(
        &self,
        events: &[SourceEvent],
        _position: &State,
    ) -> Result<WriteResult> {
        if events.is_empty() {
            return Ok(WriteResult::new());
        }
        self.write(events).await
    }
    /// See [`Sink::flush`].
    async fn flush(&self) -> Result<WriteResult> {
        Ok(WriteResult::new())
    }
    /// See [`Sink::discard_pending`].
    fn discard_pending(&self) {}
}

/// A transform with its config, behind a trait object.
#[async_trait]
pub trait AnyTransform: Send + Sync + 'static {
    /// The transform's spec.
    fn spec(&self) -> ConnectorSpec;
    /// Transform one event.
    async fn transform(&self, event: SourceEvent) -> Result<TransformOutput>;
    /// Transform a batch in order: one call (one boxed future) per batch rather
    /// than per event. Rejected events are returned with their error (and, with
    /// `keep_originals`, the event as it arrived, for the dead-letter queue).
    async fn transform_batch(
        &self,
        events: Vec<SourceEvent>,
        keep_originals: bool,
    ) -> TransformedBatch {
        TransformedBatch::collect(events, keep_originals, |e| self.transform(e)).await
    }
}

/// What [`AnyTransform::transform_batch`] made of a batch.
#[derive(Debug, Default)]
pub struct TransformedBatch {
    /// The events to pass on, in order.
    pub events: Vec<SourceEvent>,
    /// Events the transform dropped on purpose.
    pub dropped: u64,
    /// Rejected events: the error, and the original event when it was kept.
    pub failures: Vec<(ConnectorError, Option<SourceEvent>)>,
}

impl TransformedBatch {
    /// Applies `transform` to each event in order and collects the outcomes.
    pub async fn collect<F, Fut>(
        events: Vec<SourceEvent>,
        keep_originals: bool,
        mut transform: F,
    ) -> Self
    where
        F: FnMut(SourceEvent) -> Fut,
        Fut: std::future::Future<Output = Result<TransformOutput>>,
    {
        let mut out = Self {
            events: Vec::with_capacity(events.len()),
            ..Self::default()
        };
        for event in events {
            let original = keep_originals.then(|| event.clone());
            out.record(transform(event).await, original);
        }
        out
    }

    /// Applies an in-place transform ([`Transform::transform_in_place`]) to
    /// each event in order, keeping the kept events where they are. `Err`
    /// gives the batch back untouched when the transform has no in-place form
    /// (its answer for the first event).
    pub fn in_place<F>(
        mut events: Vec<SourceEvent>,
        keep_originals: bool,
        mut transform: F,
    ) -> std::result::Result<Self, Vec<SourceEvent>>
    where
        F: FnMut(&mut SourceEvent) -> Option<Result<bool>>,
    {
        let mut out = Self::default();
        let mut kept = 0;
        for i in 0..events.len() {
            let original = keep_originals.then(|| events[i].clone());
            match transform(&mut events[i]) {
                None if i == 0 => return Err(events),
                None => {
                    // A transform must answer for every event or for none;
                    // the event is untouched, so it goes to `on_error` whole.
                    let error = ConnectorError::fatal(
                        "the transform has no in-place result for this event, though it had one \
                         for the batch's first event",
                    );
                    out.failures.push((error, Some(events[i].clone())));
                }
                Some(Ok(true)) => {
                    if kept != i {
                        events.swap(kept, i);
                    }
                    kept += 1;
                }
                Some(Ok(false)) => out.dropped += 1,
                Some(Err(error)) => out.failures.push((error, original)),
            }
        }
        events.truncate(kept);
        out.events = events;
        Ok(out)
    }

    /// Adds one event's outcome.
    pub fn record(&mut self, outcome: Result<TransformOutput>, original: Option<SourceEvent>) {
        match outcome {
            Ok(TransformOutput::Drop) => self.dropped += 1,
            Ok(output) => output.extend_into(&mut self.events),
            Err(error) => self.failures.push((error, original)),
        }
    }
}

/// A [`Source`] paired with its config and catalog.
pub struct SourceAdapter<S: Source> {
    source: S,
    config: S::Config,
    catalog: ConfiguredCatalog,
}

impl<S: Source> SourceAdapter<S> {
    /// Pair `source` with `config`, reading every stream.
    pub fn new(source: S, config: S::Config) -> Self {
        Self {
            source,
            config,
            catalog: ConfiguredCatalog::default(),
        }
    }

    /// Restrict reading to `catalog`.
    pub fn with_catalog(mut self, catalog: ConfiguredCatalog) -> Self {
        self.catalog = catalog;
        self
    }
}

impl<S: Source> fmt::Debug for SourceAdapter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The config is deliberately not printed: it may hold secrets.
        f.debug_struct("SourceAdapter")
            .field("connector", &std::any::type_name::<S>())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<S: Source> AnySource for SourceAdapter<S> {
    fn spec(&self) -> ConnectorSpec {
        S::spec()
    }
    async fn check(&self) -> Result<CheckResult> {
        self.source.check(&self.config).await
    }
    async fn discover(&self) -> Result<Catalog> {
        self.source.discover(&self.config).await
    }
    async fn read(&self, state: Option<State>) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        self.source.read(&self.config, &self.catalog, state).await
    }
    async fn read_catalog(
        &self,
        catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        self.source.read(&self.config, catalog, state).await
    }
    async fn commit(&self, state: &State) -> Result<()> {
        self.source.commit(&self.config, state).await
    }
    fn exclusive_resource(&self) -> Option<String> {
        self.source.exclusive_resource(&self.config)
    }
}

/// A [`Sink`] paired with its config; each batch goes to [`Sink::write_borrowed`].
pub struct SinkAdapter<K: Sink> {
    sink: K,
    config: K::Config,
}

impl<K: Sink> SinkAdapter<K> {
    /// Pair `sink` with `config`.
    pub fn new(sink: K, config: K::Config) -> Self {
        Self { sink, config }
    }
}

impl<K: Sink> fmt::Debug for SinkAdapter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkAdapter")
            .field("connector", &std::any::type_name::<K>())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<K: Sink> AnySink for SinkAdapter<K> {
    fn spec(&self) -> ConnectorSpec {
        K::spec()
    }
    async fn check(&self) -> Result<CheckResult> {
        self.sink.check(&self.config).await
    }
    fn batch_config(&self) -> Option<BatchConfig> {
        None
    }
    async fn write(&self, events: &[SourceEvent]) -> Result<WriteResult> {
        self.sink.write_borrowed(&self.config, events).await
    }
    fn exclusive_resource(&self) -> Option<String> {
        self.sink.exclusive_resource(&self.config)
    }
    fn stores_position(&self) -> bool {
        self.sink.stores_position(&self.config)
    }
    async fn committed_position(&self) -> Result<Option<State>> {
        self.sink.committed_position(&self.config).await
    }
    async fn write_with_position(
        &self,
        events: &[SourceEvent],
        position: &State,
    ) -> Result<WriteResult> {
        self.sink
            .write_with_position(&self.config, events, position)
            .await
    }
    async fn flush(&self) -> Result<WriteResult> {
        self.sink.flush(&self.config).await
    }
    fn discard_pending(&self) {
        self.sink.discard_pending(&self.config)
    }
}

/// A [`BatchSink`] paired with its config; batches go to `write_batch`.
pub struct BatchSinkAdapter<K: BatchSink> {
    sink: K,
    config: K::Config,
}

impl<K: BatchSink> BatchSinkAdapter<K> {
    /// Pair `sink` with `config`.
    pub fn new(sink: K, config: K::Config) -> Self {
        Self { sink, config }
    }
}

impl<K: BatchSink> fmt::Debug for BatchSinkAdapter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchSinkAdapter")
            .field("connector", &std::any::type_name::<K>())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<K: BatchSink> AnySink for BatchSinkAdapter<K> {
    fn spec(&self) -> ConnectorSpec {
        K::spec()
    }
    async fn check(&self) -> Result<CheckResult> {
        self.sink.check(&self.config).await
    }
    fn batch_config(&self) -> Option<BatchConfig> {
        Some(self.sink.batch_config(&self.config))
    }
    async fn write(&self, events: &[SourceEvent]) -> Result<WriteResult> {
        self.sink.write_batch_borrowed(&self.config, events).await
    }
    fn exclusive_resource(&self) -> Option<String> {
        self.sink.exclusive_resource(&self.config)
    }
    fn stores_position(&self) -> bool {
        self.sink.stores_position(&self.config)
    }
    async fn committed_position(&self) -> Result<Option<State>> {
        self.sink.committed_position(&self.config).await
    }
    async fn write_with_position(
        &self,
        events: &[SourceEvent],
        position: &State,
    ) -> Result<WriteResult> {
        self.sink
            .write_with_position(&self.config, events, position)
            .await
    }
    async fn flush(&self) -> Result<WriteResult> {
        self.sink.flush(&self.config).await
    }
    fn discard_pending(&self) {
        self.sink.discard_pending(&self.config)
    }
}

/// A [`Transform`] paired with its config.
pub struct TransformAdapter<T: Transform> {
    transform: T,
    config: T::Config,
}

impl<T: Transform> TransformAdapter<T> {
    /// Pair `transform` with `config`.
    pub fn new(transform: T, config: T::Config) -> Self {
        Self { transform, config }
    }
}

impl<T: Transform> fmt::Debug for TransformAdapter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransformAdapter")
            .field("transform", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<T: Transform> AnyTransform for TransformAdapter<T> {
    fn spec(&self) -> ConnectorSpec {
        T::spec()
    }
    async fn transform(&self, event: SourceEvent) -> Result<TransformOutput> {
        self.transform.transform(&self.config, event).await
    }
    async fn transform_batch(
        &self,
        events: Vec<SourceEvent>,
        keep_originals: bool,
    ) -> TransformedBatch {
        // In place where the transform can (no event moved through a future),
        // else straight to the connector: no boxed future of this trait per event.
        let config = &self.config;
        match TransformedBatch::in_place(events, keep_originals, |e| {
            self.transform.transform_in_place(config, e)
        }) {
            Ok(done) => done,
            Err(events) => {
                TransformedBatch::collect(events, keep_originals, |e| {
                    self.transform.transform(config, e)
                })
                .await
            }
        }
    }
}
