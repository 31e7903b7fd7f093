//! The `file` sink's path for formats other than JSON Lines: a registered
//! [`AppendWriter`] keeps the open file's format state (CSV columns, whether
//! the header is written) from batch to batch.
//!
//! A batch is encoded on the calling task into *segments*: the first
//! continues the open file, each later one starts a new file (the writer
//! refused an event, [`FormatWriter::accepts`], so the file was rotated
//! before it). When the first segment would take the file past
//! `max_file_bytes`, the batch is encoded again as the start of a new file
//! (so that file gets its header too). The disk work runs on a blocking
//! thread. If writing fails, the file is cut back to the last complete
//! segment and the writer is dropped: the next batch reopens the file,
//! repairs it and reads its header again, so the writer never believes in
//! bytes that are not on disk.

use std::io::{Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use super::{io_error, open_cut, rotate, FileSinkConfig, FileSinkFormat, OpenFile};
use crate::connector::WriteResult;
use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;
use crate::format::{registry, AppendWriter};

/// The open file and its writer.
#[derive(Debug)]
pub(super) struct Formatted {
    writer: Box<dyn AppendWriter>,
    /// `None` before the first write and after a rotation failed half way.
    open: Option<OpenFile>,
}

/// A new writer of the config's `output_format`, or a `Config` error
/// naming the key (unknown, not built, whole-file only, bad options).
pub(super) fn appender(config: &FileSinkConfig) -> Result<Box<dyn AppendWriter>> {
    let format = registry::lookup("output_format", &config.output_format)?;
    if !format.appendable() {
        return Err(ConnectorError::config(format!(
            "output_format: `{}` makes whole files, which the `file` sink (appending to one \
             file) cannot grow; write them with the `object-storage` sink and `provider: local` \
             (`local: {{root: <directory>}}`), which writes whole files of `batch_size` events",
            config.output_format
        )));
    }
    format
        .appender(&config.format_options_value())
        .map_err(|e| {
            ConnectorError::config(format!(
                "format_options ({}): {}",
                config.output_format,
                e.message()
            ))
        })
}

/// Opens (and repairs) the file and lets the writer continue it.
pub(super) fn open(config: &FileSinkConfig) -> Result<Formatted> {
    let mut writer = appender(config)?;
    let path = &config.path;
    let mut open = open_cut(path, |file, len| writer.complete_len(file, len))?;
    open.file
        .seek(SeekFrom::Start(0))
        .map_err(io_error(path, "seeking"))?;
    let mut head = std::io::Read::take(&mut open.file, open.len);
    writer
        .resume(&mut head, open.len)
        .map_err(|e| e.context(format!("reading {}", path.display())))?;
    open.file
        .seek(SeekFrom::Start(open.len))
        .map_err(io_error(path, "seeking"))?;
    Ok(Formatted {
        writer,
        open: Some(open),
    })
}

/// Encodes `events` into segments; each one after the first starts a new file.
fn encode(
    writer: &mut dyn AppendWriter,
    config: &FileSinkConfig,
    events: &[SourceEvent],
    result: &mut WriteResult,
) -> Result<(Vec<Vec<u8>>, u64)> {
    let mut segments = Vec::new();
    let mut written = 0u64;
    for (index, event) in events.iter().enumerate() {
        let whole;
        let record = match config.format {
            FileSinkFormat::Data => event,
            FileSinkFormat::Event => match serde_json::to_value(event) {
                Ok(value) => {
                    whole = SourceEvent::record(event.stream.clone(), value);
                    &whole
                }
                Err(e) => {
                    result.add_record_failure(
                        index,
                        &ConnectorError::data(format!(
                            "event {index} of stream `{}`: {e}",
                            event.stream
                        )),
                    );
                    continue;
                }
            },
        };
        if !writer.accepts(record) {
            let mut segment = writer.take()?;
            segment.extend(writer.finish()?);
            segments.push(segment);
        }
        match writer.write(record) {
            Ok(()) => written += 1,
            Err(e) => result.add_record_failure(
                index,
                &ConnectorError::data(format!("event {index}: {}", e.message())),
            ),
        }
    }
    segments.push(writer.take()?);
    Ok((segments, written))
}

/// Appends the segments, rotating before each one but the first (and
/// before the first too when `rotate_first`); syncs once at the end.
fn append(
    state: &mut Formatted,
    config: &FileSinkConfig,
    segments: &[Vec<u8>],
    rotate_first: bool,
) -> Result<()> {
    let path = &config.path;
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 || rotate_first {
            if let Some(old) = state.open.take() {
                old.file.sync_data().map_err(io_error(path, "syncing"))?;
            }
            rotate(path, config.fsync)?;
            // The new file is empty: nothing to cut, nothing to resume.
            state.open = Some(open_cut(path, |_, len| Ok(len))?);
        }
        let Some(open) = state.open.as_mut() else {
            return Err(ConnectorError::io(format!(
                "{} is not open",
                path.display()
            )));
        };
        if segment.is_empty() {
            continue;
        }
        let outcome = open
            .file
            .write_all(segment)
            .and_then(|()| open.file.flush());
        match outcome {
            Ok(()) => open.len += segment.len() as u64,
            Err(e) => {
                let _ = open.file.set_len(open.len);
                return Err(io_error(path, "writing")(e));
            }
        }
    }
    if config.fsync {
        if let Some(open) = state.open.as_mut() {
            open.file.sync_data().map_err(io_error(path, "syncing"))?;
        }
    }
    Ok(())
}

