//! `file` source: reads a JSON Lines (or plain text) file from where it left off.
//!
//! Every event carries its position in the stream state: `offset` (the byte just after
//! its line) and `line` (its 1-based line number), so a restarted pipeline resumes after
//! the last line whose event was durably written. A line that is not valid JSON is a
//! `Data` error naming the file and line; the pipeline's `on_error` decides whether it is
//! skipped, dead-lettered or stops the pipeline. Blank lines are ignored. A last line
//! without a trailing newline is read as a record.

use std::path::PathBuf;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, BufReader};
use validator::Validate;

use crate::catalog::{Catalog, ConfiguredCatalog, Stream};
use crate::check::CheckResult;
use crate::connector::Source;
use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::state::State;
use crate::SourceConfig;

/// How lines become events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileSourceFormat {
    /// Each line is a JSON value that becomes the event data.
    #[default]
    Jsonl,
    /// Each line becomes `{"line": "<text>"}`.
    Text,
}

/// Configuration of the [`FileSource`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "file",
    version = env!("CARGO_PKG_VERSION"),
    description = "Reads JSON Lines or text files, resuming at the last committed byte offset",
    incremental
)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// File to read.
    pub path: PathBuf,
    /// Stream name of the events (default: the file name without extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 255))]
    pub stream_name: Option<String>,
    /// `jsonl` (default) or `text`.
    #[serde(default)]
    pub format: FileSourceFormat,
    /// Bytes read per I/O call.
    #[serde(default = "default_buffer_size")]
    #[validate(range(min = 4096, max = 67108864))]
    pub buffer_size: usize,
}

fn default_buffer_size() -> usize {
    256 * 1024
}

impl FileSourceConfig {
    /// A config reading `path` with defaults.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            stream_name: None,
            format: FileSourceFormat::default(),
            buffer_size: default_buffer_size(),
        }
    }

    /// The stream name events get.
    pub fn stream(&self) -> String {
        self.stream_name.clone().unwrap_or_else(|| {
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "file".to_string())
        })
    }
}

/// Reads a file line by line.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileSource;

impl FileSource {
    /// A file source.
    pub fn new() -> Self {
        Self
    }
}

fn parse_line(config: &FileSourceConfig, bytes: &[u8], line_no: u64) -> Result<Option<Value>> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ConnectorError::data(format!(
            "{} line {line_no}: not UTF-8: {e}",
            config.path.display()
        ))
    })?;
    let text = text.trim_end_matches(['\n', '\r']);
    if text.trim().is_empty() {
        return Ok(None);
    }
    match config.format {
        FileSourceFormat::Text => Ok(Some(json!({ "line": text }))),
        FileSourceFormat::Jsonl => serde_json::from_str(text).map(Some).map_err(|e| {
            let preview: String = text.chars().take(120).collect();
            ConnectorError::data(format!(
                "{} line {line_no}: invalid JSON ({e}): {preview}",
                config.path.display()
            ))
        }),
    }
}

#[async_trait]
impl Source for FileSource {
    type Config = FileSourceConfig;

    fn spec() -> ConnectorSpec {
        FileSourceConfigSpec::spec()
    }

    async fn check(&self, config: &FileSourceConfig) -> Result<CheckResult> {
        let outcome = match tokio::fs::metadata(&config.path).await {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(format!("{} is not a regular file", config.path.display())),
            Err(e) => Err(format!("cannot read {}: {e}", config.path.display())),
        };
        CheckResult::builder()
            .check("file readable", outcome)
            .build()
    }

    async fn discover(&self, config: &FileSourceConfig) -> Result<Catalog> {
        let stream =
            Stream::new(config.stream(), json!({ "type": "object" })).with_incremental("offset");
        Ok(Catalog::new(vec![stream]))
    }

