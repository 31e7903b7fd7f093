//! `file` sink: appends events to one file, JSON Lines by default.
//!
//! **Formats.** `output_format` says how records are encoded: `jsonl` (the
//! default; one JSON value per line) or any *appendable* format registered in
//! this build ([`crate::format::registry`]) — `csv` when the binary links
//! `rivven-connect-storage` (the `rivven-connect` binary does), with its
//! options under `format_options` (`delimiter`, `quote_char`, `always_quote`,
//! `line_ending`, `null_value`, `include_header`, `columns`; nested values
//! are written as JSON strings). `format: data|event` stays what each record
//! holds, for every output format (`event` writes the whole event, so a CSV
//! row has the columns `data`, `metadata`, `stream`, … with nested values as
//! JSON). Formats that make only whole files (`json`, `parquet`, `avro`) are
//! refused with a configuration error that points at the `object-storage`
//! sink with `provider: local`, which writes whole files of `batch_size`
//! events: rewriting a whole file per batch would cost the file again on
//! every batch, and a file per batch makes many tiny files. JSON Lines is
//! written by the sink's own line encoder (the same bytes as the registered
//! `jsonl` writer, without a dynamic call per event); other formats through
//! their registered [`AppendWriter`](crate::format::AppendWriter).
//!
//! A CSV file gets its header once, when it starts; its columns are fixed by
//! its first event (or by `columns`). An event with a key the file has no
//! column for ends the file: it is rotated (below) and a new one started
//! whose header is the union of the columns, so every file has exactly one
//! header and no field is dropped. On reopening an existing file the sink
//! reads its header back and continues with those columns.
//!
//! Durability: a write returns only after the batch reached the disk (`fsync: true`,
//! the default: the file's data is synced before the batch is acknowledged), so the
//! runtime never commits offsets past records that are not on disk, even after a power
//! loss. `fsync: false` acknowledges once the batch reached the OS: that survives a
//! process crash (`kill -9`) but not a power loss or an OS crash, after which the
//! committed offsets can point past records that never reached the disk.
//! Crash safety: a process killed mid-write can leave a partial last record; on open
//! the sink cuts the file back to its last complete record (that event was never
//! acknowledged and is written again): for JSON Lines the last newline, for CSV the
//! end of the last complete row (a quoted field may hold newlines, so the file is
//! parsed from its start once, on open; a file left with nothing but its header is
//! emptied). A failed write is rolled back the same way before the error is
//! returned. With `max_file_bytes`, a full file is renamed to `<path>.<n>`
//! (n = 1, 2, …) and a new one started. A batch goes to one file, except when a
//! wider CSV event rotates the file in the middle of it; if the write of such a batch
//! fails after the rotation, its retry writes the events before the rotation again
//! (at-least-once, as always for unacknowledged events).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::Validate;

use serde_json::{Map, Value};

use crate::check::CheckResult;
use crate::connector::{Sink, WriteResult};
use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::SinkConfig;

/// Default `output_format`.
const DEFAULT_OUTPUT_FORMAT: &str = "jsonl";

/// What each record holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileSinkFormat {
    /// The event's `data` (round-trips with the `file` source).
    #[default]
    Data,
    /// The whole event: stream, type, key, timestamp, data, metadata.
    Event,
}

/// Configuration of the `file` sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(
    name = "file",
    version = env!("CARGO_PKG_VERSION"),
    description = "Appends events to a JSON Lines file (or CSV, with rivven-connect-storage), synced to disk per batch, with optional rotation",
    category = "storage",
    tags = ["file", "jsonl", "csv", "local"],
    connector = FileSink
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "formats_agree"))]
pub struct FileSinkConfig {
    /// File to append to (created with its parent directories).
    #[schemars(example = &"out/orders.jsonl")]
    pub path: PathBuf,
    /// What each record holds: `data` (default, the event's data) or `event`
    /// (the whole event).
    #[serde(default)]
    pub format: FileSinkFormat,
    /// How records are encoded: `jsonl` (default) or another appendable
    /// format of this build — `csv` from rivven-connect-storage (in the
    /// `rivven-connect` binary). Formats that make whole files (`json`,
    /// `parquet`, `avro`) are refused: use the `object-storage` sink with
    /// `provider: local` for them.
    #[serde(default = "default_output_format")]
    pub output_format: String,
    /// Options of `output_format`, e.g. for `csv`: `delimiter`, `quote_char`,
    /// `always_quote`, `line_ending` (`lf`/`crlf`), `null_value`,
    /// `include_header`, `columns` (needed when `include_header` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_options: Option<Map<String, Value>>,
    /// Sync the file to disk before each batch is acknowledged (default `true`).
    /// `false` trades durability for speed: the output survives process crashes
    /// (`kill -9`), not power loss or an OS crash, after which committed offsets can
    /// point past lines that never reached the disk (those events are lost).
    #[serde(default = "default_fsync")]
    pub fsync: bool,
    /// Rotate when the file would grow past this many bytes (0 = never).
    #[serde(default)]
    pub max_file_bytes: u64,
    /// Reject (per record, following the pipeline's `on_error`) an event whose
    /// line would be longer than this many bytes, instead of writing it
    /// (0 = no limit), e.g. to keep lines within what a downstream reader takes
    /// (`output_format: jsonl` only).
    #[serde(default)]
    pub max_record_bytes: u64,
}

