//! `file` sink: appends events as JSON Lines.
//!
//! Durability: a write returns only after the batch reached the disk (`fsync: true`,
//! the default: the file's data is synced before the batch is acknowledged), so the
//! runtime never commits offsets past lines that are not on disk, even after a power
//! loss. `fsync: false` acknowledges once the batch reached the OS: that survives a
//! process crash (`kill -9`) but not a power loss or an OS crash, after which the
//! committed offsets can point past lines that never reached the disk.
//! Crash safety: a process killed mid-write can leave a partial last line; on open the
//! sink cuts the file back to its last complete line (that event was never acknowledged
//! and is written again). A failed write is rolled back the same way before the error is
//! returned. With `max_file_bytes`, a full file is renamed to `<path>.<n>` (n = 1, 2, …)
//! and a new one started.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::Validate;

use crate::check::CheckResult;
use crate::connector::{Sink, WriteResult};
use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::SinkConfig;

/// What each line holds.
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
    description = "Appends events to a JSON Lines file, synced to disk per batch, with optional rotation",
    category = "storage",
    tags = ["file", "jsonl", "local"],
    connector = FileSink
)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// File to append to (created with its parent directories).
    #[schemars(example = &"out/orders.jsonl")]
    pub path: PathBuf,
    /// `data` (default) or `event`.
    #[serde(default)]
    pub format: FileSinkFormat,
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
    /// (0 = no limit), e.g. to keep lines within what a downstream reader takes.
    #[serde(default)]
    pub max_record_bytes: u64,
}

fn default_fsync() -> bool {
    true
}

impl FileSinkConfig {
    /// A config appending to `path` with defaults (`fsync: true`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            format: FileSinkFormat::default(),
            fsync: default_fsync(),
            max_file_bytes: 0,
            max_record_bytes: 0,
        }
    }
}

#[derive(Debug)]
struct OpenFile {
    file: File,
    len: u64,
}

/// Appends JSON Lines to a file.
#[derive(Debug, Default, Clone)]
pub struct FileSink {
    open: Arc<Mutex<Option<OpenFile>>>,
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
    let good = complete_prefix_len(&mut file, len).map_err(io_error(path, "scanning"))?;
    if good < len {
        tracing::warn!(path = %path.display(), torn_bytes = len - good, "cutting a partial last line left by a crash");
        file.set_len(good).map_err(io_error(path, "repairing"))?;
        file.sync_data().map_err(io_error(path, "syncing"))?;
    }
    file.seek(SeekFrom::Start(good))
        .map_err(io_error(path, "seeking"))?;
    Ok(OpenFile { file, len: good })
}

