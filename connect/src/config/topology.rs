//! Which pipelines a configuration runs: direct `pipelines:` entries, and
//! for every source with a `topic`, one publisher plus one subscriber per
//! consuming sink (or `pipelines:` entry naming the source).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::model::PipelineSpec;
use super::ConnectConfig;
use crate::error::{ConnectorError, Result};
use crate::runtime::topics::{Topic, TopicOptions, TopicStorage};

/// A pipeline `run` starts.
#[derive(Debug, Clone, PartialEq)]
pub enum PlannedPipeline {
    /// A `pipelines:` entry whose source has no `topic`.
    Direct(PipelineSpec),
    /// Reads `source` once and appends its events to `topic`.
    Publisher {
        /// The source (a key of `sources`).
        source: String,
        /// Its topic.
        topic: String,
    },
    /// Reads `topics` as consumer group `group` into `spec.sink`, with
    /// `spec`'s transforms and settings (`spec.source` names the publishing
    /// source when one `pipelines:` entry defines the subscriber).
    Subscriber {
        /// The topics read.
        topics: Vec<String>,
        /// The consumer group (a sink's `consumer_group` or name, or the pipeline's name).
        group: String,
        /// Sink, transforms and settings.
        spec: PipelineSpec,
    },
}

impl PlannedPipeline {
    /// The sink it writes to (a key of `sinks`), if any.
    pub fn sink(&self) -> Option<&str> {
        match self {
            Self::Direct(spec) | Self::Subscriber { spec, .. } => Some(&spec.sink),
            Self::Publisher { .. } => None,
        }
    }
}

impl ConnectConfig {
    /// The pipelines `run` starts, in configuration order: each enabled
    /// `pipelines:` entry (a subscriber when its source has a `topic`), then
    /// per source with a `topic` its publisher `<source>-to-topic-<topic>`, then
    /// per sink with `topics` its subscriber `<topics>-to-<sink>` (unless a
    /// `pipelines:` entry already wires the sink to that source).
    pub fn enabled_pipelines(&self) -> Vec<(String, PlannedPipeline)> {
        let mut out = Vec::new();
        for (name, p) in self.pipelines.iter().filter(|(_, p)| p.enabled) {
            let plan = match self.sources.get(&p.source).and_then(|s| s.topic.clone()) {
                Some(topic) => PlannedPipeline::Subscriber {
                    topics: vec![topic],
                    group: name.clone(),
                    spec: p.clone(),
                },
                None => PlannedPipeline::Direct(p.clone()),
            };
            out.push((name.clone(), plan));
        }
        for (source, spec) in &self.sources {
            if let Some(topic) = &spec.topic {
                out.push((
                    format!("{source}-to-topic-{topic}"),
                    PlannedPipeline::Publisher {
                        source: source.clone(),
                        topic: topic.clone(),
                    },
                ));
            }
        }
        for (sink_name, sink) in &self.sinks {
            let topics: Vec<String> = sink
                .topics
                .iter()
                .filter(|t| !self.wired_by_pipeline(sink_name, t))
                .cloned()
                .collect();
            if topics.is_empty() {
                continue;
            }
            out.push((
                format!("{}-to-{sink_name}", topics.join("+")),
                PlannedPipeline::Subscriber {
                    group: sink.consumer_group.clone().unwrap_or(sink_name.clone()),
                    spec: PipelineSpec {
                        source: String::new(),
                        sink: sink_name.clone(),
                        transforms: Vec::new(),
                        enabled: true,
                        settings: Default::default(),
                    },
                    topics,
                },
            ));
        }
        // An embedded topic nobody reads would only hold the source back.
        if self.broker_servers().is_none() {
            let read: Vec<String> = out
                .iter()
                .filter_map(|(_, p)| match p {
                    PlannedPipeline::Subscriber { topics, .. } => Some(topics.clone()),
                    _ => None,
                })
                .flatten()
                .collect();
            out.retain(|(_, p)| match p {
                PlannedPipeline::Publisher { topic, .. } => read.contains(topic),
                _ => true,
            });
        }
        out
    }

    /// An enabled `pipelines:` entry already writes `topic`'s source to `sink`.
    fn wired_by_pipeline(&self, sink: &str, topic: &str) -> bool {
        self.pipelines.values().any(|p| {
            p.enabled
                && p.sink == sink
                && self
                    .sources
                    .get(&p.source)
                    .is_some_and(|s| s.topic.as_deref() == Some(topic))
        })
    }

    /// The broker's bootstrap servers, when topics live on a broker.
    pub fn broker_servers(&self) -> Option<Vec<String>> {
        let servers = self.broker.as_ref()?.value().get("bootstrap_servers")?;
        let list: Vec<String> = servers
            .as_array()?
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        (!list.is_empty()).then_some(list)
    }

    /// The embedded topics of `plans`, with their consumer groups and
    /// publishers. `open_files: false` keeps every topic in memory (for
    /// checks that must not touch the data directory).
    pub(crate) fn embedded_topics(
        &self,
        plans: &[(String, PlannedPipeline)],
        open_files: bool,
    ) -> Result<BTreeMap<String, Arc<Topic>>> {
        let mut groups: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        let mut publishers: BTreeMap<&str, usize> = BTreeMap::new();
        for (name, plan) in plans {
            match plan {
                PlannedPipeline::Publisher { topic, .. } => {
                    *publishers.entry(topic).or_default() += 1;
                }
                PlannedPipeline::Subscriber { topics, group, .. } => {
                    for t in topics {
                        let entry = groups.entry(t).or_default();
                        if let Some((other, _)) = entry.iter().find(|(_, g)| g == group) {
                            return Err(ConnectorError::configuration(format!(
                                "pipelines `{other}` and `{name}` both read topic `{t}` as consumer \
                                 group `{group}`: a group has one cursor, so each would miss what the \
                                 other read; give one of the sinks its own `consumer_group`"
                            )));
                        }
                        entry.push((name, group));
                    }
                }
                PlannedPipeline::Direct(_) => {}
            }
        }
        let mut out = BTreeMap::new();
        for (topic, subscribers) in &groups {
            if !publishers.contains_key(topic) {
                let (pipeline, _) = subscribers[0];
                return Err(ConnectorError::configuration(format!(
                    "pipeline `{pipeline}` subscribes to topic `{topic}`, which no source publishes \
                     (and no `broker` is configured)"
                )));
            }
        }
        let t = &self.topics;
        for (topic, count) in publishers {
            let subscribers = groups.get(topic).map(Vec::as_slice).unwrap_or_default();
            let options = TopicOptions {
                storage: if open_files {
                    t.storage
                } else {
                    TopicStorage::Memory
                },
                capacity: t.capacity,
                dir: self.data_dir.join("topics"),
                segment_bytes: t.segment_bytes,
                retention_bytes: t.retention_bytes,
                retention: Duration::from_millis(t.retention_ms),
            };
            let names = subscribers.iter().map(|(_, g)| g.to_string());
            out.insert(
                topic.to_string(),
                Topic::open(topic, options, names, count)?,
            );
        }
        Ok(out)
    }
}