fn default_fsync() -> bool {
    true
}

fn default_output_format() -> String {
    DEFAULT_OUTPUT_FORMAT.to_string()
}

/// Validator of the whole config: `output_format` is registered and
/// appendable, its `format_options` build a writer, and `max_record_bytes`
/// is used with JSON Lines only.
fn formats_agree(config: &FileSinkConfig) -> std::result::Result<(), validator::ValidationError> {
    let refuse = |message: String| {
        Err(validator::ValidationError::new("output_format").with_message(message.into()))
    };
    if let Err(e) = formatted::appender(config) {
        return refuse(e.message().to_string());
    }
    if config.max_record_bytes > 0 && !config.is_jsonl() {
        return refuse(format!(
            "max_record_bytes: applies to `output_format: jsonl` only (this sink writes `{}`)",
            config.output_format
        ));
    }
    Ok(())
}

impl FileSinkConfig {
    /// A config appending to `path` with defaults (`fsync: true`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            format: FileSinkFormat::default(),
            output_format: default_output_format(),
            format_options: None,
            fsync: default_fsync(),
            max_file_bytes: 0,
            max_record_bytes: 0,
        }
    }

    /// The same config writing `output_format` with `format_options`.
    pub fn with_output_format(mut self, name: &str, options: Value) -> Self {
        self.output_format = name.to_string();
        self.format_options = match options {
            Value::Object(map) => Some(map),
            _ => None,
        };
        self
    }

    /// Whether records are JSON Lines (the sink's own encoder).
    fn is_jsonl(&self) -> bool {
        self.output_format == DEFAULT_OUTPUT_FORMAT && self.format_options_value().is_null()
    }

    /// `format_options` as JSON (`null` when not given).
    fn format_options_value(&self) -> Value {
        match &self.format_options {
            Some(map) if !map.is_empty() => Value::Object(map.clone()),
            _ => Value::Null,
        }
    }
}

#[derive(Debug)]
struct OpenFile {
    file: File,
    len: u64,
}

/// Appends records (JSON Lines, or another appendable format) to a file.
#[derive(Debug, Default, Clone)]
pub struct FileSink {
    open: Arc<Mutex<Option<OpenFile>>>,
    /// The file and writer of a format other than JSON Lines.
    formatted: Arc<Mutex<Option<formatted::Formatted>>>,
    /// Bytes per line of the last write, to size the next write's buffer
    /// (growing it line by line cost a copy of the batch per doubling).
    line_bytes: Arc<std::sync::atomic::AtomicUsize>,
}

impl FileSink {
    /// A file sink.
    pub fn new() -> Self {
        Self::default()
    }
}

fn io_error(path: &Path, what: &str) -> impl FnOnce(std::io::Error) -> ConnectorError {
    let context = format!("{what} {}", path.display());
    move |e| ConnectorError::from(e).context(context)
}

/// Opens `path` for appending and cuts a torn last line.
fn open_repaired(path: &Path) -> Result<OpenFile> {
    open_cut(path, |file, len| {
        crate::format::complete_lines_len(file, len).map_err(ConnectorError::from)
    })
}

/// Opens `path` for appending, locked, cut back to the `complete` length.
fn open_cut(path: &Path, complete: impl FnOnce(&mut File, u64) -> Result<u64>) -> Result<OpenFile> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(io_error(path, "creating the parent directory of"))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_error(path, "opening"))?;
    // One writer per file, across processes too (the lock goes with the
    // process, even on `kill -9`); readers are not affected.
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(ConnectorError::config(format!(
                "{} is being written by another process (another rivven-connect?); \
                 a file has one writer",
                path.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_error(path, "locking")(e)),
    }
    let len = file.metadata().map_err(io_error(path, "inspecting"))?.len();
    let good =
        complete(&mut file, len).map_err(|e| e.context(format!("scanning {}", path.display())))?;
    if good < len {
        tracing::warn!(path = %path.display(), torn_bytes = len - good, "cutting a partial last record left by a crash");
        file.set_len(good).map_err(io_error(path, "repairing"))?;
        file.sync_data().map_err(io_error(path, "syncing"))?;
    }
    file.seek(SeekFrom::Start(good))
        .map_err(io_error(path, "seeking"))?;
    Ok(OpenFile { file, len: good })
}

/// Renames the full file to the first free `<path>.<n>`.
fn rotate(path: &Path, fsync: bool) -> Result<()> {
    let mut n = 1u32;
    let target = loop {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        let candidate = PathBuf::from(name);
        if !candidate.exists() {
            break candidate;
        }
        n += 1;
    };
    std::fs::rename(path, &target).map_err(io_error(path, "rotating"))?;
    if fsync {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_error(dir, "syncing directory"))?;
        }
    }
    tracing::info!(from = %path.display(), to = %target.display(), "rotated output file");
    Ok(())
}

