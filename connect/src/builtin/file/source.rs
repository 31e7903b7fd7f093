//! `file` source: reads a JSON Lines (or plain text, or CSV) file from where it left off.
//!
//! **Formats.** `jsonl` (default) and `text` are read by this source itself; any
//! other `format` is a format registered in this build with a record reader
//! ([`crate::format::registry`]): `csv` when the binary links
//! `rivven-connect-storage`, with the options of the `file` sink's
//! `format_options` (the same block reads back what the sink wrote). A CSV file's
//! header is read first (also when resuming at a later offset) and names the
//! fields of every row; a newline inside a quoted field does not end a row; the
//! values come back typed as the sink wrote them (`null_value` is null, numbers,
//! `true`/`false`, and nested values from their JSON text). The state is the
//! byte offset after the last row, so a restart resumes at the next row. A CSV
//! file whose header is not complete yet is not read (the next run reads it).
//!
//! Every event carries its position in the stream state: `offset` (the byte just after
//! its line) and `line` (its 1-based line number), so a restarted pipeline resumes after
//! the last line whose event was durably written. Blank lines are ignored.
//!
//! **Lines still being written.** Only lines ended by `\n` are read: bytes after the
//! last newline may be a line another process is still writing, so they are neither
//! emitted nor committed, and the next run reads the whole line once it is finished.
//! Set `read_unterminated_last_line: true` when the file is known to be complete and
//! its last line may lack the newline; it is then read as a record.
//!
//! **Records that cannot be read** are `Data` errors naming the file, the line number
//! and its byte offset; the pipeline's `on_error` decides whether they are skipped,
//! dead-lettered or stop the pipeline, and the offset after them is committed like a
//! good line's. A line that is not valid JSON (or not UTF-8) carries the whole line
//! (without its `\n`) as the error's raw record, so a dead letter holds it byte for
//! byte (`raw_record`, base64 when it is not UTF-8); the message shows at most 120
//! characters of it. A line longer than `max_line_bytes` is skipped without being held
//! in memory (it is read in `buffer_size` chunks and discarded up to its newline); its
//! dead letter carries no raw record, only the exact byte range in the message
//! (`bytes <offset>..<end> (<length> bytes)`), from which it can be cut out of the file.

use std::path::PathBuf;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::io::AsyncSeekExt;
use validator::Validate;

use crate::catalog::{Catalog, ConfiguredCatalog, Stream};
use crate::check::CheckResult;
use crate::connector::Source;
use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use crate::format::{registry, RecordReader};
use crate::spec::ConnectorSpec;
use crate::state::State;
use crate::SourceConfig;

/// Default `max_line_bytes`: 16 MiB.
const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Characters of a rejected line shown in its error message.
const PREVIEW_CHARS: usize = 120;

/// How records become events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileSourceFormat {
    /// Each line is a JSON value that becomes the event data.
    #[default]
    Jsonl,
    /// Each line becomes `{"line": "<text>"}`.
    Text,
    /// Another format registered in this build with a record reader, by name
    /// (`csv`, from rivven-connect-storage).
    #[serde(untagged)]
    Registered(String),
}

/// Configuration of the `file` source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "file",
    version = env!("CARGO_PKG_VERSION"),
    description = "Reads JSON Lines, text or CSV files (CSV with rivven-connect-storage), resuming at the last committed byte offset",
    incremental,
    category = "storage",
    tags = ["file", "jsonl", "csv", "local"],
    connector = FileSource
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "format_readable"))]
pub struct FileSourceConfig {
    /// File to read.
    #[schemars(example = &"data/orders.jsonl")]
    pub path: PathBuf,
    /// Stream name of the events (default: the file name without extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 255))]
    pub stream_name: Option<String>,
    /// `jsonl` (default: each line is a JSON value that becomes the event
    /// data), `text` (each line becomes `{"line": "<text>"}`), or a format
    /// registered in this build with a record reader: `csv` (from
    /// rivven-connect-storage; the header names the fields of each row).
    #[serde(default)]
    pub format: FileSourceFormat,
    /// Options of a registered `format`, as the `file` sink's `format_options`
    /// (for `csv`: `delimiter`, `quote_char`, `null_value`, `include_header`,
    /// `columns` — needed without a header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_options: Option<Map<String, Value>>,
    /// Bytes read per I/O call.
    #[serde(default = "default_buffer_size")]
    #[validate(range(min = 4096, max = 67108864))]
    pub buffer_size: usize,
    /// Longest line accepted, in bytes, not counting its newline (default 16 MiB).
    /// A longer line is not read into memory: it is skipped and reported as a
    /// record error with its line number and byte range, and `on_error` decides
    /// what happens next.
    #[serde(default = "default_max_line_bytes")]
    #[validate(range(min = 1024, max = 1073741824))]
    pub max_line_bytes: usize,
    /// Read a last line that has no trailing newline (default `false`). Leave it off
    /// for files another process may still be appending to: an unterminated last line
    /// may be half written, so it is left for the next run. Turn it on only when the
    /// file is complete and its last line may lack the newline.
    #[serde(default)]
    pub read_unterminated_last_line: bool,
}

fn default_buffer_size() -> usize {
    256 * 1024
}