/// Writes one batch in the config's `output_format`.
pub(super) async fn write(
    slot: &Arc<Mutex<Option<Formatted>>>,
    config: &FileSinkConfig,
    events: &[SourceEvent],
) -> Result<WriteResult> {
    let needs_open = slot.lock().unwrap_or_else(|p| p.into_inner()).is_none();
    if needs_open {
        let owned = config.clone();
        let opened = tokio::task::spawn_blocking(move || open(&owned))
            .await
            .map_err(|e| ConnectorError::fatal(format!("file open task failed: {e}")))??;
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(opened);
    }
    let (mut result, segments, written, rotate_first) = {
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        let Some(state) = guard.as_mut() else {
            return Err(ConnectorError::io(format!(
                "{} is not open",
                config.path.display()
            )));
        };
        let mut result = WriteResult::new();
        let encoded = encode(&mut *state.writer, config, events, &mut result);
        let Ok((mut segments, mut written)) = encoded else {
            *guard = None; // the writer's state is unknown: start again from the file
            return encoded.map(|_| result);
        };
        let len = state.open.as_ref().map_or(0, |o| o.len);
        let first = segments.first().map_or(0, Vec::len) as u64;
        let rotate_first = config.max_file_bytes > 0
            && len > 0
            && first > 0
            && len + first > config.max_file_bytes;
        if rotate_first {
            // Encoded again as the start of a new file (its header first).
            result = WriteResult::new();
            let encoded = state
                .writer
                .finish()
                .and_then(|_| encode(&mut *state.writer, config, events, &mut result));
            match encoded {
                Ok(again) => (segments, written) = again,
                Err(e) => {
                    *guard = None;
                    return Err(e);
                }
            }
        }
        (result, segments, written, rotate_first)
    };
    let bytes: u64 = segments.iter().map(|s| s.len() as u64).sum();
    if bytes == 0 {
        return Ok(result);
    }
    let shared = slot.clone();
    let owned = config.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = match guard.as_mut() {
            Some(state) => append(state, &owned, &segments, rotate_first),
            None => Err(ConnectorError::io(format!(
                "{} is not open",
                owned.path.display()
            ))),
        };
        if outcome.is_err() {
            // Reopen, repair and re-read the header on the next batch.
            *guard = None;
        }
        outcome
    })
    .await
    .map_err(|e| ConnectorError::fatal(format!("file write task failed: {e}")))?;
    outcome?;
    result.add_success(written, bytes);
    Ok(result)
}