fn write_lines(slot: &mut Option<OpenFile>, config: &FileSinkConfig, buf: &[u8]) -> Result<()> {
    let path = &config.path;
    if slot.is_none() {
        *slot = Some(open_repaired(path)?);
    }
    let needs_rotation = slot.as_ref().is_some_and(|f| {
        config.max_file_bytes > 0 && f.len > 0 && f.len + buf.len() as u64 > config.max_file_bytes
    });
    if needs_rotation {
        if let Some(old) = slot.take() {
            old.file.sync_data().map_err(io_error(path, "syncing"))?;
        }
        rotate(path, config.fsync)?;
        *slot = Some(open_repaired(path)?);
    }
    let Some(open) = slot.as_mut() else {
        return Err(ConnectorError::io(format!(
            "{} is not open",
            path.display()
        )));
    };
    let outcome = open
        .file
        .write_all(buf)
        .and_then(|()| open.file.flush())
        .and_then(|()| {
            if config.fsync {
                open.file.sync_data()
            } else {
                Ok(())
            }
        });
    match outcome {
        Ok(()) => {
            open.len += buf.len() as u64;
            Ok(())
        }
        Err(e) => {
            // Roll the partial batch back; if even that fails, reopen (and repair) next time.
            let rolled_back = open
                .file
                .set_len(open.len)
                .and_then(|()| open.file.seek(SeekFrom::Start(open.len)).map(|_| ()));
            if rolled_back.is_err() {
                *slot = None;
            }
            Err(io_error(path, "writing")(e))
        }
    }
}

#[async_trait]
impl Sink for FileSink {
    type Config = FileSinkConfig;

    fn spec() -> ConnectorSpec {
        FileSinkConfigSpec::spec()
    }

    async fn check(&self, config: &FileSinkConfig) -> Result<CheckResult> {
        let holds_it = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
            || self
                .formatted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some();
        if holds_it {
            // This sink has the file open (a pipeline restarting): opening
            // it again would find it locked — by this very sink.
            return CheckResult::builder().check_passed("file writable").build();
        }
        let config = config.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            if config.is_jsonl() {
                open_repaired(&config.path).map(|_| ())
            } else {
                formatted::open(&config).map(|_| ())
            }
        })
        .await
        .map_err(|e| ConnectorError::fatal(format!("check task failed: {e}")))?;
        CheckResult::builder()
            .check("file writable", outcome)
            .build()
    }

    async fn write(
        &self,
        config: &FileSinkConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        self.write_borrowed(config, &events).await
    }

    async fn write_borrowed(
        &self,
        config: &FileSinkConfig,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        if !config.is_jsonl() {
            return formatted::write(&self.formatted, config, events).await;
        }
        let mut result = WriteResult::new();
        use std::sync::atomic::Ordering::Relaxed;
        let per_line = self.line_bytes.load(Relaxed).clamp(64, 64 * 1024);
        let mut buf = Vec::with_capacity((events.len().saturating_mul(per_line)).min(64 << 20));
        let mut written = 0u64;
        for (index, event) in events.iter().enumerate() {
            let start = buf.len();
            let line = match config.format {
                FileSinkFormat::Data => serde_json::to_writer(&mut buf, &event.data),
                FileSinkFormat::Event => serde_json::to_writer(&mut buf, event),
            };
            let too_long =
                config.max_record_bytes > 0 && (buf.len() - start) as u64 > config.max_record_bytes;
            match line {
                Ok(()) if too_long => {
                    let size = buf.len() - start;
                    buf.truncate(start);
                    result.add_record_failure(
                        index,
                        &ConnectorError::data(format!(
                            "event {index} of stream `{}`{}: its line is {size} bytes, over \
                             max_record_bytes ({})",
                            event.stream,
                            event
                                .key
                                .as_ref()
                                .map(|k| format!(
                                    " (key {})",
                                    k.to_string().chars().take(60).collect::<String>()
                                ))
                                .unwrap_or_default(),
                            config.max_record_bytes
                        )),
                    )
                }
                Ok(()) => {
                    buf.push(b'\n');
                    written += 1;
                }
                Err(e) => {
                    buf.truncate(start); // no half-written line
                    result.add_record_failure(
                        index,
                        &ConnectorError::data(format!(
                            "event {index} of stream `{}`: {e}",
                            event.stream
                        )),
                    )
                }
            }
        }
        if buf.is_empty() {
            return Ok(result);
        }
        let bytes = buf.len() as u64;
        if written > 0 {
            // A little over the average, so that the next batch rarely grows it.
            let average = buf.len() / written as usize;
            self.line_bytes.store(average + average / 8 + 1, Relaxed);
        }
        let open = self.open.clone();
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let mut slot = open.lock().unwrap_or_else(|p| p.into_inner());
            write_lines(&mut slot, &config, &buf)
        })
        .await
        .map_err(|e| ConnectorError::fatal(format!("file write task failed: {e}")))??;
        result.add_success(written, bytes);
        Ok(result)
    }

    /// The file: two sinks appending to one path tear each other's records.
    fn exclusive_resource(&self, config: &FileSinkConfig) -> Option<String> {
        Some(super::target_key(&config.path))
    }
}

mod formatted;
#[cfg(test)]
mod tests;