fn default_max_line_bytes() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

/// Validator of `format` and `format_options`: a registered format has a
/// reader that takes the options; `jsonl` and `text` take none.
fn format_readable(
    config: &FileSourceConfig,
) -> std::result::Result<(), validator::ValidationError> {
    match config.record_reader() {
        Ok(_) => Ok(()),
        Err(e) => {
            Err(validator::ValidationError::new("format")
                .with_message(e.message().to_string().into()))
        }
    }
}

impl FileSourceConfig {
    /// A config reading `path` with defaults.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            stream_name: None,
            format: FileSourceFormat::default(),
            format_options: None,
            buffer_size: default_buffer_size(),
            max_line_bytes: default_max_line_bytes(),
            read_unterminated_last_line: false,
        }
    }

    /// The record reader of a registered `format` (`None` for `jsonl` and
    /// `text`), or a `Config` error naming the key.
    pub fn record_reader(&self) -> Result<Option<Box<dyn RecordReader>>> {
        let options = match &self.format_options {
            Some(map) if !map.is_empty() => Value::Object(map.clone()),
            _ => Value::Null,
        };
        let name = match &self.format {
            FileSourceFormat::Registered(name) => name,
            FileSourceFormat::Jsonl | FileSourceFormat::Text if options.is_null() => {
                return Ok(None)
            }
            FileSourceFormat::Jsonl | FileSourceFormat::Text => {
                return Err(ConnectorError::config(
                    "format_options: only a registered `format` (such as `csv`) takes options",
                ))
            }
        };
        let format = registry::lookup("format", name)?;
        if !format.readable() {
            return Err(ConnectorError::config(format!(
                "format: `{name}` cannot be read record by record by the `file` source \
                 (the `object-storage` source reads whole files of it)"
            )));
        }
        format.reader(&options).map(Some).map_err(|e| {
            ConnectorError::config(format!("format_options ({name}): {}", e.message()))
        })
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

/// Where a line sits in the file, for error messages.
struct At<'a> {
    config: &'a FileSourceConfig,
    line_no: u64,
    offset: u64,
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} line {} (byte offset {})",
            self.config.path.display(),
            self.line_no,
            self.offset
        )
    }
}

fn preview(text: &str) -> String {
    let mut chars = text.chars();
    let mut shown: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() {
        shown.push('…');
    }
    shown
}

/// The event data of one record (`bytes` without its `\n`); `None` for a blank line.
/// Errors carry the whole record as their raw record (copied only then).
fn parse_line(
    config: &FileSourceConfig,
    reader: Option<&mut (dyn RecordReader + 'static)>,
    bytes: &[u8],
    at: &At<'_>,
) -> Result<Option<Value>> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let shown = preview(&String::from_utf8_lossy(bytes));
            return Err(
                ConnectorError::data(format!("{at}: not UTF-8 ({e}): {shown}"))
                    .with_raw_record(bytes),
            );
        }
    };
    let text = text.trim_end_matches('\r');
    if text.trim().is_empty() {
        return Ok(None);
    }
    if let Some(reader) = reader {
        return match reader.decode(text.as_bytes()) {
            Ok(value) => Ok(Some(value)),
            Err(e) => {
                let message = format!("{at}: {}: {}", e.message(), preview(text));
                Err(ConnectorError::data(message).with_raw_record(bytes))
            }
        };
    }
    let parsed = match config.format {
        FileSourceFormat::Text => Ok(json!({ "line": text })),
        _ => serde_json::from_str(text),
    };
    match parsed {
        Ok(value) => Ok(Some(value)),
        Err(e) => {
            let message = format!("{at}: invalid JSON ({e}): {}", preview(text));
            Err(ConnectorError::data(message).with_raw_record(bytes))
        }
    }
}

fn too_long(at: &At<'_>, consumed: u64, terminated: bool) -> ConnectorError {
    let length = consumed - u64::from(terminated);
    ConnectorError::data(format!(
        "{at}: line longer than max_line_bytes ({} bytes), skipped: bytes {}..{} ({length} bytes, \
         without the newline)",
        at.config.max_line_bytes,
        at.offset,
        at.offset + length
    ))
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
        let mut reader = config.record_reader()?;
        let saved = state.as_ref().and_then(|s| s.get_stream(&stream_name));
        let mut start = saved
            .and_then(|s| s.data.get("offset"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut start_line = saved
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
        if let Some(reader) = reader.as_deref_mut().filter(|r| r.has_header()) {
            match header::read(config, reader).await? {
                Some((end, lines)) => {
                    if start < end {
                        (start, start_line) = (end, lines);
                    }
                }
                // No complete header yet: nothing to read in this run.
                None => return Ok(futures::stream::empty().boxed()),
            }
        }
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| {
                ConnectorError::from(e).context(format!("seeking {}", config.path.display()))
            })?;
        if start > 0 {
            tracing::info!(path = %config.path.display(), offset = start, "file source resuming");
        }
        let events =
            stream::FileEvents::new(file, config.clone(), stream_name, start, start_line, reader);
        Ok(events.boxed())
    }
}

mod header;
mod records;
mod stream;
#[cfg(test)]
mod tests;
