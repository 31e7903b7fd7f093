//! [`Pipeline`]: one source, its transforms in order, one sink, an optional dead-letter sink.

use std::fmt;
use std::sync::Arc;

use super::any::{
    AnySink, AnySource, AnyTransform, BatchSinkAdapter, SinkAdapter, SourceAdapter,
    TransformAdapter,
};
use super::offset_store::OffsetStore;
use super::settings::{OnError, PipelineSettings};
use super::topics::{Topic, TopicStorage};
use crate::connector::{BatchSink, Sink, Source, Transform};
use crate::error::{ConnectorError, Result};

/// A named stage of a pipeline (used in logs, status and dead-letter envelopes).
pub(crate) struct Named<T: ?Sized> {
    pub(crate) name: String,
    pub(crate) inner: Arc<T>,
}

impl<T: ?Sized> Clone for Named<T> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            inner: self.inner.clone(),
        }
    }
}

/// A validated pipeline definition, ready to run.
#[derive(Clone)]
pub struct Pipeline {
    pub(crate) name: String,
    pub(crate) source: Named<dyn AnySource>,
    pub(crate) transforms: Vec<Named<dyn AnyTransform>>,
    pub(crate) sink: Named<dyn AnySink>,
    pub(crate) dead_letter: Option<Named<dyn AnySink>>,
    pub(crate) settings: PipelineSettings,
    /// Topics this pipeline appends to: told when it has finished for good.
    pub(crate) publishes: Vec<Arc<Topic>>,
    /// Topics this pipeline reads as a consumer group.
    pub(crate) subscribes: Vec<Arc<Topic>>,
    /// Its own offset store instead of the runtime's.
    pub(crate) store: Option<Arc<dyn OffsetStore>>,
    /// Its sink is this topic's [`TopicSink`](super::topics::TopicSink): the
    /// sink actor hands the topic its batches by value (no copy).
    pub(crate) appends_to: Option<Arc<Topic>>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("name", &self.name)
            .field("source", &self.source.name)
            .field(
                "transforms",
                &self.transforms.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .field("sink", &self.sink.name)
            .field("dead_letter", &self.dead_letter.as_ref().map(|d| &d.name))
            .field("settings", &self.settings)
            .finish()
    }
}

impl Pipeline {
    /// Start describing a pipeline called `name`.
    pub fn builder(name: impl Into<String>) -> PipelineBuilder {
        PipelineBuilder {
            name: name.into(),
            source: None,
            transforms: Vec::new(),
            sink: None,
            dead_letter: None,
            settings: PipelineSettings::default(),
            publishes: Vec::new(),
            subscribes: Vec::new(),
            store: None,
            appends_to: None,
        }
    }

    /// The pipeline's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pipeline's settings.
    pub fn settings(&self) -> &PipelineSettings {
        &self.settings
    }

    /// The topics it appends to and reads from.
    pub(crate) fn topics(&self) -> impl Iterator<Item = &Arc<Topic>> {
        self.publishes.iter().chain(&self.subscribes)
    }

    /// It reads a memory topic: at shutdown it drains the topic (until every
    /// publisher has finished) instead of stopping, so the publishers' last
    /// events are acknowledged.
    pub(crate) fn drains_topics(&self) -> bool {
        self.subscribes
            .iter()
            .any(|t| t.storage() == TopicStorage::Memory)
    }
}

/// Builder for [`Pipeline`]; pass it to `RuntimeBuilder::pipeline`.
pub struct PipelineBuilder {
    name: String,
    source: Option<Named<dyn AnySource>>,
    transforms: Vec<Named<dyn AnyTransform>>,
    sink: Option<Named<dyn AnySink>>,
    dead_letter: Option<Named<dyn AnySink>>,
    settings: PipelineSettings,
    publishes: Vec<Arc<Topic>>,
    subscribes: Vec<Arc<Topic>>,
    store: Option<Arc<dyn OffsetStore>>,
    appends_to: Option<Arc<Topic>>,
}

impl fmt::Debug for PipelineBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl PipelineBuilder {
    /// The source and its config.
    pub fn source<S: Source>(self, source: S, config: S::Config) -> Self {
        let name = S::spec().name;
        self.any_source(name, Arc::new(SourceAdapter::new(source, config)))
    }

