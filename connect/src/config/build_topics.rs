//! Building the publisher and subscriber pipelines of topics: embedded
//! ([`TopicSink`](crate::runtime::topics::TopicSink), [`TopicSource`]) or on the broker (the `rivven` connectors).

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::build::settings;
use super::model::PipelineSpec;
use super::ConnectConfig;
use crate::error::{ConnectorError, Result};
use crate::registry::Registry;
use crate::runtime::topics::{Topic, TopicSource, TopicStorage};
use crate::runtime::{AnySink, AnySource, MemoryOffsetStore, Pipeline};

/// The broker connectors' name in the registry.
const BROKER_CONNECTOR: &str = "rivven";

impl ConnectConfig {
    /// `source` (with its own transforms) appending to `topic`.
    pub(super) fn publisher(
        &self,
        registry: &Registry,
        name: &str,
        source_name: &str,
        topic: &str,
        topics: &BTreeMap<String, Arc<Topic>>,
    ) -> Result<Pipeline> {
        let source = self.sources.get(source_name).ok_or_else(|| {
            ConnectorError::configuration(format!("pipeline `{name}`: no source `{source_name}`"))
        })?;
        let mut p = Pipeline::builder(name).any_source(source_name, self.source(registry, source)?);
        for (i, t) in source.transforms.iter().enumerate() {
            let (label, transform) = self.transform(registry, t, i)?;
            p = p.any_transform(label, transform);
        }
        match topics.get(topic) {
            Some(embedded) => p.topic_sink(embedded.clone()),
            None => p.any_sink(
                format!("topic:{topic}"),
                self.broker_sink(registry, name, source, topic)?,
            ),
        }
        .build()
    }

    /// The `rivven` sink producing `source`'s events to broker topic `topic`.
    fn broker_sink(
        &self,
        registry: &Registry,
        name: &str,
        source: &super::SourceSpec,
        topic: &str,
    ) -> Result<Arc<dyn AnySink>> {
        let mut config = self.broker_config(name)?;
        let t = &self.topics;
        let overrides = source.topic_config;
        config.insert("topic".into(), json!(topic));
        config.insert(
            "auto_create".into(),
            json!(overrides
                .and_then(|o| o.auto_create)
                .unwrap_or(t.auto_create)),
        );
        config.insert(
            "partitions".into(),
            json!(overrides
                .and_then(|o| o.partitions)
                .unwrap_or(t.default_partitions)),
        );
        config.insert(
            "replication_factor".into(),
            json!(overrides
                .and_then(|o| o.replication_factor)
                .unwrap_or(t.default_replication_factor)),
        );
        config.insert("require_topic_exists".into(), json!(t.require_topic_exists));
        config.insert("validate_existing".into(), json!(t.validate_existing));
        let entry = registry
            .sink(BROKER_CONNECTOR)
            .ok_or_else(|| no_broker(name))?;
        entry
            .build(Value::Object(config))
            .map_err(|e| e.context(format!("pipeline `{name}`: broker")))
    }

    /// With `broker.bootstrap_servers`: the broker sink of every source with a
    /// `topic`, by topic, for `check` (connectivity, topic existence,
    /// `validate_existing`).
    pub fn broker_checks(&self, registry: &Registry) -> Vec<(String, Result<Arc<dyn AnySink>>)> {
        if self.broker_servers().is_none() {
            return Vec::new();
        }
        self.sources
            .iter()
            .filter_map(|(name, s)| {
                let topic = s.topic.as_ref()?;
                let sink =
                    self.broker_sink(registry, &format!("{name}-to-topic-{topic}"), s, topic);
                Some((topic.clone(), sink))
            })
            .collect()
    }

    /// `topics` read as consumer `group` into `spec.sink`.
    pub(super) fn subscriber(
        &self,
        registry: &Registry,
        name: &str,
        read: &[String],
        group: &str,
        spec: &PipelineSpec,
        topics: &BTreeMap<String, Arc<Topic>>,
    ) -> Result<Pipeline> {
        let sink = self.sinks.get(&spec.sink).ok_or_else(|| {
            ConnectorError::configuration(format!("pipeline `{name}`: no sink `{}`", spec.sink))
        })?;
        let label = format!("topic:{}", read.join("+"));
        let mut settings = settings(spec, sink);
        let mut p = Pipeline::builder(name);
        if self.broker_servers().is_some() {
            let [topic] = read else {
                return Err(ConnectorError::configuration(format!(
                    "pipeline `{name}`: sink `{}` reads {} broker topics; with a broker, a sink \
                     subscribes to one topic (add one sink per topic)",
                    spec.sink,
                    read.len()
                )));
            };
            let mut config = self.broker_config(name)?;
            config.insert("topic".into(), json!(topic));
            config.insert("consumer_group".into(), json!(group));
            let entry = registry
                .source(BROKER_CONNECTOR)
                .ok_or_else(|| no_broker(name))?;
            let source: Arc<dyn AnySource> = entry
                .build(Value::Object(config))
                .map_err(|e| e.context(format!("pipeline `{name}`: broker")))?;
            p = p.any_source(label, source);
        } else {
            let mut embedded = Vec::with_capacity(read.len());
            for t in read {
                let topic = topics.get(t).ok_or_else(|| {
                    ConnectorError::configuration(format!(
                        "pipeline `{name}` subscribes to topic `{t}`, which no source publishes \
                         (and no `broker` is configured)"
                    ))
                })?;
                p = p.subscribes(topic.clone());
                embedded.push(topic.clone());
            }
            if embedded.iter().all(|t| t.storage() == TopicStorage::Memory) {
                // A memory topic's cursor means nothing after the process
                // ends, and each commit frees room in the topic: commit at
                // once, in memory.
                p = p.offset_store(Arc::new(MemoryOffsetStore::new()));
                if spec.settings.checkpoint_interval_ms.is_none() {
                    settings = settings.with_checkpoint_interval(Duration::ZERO);
                }
            }
            p = p.any_source(label, Arc::new(TopicSource::new(embedded, group)));
        }
        self.finish_pipeline(registry, name, p, spec, 0, settings)
    }

    /// The `broker:` section as a connector config object.
    fn broker_config(&self, name: &str) -> Result<Map<String, Value>> {
        match self.broker.as_ref().map(|b| b.value()) {
            Some(Value::Object(map)) => Ok(map.clone()),
            _ => Err(ConnectorError::configuration(format!(
                "pipeline `{name}`: `broker` must be a mapping with `bootstrap_servers`"
            ))),
        }
    }
}

fn no_broker(name: &str) -> ConnectorError {
    ConnectorError::configuration(format!(
        "pipeline `{name}`: `broker.bootstrap_servers` is set, but this build has no `{BROKER_CONNECTOR}` \
         connector (cargo feature `rivven` of rivven-connect-cli)"
    ))
}
