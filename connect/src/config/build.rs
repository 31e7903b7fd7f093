//! Turning a validated [`ConnectConfig`] into runtime pipelines.

use async_trait::async_trait;
use futures::stream::BoxStream;
use std::sync::Arc;
use std::time::Duration;

use super::model::{PipelineSpec, SinkSpec, SourceSpec, TransformRef};
use super::topology::PlannedPipeline;
use super::ConnectConfig;
use crate::catalog::{Catalog, ConfiguredCatalog, ConfiguredStream, Stream, SyncMode};
use crate::check::CheckResult;
use crate::connector::BatchConfig;
use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use crate::registry::Registry;
use crate::runtime::topics::Topic;
use crate::runtime::{
    AnySource, AnyTransform, FileOffsetStore, MemoryOffsetStore, OffsetStore, Pipeline,
    PipelineSettings, RestartPolicy, Runtime, RuntimeBuilder,
};
use crate::spec::ConnectorSpec;
use crate::state::State;
use std::collections::BTreeMap;

use super::diagnostics::Diagnostic;
use super::model::OffsetBackend;
use super::tree::Node;
use crate::runtime::exclusive;

impl ConnectConfig {
    /// The runtime's HTTP endpoint at `http.address`.
    #[cfg(feature = "http")]
    fn with_http(&self, builder: RuntimeBuilder) -> Result<RuntimeBuilder> {
        Ok(builder.http(self.http.address.clone()))
    }

    /// Without the `http` feature an enabled endpoint is a configuration
    /// error, not silently missing.
    #[cfg(not(feature = "http"))]
    fn with_http(&self, _: RuntimeBuilder) -> Result<RuntimeBuilder> {
        Err(crate::ConnectorError::config(format!(
            "http.enabled: this build of rivven-connect has no HTTP endpoint (cargo feature \
             `http`); enable the feature or set `http.enabled: false` (address {})",
            self.http.address
        )))
    }

    /// A runtime builder with every enabled pipeline, the configured offset
    /// store and, with `http.enabled`, the HTTP endpoint. Connectors are
    /// built from `registry`.
    pub fn runtime_builder(&self, registry: &Registry) -> Result<RuntimeBuilder> {
        let mut builder = Runtime::builder().data_dir(&self.data_dir);
        builder = builder.offset_store(self.offset_store());
        if self.http.enabled {
            builder = self.with_http(builder)?;
        }
        for p in self.planned_pipelines(registry, true)? {
            builder = builder.add_pipeline(p);
        }
        Ok(builder)
    }

    /// Pipelines that would share an exclusive resource (a sink's target, a
    /// source's upstream cursor) or one offset-store key, as diagnostics at the
    /// second user's definition. Connectors that do not build are left to
    /// `run`, which reports them.
    pub(crate) fn shared_resources(&self, registry: &Registry, tree: &Node) -> Vec<Diagnostic> {
        let plans = self.enabled_pipelines();
        let mut out: Vec<Diagnostic> = Vec::new();
        let topics = if self.broker_servers().is_some() {
            BTreeMap::new()
        } else {
            match self.embedded_topics(&plans, false) {
                Ok(topics) => topics,
                Err(e) => {
                    out.push(Diagnostic::new(
                        "topics",
                        Some(tree.locate(["sinks"])),
                        e.message(),
                    ));
                    BTreeMap::new()
                }
            }
        };
        let pipelines: Vec<Pipeline> = plans
            .iter()
            .filter_map(|(name, plan)| self.planned(registry, name, plan, &topics).ok())
            .collect();
        out.extend(exclusive::conflicts(&pipelines).into_iter().map(|c| {
            let path = [c.second.role.section(), c.second.name.as_str()];
            Diagnostic::new(path.join("."), Some(tree.locate(path)), c.to_string())
        }));
        let store = self.offset_store();
        out.extend(
            exclusive::shared_offsets(store.as_ref(), &pipelines)
                .into_iter()
                .map(|shared| {
                    let path = ["pipelines", shared.second.as_str()];
                    Diagnostic::new(path.join("."), Some(tree.locate(path)), shared.to_string())
                }),
        );
        out
    }