    /// A type-erased source (from a registry), named `name` in logs and status.
    pub fn any_source(mut self, name: impl Into<String>, source: Arc<dyn AnySource>) -> Self {
        self.source = Some(Named {
            name: name.into(),
            inner: source,
        });
        self
    }

    /// Append a transform.
    pub fn transform<T: Transform>(self, transform: T, config: T::Config) -> Self {
        let name = T::spec().name;
        self.any_transform(name, Arc::new(TransformAdapter::new(transform, config)))
    }

    /// Append a type-erased transform.
    pub fn any_transform(
        mut self,
        name: impl Into<String>,
        transform: Arc<dyn AnyTransform>,
    ) -> Self {
        self.transforms.push(Named {
            name: name.into(),
            inner: transform,
        });
        self
    }

    /// The sink and its config (batched by the pipeline's `sink_batch` setting).
    pub fn sink<K: Sink>(self, sink: K, config: K::Config) -> Self {
        let name = K::spec().name;
        self.any_sink(name, Arc::new(SinkAdapter::new(sink, config)))
    }

    /// A [`BatchSink`] and its config (batched by its own `batch_config`).
    pub fn batch_sink<K: BatchSink>(self, sink: K, config: K::Config) -> Self {
        let name = K::spec().name;
        self.any_sink(name, Arc::new(BatchSinkAdapter::new(sink, config)))
    }

    /// A type-erased sink.
    pub fn any_sink(mut self, name: impl Into<String>, sink: Arc<dyn AnySink>) -> Self {
        self.sink = Some(Named {
            name: name.into(),
            inner: sink,
        });
        self
    }

    /// The dead-letter sink (used with `on_error: dead_letter`).
    pub fn dead_letter<K: Sink>(self, sink: K, config: K::Config) -> Self {
        let name = K::spec().name;
        self.any_dead_letter(name, Arc::new(SinkAdapter::new(sink, config)))
    }

    /// A type-erased dead-letter sink.
    pub fn any_dead_letter(mut self, name: impl Into<String>, sink: Arc<dyn AnySink>) -> Self {
        self.dead_letter = Some(Named {
            name: name.into(),
            inner: sink,
        });
        self
    }

    /// Keep this pipeline's offsets in `store` rather than the runtime's.
    pub fn offset_store(mut self, store: Arc<dyn OffsetStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The pipeline publishes to `topic` (its sink is a
    /// [`TopicSink`](super::topics::TopicSink)): when it has finished for good,
    /// the topic is told, and closes once all its publishers have.
    pub fn publishes(mut self, topic: Arc<Topic>) -> Self {
        self.publishes.push(topic);
        self
    }

    /// The pipeline's sink appends to `topic` (a publisher pipeline).
    pub(crate) fn topic_sink(mut self, topic: Arc<Topic>) -> Self {
        let sink = Arc::new(super::topics::TopicSink::new(topic.clone()));
        self = self
            .publishes(topic.clone())
            .any_sink(format!("topic:{}", topic.name()), sink);
        self.appends_to = Some(topic);
        self
    }

    /// The pipeline reads `topic` (its source is a
    /// [`TopicSource`](super::topics::TopicSource)); with memory storage it
    /// drains the topic at shutdown.
    pub fn subscribes(mut self, topic: Arc<Topic>) -> Self {
        self.subscribes.push(topic);
        self
    }

    /// Settings.
    pub fn settings(mut self, settings: PipelineSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Validate and build. Errors name the pipeline and what is missing.
    pub fn build(self) -> Result<Pipeline> {
        let name = self.name;
        if name.trim().is_empty() {
            return Err(ConnectorError::configuration(
                "pipeline name must not be empty",
            ));
        }
        let source = self.source.ok_or_else(|| {
            ConnectorError::configuration(format!("pipeline `{name}` has no source"))
        })?;
        let sink = self.sink.ok_or_else(|| {
            ConnectorError::configuration(format!("pipeline `{name}` has no sink"))
        })?;
        if self.settings.on_error == OnError::DeadLetter && self.dead_letter.is_none() {
            return Err(ConnectorError::configuration(format!(
                "pipeline `{name}`: on_error is dead_letter but no dead-letter sink is configured"
            )));
        }
        Ok(Pipeline {
            name,
            source,
            transforms: self.transforms,
            sink,
            dead_letter: self.dead_letter,
            settings: self.settings,
            publishes: self.publishes,
            subscribes: self.subscribes,
            store: self.store,
            appends_to: self.appends_to,
        })
    }
}