    async fn read(
        &self,
        config: &FileSourceConfig,
        _catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let stream_name = config.stream();
        let saved = state.as_ref().and_then(|s| s.get_stream(&stream_name));
        let start = saved
            .and_then(|s| s.data.get("offset"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let start_line = saved
            .and_then(|s| s.data.get("line"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut file = tokio::fs::File::open(&config.path).await.map_err(|e| {
            ConnectorError::from(e).context(format!("opening {}", config.path.display()))
        })?;
        let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
        if start > len {
            return Err(ConnectorError::fatal(format!(
                "{}: committed offset {start} is past the end of the file ({len} bytes); \
                 the file was truncated or replaced",
                config.path.display()
            )));
        }
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| {
                ConnectorError::from(e).context(format!("seeking {}", config.path.display()))
            })?;
        if start > 0 {
            tracing::info!(path = %config.path.display(), offset = start, "file source resuming");
        }
        let config = config.clone();
        let stream = async_stream::stream! {
            let mut reader = BufReader::with_capacity(config.buffer_size, file);
            let mut offset = start;
            let mut line_no = start_line;
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n = match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        yield Err(ConnectorError::from(e).context(format!("reading {}", config.path.display())));
                        break;
                    }
                };
                offset += n as u64;
                line_no += 1;
                match parse_line(&config, &buf, line_no) {
                    Ok(Some(data)) => {
                        yield Ok(SourceEvent::record(stream_name.clone(), data)
                            .with_position(offset)
                            .with_state("offset", json!(offset))
                            .with_state("line", json!(line_no)));
                    }
                    Ok(None) => {}
                    Err(e) => yield Err(e),
                }
            }
        };
        Ok(stream.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(config: &FileSourceConfig, state: Option<State>) -> Vec<Result<SourceEvent>> {
        FileSource
            .read(config, &ConfiguredCatalog::default(), state)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .collect()
            .await
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    }

    #[tokio::test]
    async fn reads_lines_with_offsets_and_resumes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = write(&dir, "orders.jsonl", "{\"id\":1}\n\n{\"id\":2}\n{\"id\":3}");
        let config = FileSourceConfig::new(&path);
        let events: Vec<SourceEvent> = read_all(&config, None)
            .await
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].stream, "orders");
        assert_eq!(events[1].data, json!({"id": 2}));
        let offsets: Vec<Value> = events
            .iter()
            .map(|e| {
                e.metadata
                    .state
                    .as_ref()
                    .map(|s| s["offset"].clone())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(offsets, vec![json!(9), json!(19), json!(27)]);

        let mut state = State::new();
        if let Some(update) = &events[1].metadata.state {
            state.apply_stream_update("orders", update);
        }
        let rest: Vec<SourceEvent> = read_all(&config, Some(state))
            .await
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].data, json!({"id": 3}));
        assert_eq!(
            rest[0].metadata.state.as_ref().map(|s| s["line"].clone()),
            Some(json!(4))
        );
    }

    #[tokio::test]
    async fn a_bad_line_is_a_data_error_naming_file_and_line_and_reading_goes_on() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = write(&dir, "in.jsonl", "{\"id\":1}\n{oops\n{\"id\":3}\n");
        let items = read_all(&FileSourceConfig::new(&path), None).await;
        assert_eq!(items.len(), 3);
        let err = items[1].as_ref().err().map(|e| (e.kind(), e.to_string()));
        let (kind, text) = err.unwrap_or_else(|| panic!("line 2 must fail"));
        assert_eq!(kind, crate::ErrorKind::Data);
        assert!(text.contains("in.jsonl line 2"), "{text}");
        assert!(items[2].is_ok());
    }

    #[tokio::test]
    async fn text_format_and_missing_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = write(&dir, "log.txt", "hello\r\nworld\n");
        let mut config = FileSourceConfig::new(&path);
        config.format = FileSourceFormat::Text;
        let events: Vec<SourceEvent> = read_all(&config, None)
            .await
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(events[0].data, json!({"line": "hello"}));
        let missing = FileSourceConfig::new(dir.path().join("nope.jsonl"));
        let err = FileSource
            .read(&missing, &ConfiguredCatalog::default(), None)
            .await
            .err();
        assert!(err
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("nope.jsonl"));
        let check = FileSource
            .check(&missing)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!check.is_success());
    }

    #[tokio::test]
    async fn truncated_file_is_reported_not_silently_reread() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = write(&dir, "t.jsonl", "{}\n");
        let state = State::builder()
            .stream_data("t", "offset", json!(100))
            .build();
        let err = FileSource
            .read(
                &FileSourceConfig::new(&path),
                &ConfiguredCatalog::default(),
                Some(state),
            )
            .await
            .err();
        assert!(err
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("past the end"));
    }
}