    /// The configured offset store.
    pub fn offset_store(&self) -> Arc<dyn OffsetStore> {
        match self.offsets.backend {
            OffsetBackend::Memory => Arc::new(MemoryOffsetStore::new()),
            OffsetBackend::File => Arc::new(FileOffsetStore::new(
                self.offsets
                    .dir
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("offsets")),
            )),
        }
    }

    /// Every enabled pipeline, built (`open_files: false` keeps embedded
    /// topics in memory, for checks that must not touch the data directory).
    pub fn planned_pipelines(
        &self,
        registry: &Registry,
        open_files: bool,
    ) -> Result<Vec<Pipeline>> {
        let plans = self.enabled_pipelines();
        let topics = if self.broker_servers().is_some() {
            BTreeMap::new()
        } else {
            self.embedded_topics(&plans, open_files)?
        };
        plans
            .iter()
            .map(|(name, plan)| self.planned(registry, name, plan, &topics))
            .collect()
    }

    fn planned(
        &self,
        registry: &Registry,
        name: &str,
        plan: &PlannedPipeline,
        topics: &BTreeMap<String, Arc<Topic>>,
    ) -> Result<Pipeline> {
        match plan {
            PlannedPipeline::Direct(spec) => self.pipeline(registry, name, spec),
            PlannedPipeline::Publisher { source, topic } => {
                self.publisher(registry, name, source, topic, topics)
            }
            PlannedPipeline::Subscriber {
                topics: read,
                group,
                spec,
            } => self.subscriber(registry, name, read, group, spec, topics),
        }
    }

    /// Build one pipeline.
    pub fn pipeline(
        &self,
        registry: &Registry,
        name: &str,
        spec: &PipelineSpec,
    ) -> Result<Pipeline> {
        let source = self.sources.get(&spec.source).ok_or_else(|| {
            ConnectorError::configuration(format!("pipeline `{name}`: no source `{}`", spec.source))
        })?;
        let sink = self.sinks.get(&spec.sink).ok_or_else(|| {
            ConnectorError::configuration(format!("pipeline `{name}`: no sink `{}`", spec.sink))
        })?;
        let mut p =
            Pipeline::builder(name).any_source(&spec.source, self.source(registry, source)?);
        for (i, t) in source.transforms.iter().enumerate() {
            let (label, transform) = self.transform(registry, t, i)?;
            p = p.any_transform(label, transform);
        }
        self.finish_pipeline(
            registry,
            name,
            p,
            spec,
            source.transforms.len(),
            settings(spec, sink),
        )
    }

    /// The rest of a pipeline after its source (and the source's own
    /// transforms, `first_index` of them): `spec`'s transforms, its sink and
    /// dead-letter sink, and `settings`.
    pub(super) fn finish_pipeline(
        &self,
        registry: &Registry,
        name: &str,
        mut p: crate::runtime::PipelineBuilder,
        spec: &PipelineSpec,
        first_index: usize,
        settings: PipelineSettings,
    ) -> Result<Pipeline> {
        let sink = self.sinks.get(&spec.sink).ok_or_else(|| {
            ConnectorError::configuration(format!("pipeline `{name}`: no sink `{}`", spec.sink))
        })?;
        for (i, t) in spec.transforms.iter().enumerate() {
            let (label, transform) = self.transform(registry, t, first_index + i)?;
            p = p.any_transform(label, transform);
        }
        p = p.any_sink(&spec.sink, build_sink(registry, sink)?);
        if let Some(dlq) = &spec.settings.dead_letter {
            let dlq_spec = self.sinks.get(dlq).ok_or_else(|| {
                ConnectorError::configuration(format!(
                    "pipeline `{name}`: no dead-letter sink `{dlq}`"
                ))
            })?;
            p = p.any_dead_letter(dlq, build_sink(registry, dlq_spec)?);
        }
        p.settings(settings).build()
    }

    pub(super) fn source(
        &self,
        registry: &Registry,
        spec: &SourceSpec,
    ) -> Result<Arc<dyn AnySource>> {
        let entry = registry.source(&spec.connector).ok_or_else(|| {
            ConnectorError::configuration(format!("unknown source connector `{}`", spec.connector))
        })?;
        let inner = entry.build(spec.config.value().clone())?;
        if spec.streams.is_empty() {
            return Ok(inner);
        }
        let catalog = ConfiguredCatalog {
            streams: spec
                .streams
                .iter()
                .map(|s| {
                    let mut stream = Stream::new(&s.name, serde_json::json!({"type": "object"}));
                    if let Some(ns) = &s.namespace {
                        stream = stream.with_namespace(ns);
                    }
                    let mut configured =
                        ConfiguredStream::new(stream, s.sync_mode.unwrap_or(SyncMode::FullRefresh));
                    if let Some(cursor) = &s.cursor_field {
                        configured.cursor_field = vec![cursor.clone()];
                    }
                    configured
                })
                .collect(),
        };
        Ok(Arc::new(SelectedStreams { inner, catalog }))
    }

    pub(super) fn transform(
        &self,
        registry: &Registry,
        t: &TransformRef,
        index: usize,
    ) -> Result<(String, Arc<dyn AnyTransform>)> {
        let (label, spec) = match t {
            TransformRef::Name(name) => {
                let spec = self.transforms.get(name).ok_or_else(|| {
                    ConnectorError::configuration(format!("no transform named `{name}`"))
                })?;
                (name.clone(), spec)
            }
            TransformRef::Inline(spec) => (format!("{}#{index}", spec.kind), spec),
        };
        let entry = registry.transform(&spec.kind).ok_or_else(|| {
            ConnectorError::configuration(format!("unknown transform type `{}`", spec.kind))
        })?;
        Ok((label, entry.build(spec.config.value().clone())?))
    }
}

