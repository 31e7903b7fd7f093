//! [`Pipeline`]: one source, its transforms in order, one sink, an optional dead-letter sink.

use std::fmt;
use std::sync::Arc;

use super::any::{
    AnySink, AnySource, AnyTransform, BatchSinkAdapter, SinkAdapter, SourceAdapter,
    TransformAdapter,
};
use super::settings::{OnError, PipelineSettings};
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
}

/// Builder for [`Pipeline`]; pass it to `RuntimeBuilder::pipeline`.
pub struct PipelineBuilder {
    name: String,
    source: Option<Named<dyn AnySource>>,
    transforms: Vec<Named<dyn AnyTransform>>,
    sink: Option<Named<dyn AnySink>>,
    dead_letter: Option<Named<dyn AnySink>>,
    settings: PipelineSettings,
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
        })
    }
}