/// Length of the file up to and including its last newline.
fn complete_prefix_len(file: &mut File, len: u64) -> std::io::Result<u64> {
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let n = usize::try_from(end - start).unwrap_or(0);
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk[..n])?;
        if let Some(pos) = chunk[..n].iter().rposition(|b| *b == b'\n') {
            return Ok(start + pos as u64 + 1);
        }
        end = start;
    }
    Ok(0)
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
            .is_some();
        if holds_it {
            // This sink has the file open (a pipeline restarting): opening
            // it again would find it locked — by this very sink.
            return CheckResult::builder().check_passed("file writable").build();
        }
        let config = config.clone();
        let outcome = tokio::task::spawn_blocking(move || open_repaired(&config.path).map(|_| ()))
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

    /// The file: two sinks appending to one path tear each other's lines.
    fn exclusive_resource(&self, config: &FileSinkConfig) -> Option<String> {
        Some(super::target_key(&config.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;
    use serde_json::json;
    use serde_json::Value;

    fn events(ids: std::ops::Range<u64>) -> BoxStream<'static, SourceEvent> {
        stream::iter(ids.map(|i| SourceEvent::record("s", json!({ "id": i })))).boxed()
    }

    fn ids(path: &Path) -> Vec<u64> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"))["id"]
                    .as_u64()
                    .unwrap_or(u64::MAX)
            })
            .collect()
    }

    #[tokio::test]
    async fn appends_across_writes_and_sink_instances() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = FileSinkConfig {
            fsync: true,
            ..FileSinkConfig::new(dir.path().join("a/b/out.jsonl"))
        };
        let sink = FileSink::new();
        let r = sink
            .write(&config, events(0..3))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.records_written, 3);
        sink.write(&config, events(3..5))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // A second writer while the first has the file open is refused.
        let err = FileSink::new()
            .write(&config, events(5..6))
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("out.jsonl is being written by another process"),
            "{err}"
        );
        // Its check fails too; the writer's own check (a restart) passes.
        let other = FileSink::new()
            .check(&config)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!other.is_success(), "{other:?}");
        assert!(sink
            .check(&config)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_success());
        drop(sink);
        FileSink::new()
            .write(&config, events(5..6))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids(&config.path), (0..6).collect::<Vec<_>>());
    }

    /// Fails before the fix: the default was `fsync: false` while the offsets are
    /// fsynced, so after a power loss the committed offset could pass unwritten lines.
    #[test]
    fn fsync_is_on_by_default_in_config_new_and_schema() {
        let config: FileSinkConfig =
            serde_json::from_value(json!({"path": "out.jsonl"})).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.fsync);
        assert!(FileSinkConfig::new("out.jsonl").fsync);
        let spec = serde_json::to_value(FileSink::spec()).unwrap_or_default();
        let text = spec.to_string();
        assert!(text.contains(r#""default":true"#), "{text}");
        let opt_out: FileSinkConfig = serde_json::from_value(json!({"path": "o", "fsync": false}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!opt_out.fsync);
    }

    #[tokio::test]
    async fn torn_tail_from_a_crash_is_cut() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "{\"id\":0}\n{\"id\":1}\n{\"id\"").unwrap_or_else(|e| panic!("{e}"));
        FileSink::new()
            .write(&FileSinkConfig::new(&path), events(1..3))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids(&path), vec![0, 1, 1, 2]);
        std::fs::write(&path, "no newline at all").unwrap_or_else(|e| panic!("{e}"));
        FileSink::new()
            .write(&FileSinkConfig::new(&path), events(7..8))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids(&path), vec![7]);
    }

    /// After a torn tail, two runs (each a new sink, as after two restarts) leave
    /// only complete lines: the first cuts the tail, the second appends after it.
    /// (Passes before the fix too: the sink's recovery was right; the kill -9
    /// test's checker was what flagged the tail. This pins the recovery down.)
    #[tokio::test]
    async fn two_runs_after_a_torn_tail_leave_no_torn_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "{\"id\":0}\n{\"id\":1,\"pay").unwrap_or_else(|e| panic!("{e}"));
        let config = FileSinkConfig::new(&path);
        for run in [1..3, 3..5] {
            let sink = FileSink::new();
            let check = sink.check(&config).await.unwrap_or_else(|e| panic!("{e}"));
            assert!(check.is_success());
            sink.write(&config, events(run))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(text.ends_with('\n'), "{text:?}");
        assert_eq!(ids(&path), vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn rotates_at_max_file_bytes_without_splitting_batches() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("out.jsonl");
        let config = FileSinkConfig {
            max_file_bytes: 40,
            ..FileSinkConfig::new(&path)
        };
        let sink = FileSink::new();
        for i in 0..4 {
            sink.write(&config, events(i * 3..i * 3 + 3))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let mut all = Vec::new();
        for n in 1..=3 {
            let rotated = dir.path().join(format!("out.jsonl.{n}"));
            let part = ids(&rotated);
            assert_eq!(part.len(), 3, "{}", rotated.display());
            all.extend(part);
        }
        all.extend(ids(&path));
        assert_eq!(all, (0..12).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn event_format_and_unwritable_path() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("ev.jsonl");
        let config = FileSinkConfig {
            format: FileSinkFormat::Event,
            ..FileSinkConfig::new(&path)
        };
        FileSink::new()
            .write(&config, events(0..1))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let line: Value =
            serde_json::from_str(std::fs::read_to_string(&path).unwrap_or_default().trim())
                .unwrap_or_default();
        assert_eq!(line["stream"], json!("s"));
        assert_eq!(line["data"]["id"], json!(0));

        let blocked = FileSinkConfig::new(path.join("below-a-file.jsonl"));
        let err = FileSink::new().write(&blocked, events(0..1)).await.err();
        assert!(err
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("below-a-file"));
        let check = FileSink::new()
            .check(&blocked)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!check.is_success());
    }
}