pub(super) fn build_sink(
    registry: &Registry,
    spec: &SinkSpec,
) -> Result<Arc<dyn crate::runtime::AnySink>> {
    let entry = registry.sink(&spec.connector).ok_or_else(|| {
        ConnectorError::configuration(format!("unknown sink connector `{}`", spec.connector))
    })?;
    entry.build(spec.config.value().clone())
}

/// Pipeline settings from the pipeline's `settings:` and its sink's `batch:`/`rate_limit:`.
pub(super) fn settings(spec: &PipelineSpec, sink: &SinkSpec) -> PipelineSettings {
    let s = &spec.settings;
    let mut out = PipelineSettings::default();
    if let Some(n) = s.batch_size {
        out = out.with_batch_size(n);
    }
    if let Some(ms) = s.linger_ms {
        out = out.with_linger(Duration::from_millis(ms));
    }
    if let Some(n) = s.max_in_flight_bytes {
        out = out.with_max_in_flight_bytes(n);
    }
    if let Some(n) = s.max_in_flight_batches {
        out = out.with_max_in_flight_batches(n);
    }
    if let Some(limit) = sink.rate_limit {
        out = out
            .with_rate_limit(limit.events_per_second)
            .with_rate_limit_burst(limit.burst_capacity);
    }
    if let Some(rate) = s.rate_limit {
        out = out.with_rate_limit(rate);
    }
    if let Some(burst) = s.rate_limit_burst {
        out = out.with_rate_limit_burst(burst);
    }
    if let Some(on_error) = s.on_error {
        out = out.with_on_error(on_error);
    }
    if let Some(ms) = s.checkpoint_interval_ms {
        out = out.with_checkpoint_interval(Duration::from_millis(ms));
    }
    if let Some(check) = s.check_before_start {
        out = out.with_check_before_start(check);
    }
    if let Some(batch) = sink.batch {
        out = out.with_sink_batch(BatchConfig::new(batch.max_records, batch.timeout_ms));
    }
    if let Some(r) = s.restart {
        let mut policy = RestartPolicy::default();
        if let Some(ms) = r.initial_backoff_ms {
            policy.initial_backoff = Duration::from_millis(ms);
        }
        if let Some(ms) = r.max_backoff_ms {
            policy.max_backoff = Duration::from_millis(ms);
        }
        if let Some(n) = r.max_consecutive_failures {
            policy.max_consecutive_failures = n;
        }
        out = out.with_restart(policy);
    }
    out
}

/// A source reading only the configured `streams:`.
struct SelectedStreams {
    inner: Arc<dyn AnySource>,
    catalog: ConfiguredCatalog,
}

#[async_trait]
impl AnySource for SelectedStreams {
    fn spec(&self) -> ConnectorSpec {
        self.inner.spec()
    }
    async fn check(&self) -> Result<CheckResult> {
        self.inner.check().await
    }
    async fn discover(&self) -> Result<Catalog> {
        self.inner.discover().await
    }
    async fn read(&self, state: Option<State>) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        self.inner.read_catalog(&self.catalog, state).await
    }
    async fn commit(&self, state: &State) -> Result<()> {
        self.inner.commit(state).await
    }
    fn exclusive_resource(&self) -> Option<String> {
        self.inner.exclusive_resource()
    }
}
