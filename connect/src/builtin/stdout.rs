//! `stdout`: prints events, for debugging and demos.
//!
//! `format: json` (default) prints one JSON object per line — `pretty: true` indents it —
//! with `stream`, `event_type`, `namespace`, `key`, `timestamp` and `data` (plus
//! `metadata` with `include_metadata: true`); `format: text` prints
//! `<timestamp> <stream> <event_type> [key] <data>`.

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use validator::Validate;

use crate::check::CheckResult;
use crate::connector::{Sink, WriteResult};
use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::SinkConfig;

/// Output format of the `stdout` sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StdoutFormat {
    /// One JSON object per event.
    #[default]
    Json,
    /// A human-readable line per event.
    Text,
}

/// Configuration of the `stdout` sink.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SinkConfig,
)]
#[sink(
    name = "stdout",
    version = env!("CARGO_PKG_VERSION"),
    description = "Console output for debugging",
    category = "utility",
    tags = ["console", "debug"],
    connector = StdoutSink
)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {
    /// `json` or `text`.
    #[serde(default)]
    pub format: StdoutFormat,
    /// Indent JSON output.
    #[serde(default)]
    pub pretty: bool,
    /// Also print the event metadata (positions, state updates).
    #[serde(default)]
    pub include_metadata: bool,
}

type SharedWriter = Arc<Mutex<dyn Write + Send>>;

/// Prints events to standard output (or another writer, for tests and embedding).
#[derive(Clone)]
pub struct StdoutSink {
    writer: Option<SharedWriter>,
}

impl std::fmt::Debug for StdoutSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdoutSink")
            .field("custom_writer", &self.writer.is_some())
            .finish()
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl StdoutSink {
    /// A sink that writes to the process's standard output.
    pub fn new() -> Self {
        Self { writer: None }
    }

    /// A sink that writes to `writer` instead.
    pub fn with_writer(writer: Arc<Mutex<dyn Write + Send>>) -> Self {
        Self {
            writer: Some(writer),
        }
    }
}

/// Renders one event as configured (without the trailing newline).
pub(crate) fn render(config: &StdoutSinkConfig, event: &SourceEvent) -> Result<String> {
    match config.format {
        StdoutFormat::Json => {
            let mut value = json!({
                "stream": event.stream,
                "event_type": event.event_type,
                "timestamp": event.timestamp,
                "data": event.data,
            });
            if let Some(map) = value.as_object_mut() {
                if let Some(ns) = &event.namespace {
                    map.insert("namespace".into(), json!(ns));
                }
                if let Some(key) = &event.key {
                    map.insert("key".into(), key.clone());
                }
                if config.include_metadata {
                    map.insert("metadata".into(), serde_json::to_value(&event.metadata)?);
                }
            }
            let text = if config.pretty {
                serde_json::to_string_pretty(&value)?
            } else {
                serde_json::to_string(&value)?
            };
            Ok(text)
        }
        StdoutFormat::Text => {
            let event_type = serde_json::to_value(event.event_type)?;
            let mut line = format!(
                "{} {} {}",
                event.timestamp.to_rfc3339(),
                event.stream,
                event_type.as_str().unwrap_or("?")
            );
            if let Some(key) = &event.key {
                line.push_str(&format!(" key={key}"));
            }
            let data = match &event.data {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            line.push(' ');
            line.push_str(&data);
            Ok(line)
        }
    }
}

#[async_trait]
impl Sink for StdoutSink {
    type Config = StdoutSinkConfig;

    fn spec() -> ConnectorSpec {
        StdoutSinkConfigSpec::spec()
    }

    async fn check(&self, _config: &StdoutSinkConfig) -> Result<CheckResult> {
        CheckResult::builder().check_passed("stdout").build()
    }

    async fn write(
        &self,
        config: &StdoutSinkConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        self.write_borrowed(config, &events).await
    }

    async fn write_borrowed(
        &self,
        config: &StdoutSinkConfig,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        let mut result = WriteResult::new();
        let mut buffer = Vec::new();
        let mut written = 0u64;
        for (index, event) in events.iter().enumerate() {
            match render(config, event) {
                Ok(line) => {
                    buffer.extend_from_slice(line.as_bytes());
                    buffer.push(b'\n');
                    written += 1;
                }
                Err(e) => result.add_record_failure(index, &e),
            }
        }
        let io = |e: std::io::Error| ConnectorError::from(e).context("writing to stdout");
        match &self.writer {
            Some(writer) => {
                let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
                w.write_all(&buffer).map_err(io)?;
                w.flush().map_err(io)?;
            }
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(&buffer).map_err(io)?;
                out.flush().map_err(io)?;
            }
        }
        result.add_success(written, buffer.len() as u64);
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    async fn write_to_string(
        config: StdoutSinkConfig,
        events: Vec<SourceEvent>,
    ) -> (String, WriteResult) {
        let buf: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
        let sink = StdoutSink::with_writer(buf.clone());
        let result = sink
            .write(&config, stream::iter(events).boxed())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(buf.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        (text, result)
    }

    #[tokio::test]
    async fn json_lines_by_default() {
        let events = vec![
            SourceEvent::record("users", json!({"id": 1})).with_key(json!(1)),
            SourceEvent::record("users", json!({"id": 2})),
        ];
        let (text, result) = write_to_string(StdoutSinkConfig::default(), events).await;
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["data"], json!({"id": 1}));
        assert_eq!(lines[0]["key"], json!(1));
        assert_eq!(lines[1]["stream"], json!("users"));
        assert!(lines[0].get("metadata").is_none());
        assert_eq!(result.records_written, 2);
        assert_eq!(result.bytes_written, text.len() as u64);
    }

    #[tokio::test]
    async fn pretty_and_text_formats() {
        let e = SourceEvent::record("s", json!({"a": 1})).with_state("offset", json!(5));
        let cfg = StdoutSinkConfig {
            pretty: true,
            include_metadata: true,
            ..Default::default()
        };
        let (text, _) = write_to_string(cfg, vec![e.clone()]).await;
        assert!(text.contains("\n  \"data\""), "{text}");
        assert!(text.contains("\"offset\": 5"), "{text}");
        let cfg = StdoutSinkConfig {
            format: StdoutFormat::Text,
            ..Default::default()
        };
        let (text, _) = write_to_string(cfg, vec![e]).await;
        assert!(text.trim_end().ends_with(" s record {\"a\":1}"), "{text}");
    }

    #[tokio::test]
    async fn a_failing_writer_fails_the_write() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "closed",
                ))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = StdoutSink::with_writer(Arc::new(Mutex::new(Broken)));
        let events = stream::iter(vec![SourceEvent::record("s", json!({}))]).boxed();
        let err = sink.write(&StdoutSinkConfig::default(), events).await.err();
        assert!(err
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("stdout"));
    }
}
