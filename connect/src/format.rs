//! Output formats: how a batch of events becomes the bytes of one file or
//! object. Formats are *how* data is serialized; sinks are *where* it goes.
//!
//! A [`FormatWriter`] takes events one by one (each event's `data`) and
//! [`finish`](FormatWriter::finish)es into one complete file. This crate
//! has the two dependency-free formats, [`JsonlWriter`] (`jsonl`, one JSON
//! value per line) and [`JsonArrayWriter`] (`json`, one JSON array);
//! `rivven-connect-storage` adds `csv` (and Parquet and Avro by feature)
//! and output compression.
//!
//! Two more traits serve the built-in `file` connectors, which grow one file
//! instead of writing whole ones: an [`AppendWriter`] continues an existing
//! file (a CSV header is written once, when the file starts; on reopening,
//! it is read back and the torn tail a crash left is found), and a
//! [`RecordReader`] decodes the records of such a file one by one, so the
//! `file` source can resume at a byte offset. Formats are found by name in
//! the [`registry`]: every crate linked into a binary registers its own
//! (`inventory`), so `rivven-connect` needs no list of them.
//!
//! ```
//! use rivven_connect::format::{FormatWriter, JsonlWriter, JsonArrayWriter};
//! use rivven_connect::SourceEvent;
//!
//! let events = [
//!     SourceEvent::record("orders", serde_json::json!({"id": 1})),
//!     SourceEvent::record("orders", serde_json::json!({"id": 2})),
//! ];
//! let mut jsonl = JsonlWriter::new();
//! for e in &events {
//!     jsonl.write(e).unwrap();
//! }
//! assert_eq!(jsonl.records(), 2);
//! assert_eq!(jsonl.finish().unwrap(), b"{\"id\":1}\n{\"id\":2}\n");
//! assert_eq!(jsonl.extension(), "jsonl");
//!
//! let mut json = JsonArrayWriter::new();
//! for e in &events {
//!     json.write(e).unwrap();
//! }
//! assert_eq!(json.finish().unwrap(), b"[\n{\"id\":1},\n{\"id\":2}\n]\n");
//! ```

use std::io::{Read, Seek, SeekFrom};

use serde_json::Value;

use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;

pub mod registry;

pub use registry::FormatRegistration;

/// Serializes events into one file (or object) of one format.
///
/// `write` appends one event; when it fails (a value the format cannot
/// represent), nothing of that event was written and the writer is still
/// usable, so the sink reports just that event as failed.
/// [`finish`](FormatWriter::finish) returns the complete file and leaves the
/// writer empty, ready for the next file.
pub trait FormatWriter: Send + std::fmt::Debug {
    /// The format's name in configurations (`jsonl`, `csv`, …).
    fn name(&self) -> &'static str;

    /// The file extension without the dot (`jsonl`, `csv`, `parquet`).
    fn extension(&self) -> &'static str;

    /// Append one event (its `data`).
    fn write(&mut self, event: &SourceEvent) -> Result<()>;

    /// Whether `event` fits the file being written. A format with a fixed
    /// schema per file (Parquet, Avro, CSV with a header) answers `false` for
    /// an event that needs a wider schema: the sink then finishes this file
    /// and writes the event to the next one. The default takes everything.
    fn accepts(&self, _event: &SourceEvent) -> bool {
        true
    }

    /// Events written since the last `finish`.
    fn records(&self) -> u64;

    /// Size of the file so far in bytes (an estimate for formats that
    /// encode at `finish`).
    fn bytes(&self) -> u64;

    /// Complete the file and return it; the writer starts afresh.
    fn finish(&mut self) -> Result<Vec<u8>>;
}

/// A file that can be read and sought (what [`AppendWriter`] inspects).
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// A [`FormatWriter`] whose files grow by appending records (`jsonl`, `csv`):
/// what the `file` sink needs to keep one file open across batches and
/// across restarts.
///
/// Per batch the sink [`write`](FormatWriter::write)s the events and
/// [`take`](AppendWriter::take)s the bytes to append. When
/// [`accepts`](FormatWriter::accepts) is `false` (a CSV event with a new
/// key), it takes the bytes so far, calls [`finish`](FormatWriter::finish)
/// and starts the next file with that event. On opening an existing file, it
/// cuts the file to [`complete_len`](AppendWriter::complete_len) and calls
/// [`resume`](AppendWriter::resume).
pub trait AppendWriter: FormatWriter {
    /// The bytes of the records written since the last `take` (a header
    /// first when they start a file); the file stays open, so the next
    /// `write` continues it.
    fn take(&mut self) -> Result<Vec<u8>>;

    /// How many bytes at the start of `file` (`len` bytes long) are complete
    /// records; a crash mid-write leaves a partial record after them. A file
    /// holding nothing but a header counts as empty (0).
    fn complete_len(&self, file: &mut dyn ReadSeek, len: u64) -> Result<u64>;

    /// Continue an existing file of complete records (read from its start;
    /// a format with a header reads it to learn the file's columns). An
    /// empty file starts afresh.
    fn resume(&mut self, file: &mut dyn Read, len: u64) -> Result<()>;
}

/// Decodes the records of one file, one at a time: how the `file` source
/// reads a format other than its own `jsonl` and `text`.
///
/// The source splits the file into records at newlines — except newlines
/// inside a quoted field when the format has a [`quote`](RecordReader::quote)
/// byte (CSV) — so it can keep its byte offset per record and resume there.
pub trait RecordReader: Send + std::fmt::Debug {
    /// The quote byte inside which a newline does not end a record (CSV's `"`).
    fn quote(&self) -> Option<u8> {
        None
    }

    /// Whether the first record of a file is a header (read with
    /// [`header`](RecordReader::header), never emitted).
    fn has_header(&self) -> bool {
        false
    }

    /// Learn the file's header record (bytes without the line terminator).
    fn header(&mut self, _record: &[u8]) -> Result<()> {
        Ok(())
    }

    /// The event data of one record (bytes without the line terminator).
    /// Errors are `Data` errors; the source adds where the record is.
    fn decode(&mut self, record: &[u8]) -> Result<Value>;
}

/// Length of `file` up to and including its last newline: the complete
/// lines of a line-based file (what is after them is a torn line).
pub fn complete_lines_len(file: &mut dyn ReadSeek, len: u64) -> std::io::Result<u64> {
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

fn data_error(event: &SourceEvent, format: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::data(format!(
        "an event of stream `{}` cannot be written as {format}: {e}",
        event.stream
    ))
}

/// JSON Lines: each event's `data` as one line of JSON (`.jsonl`).
#[derive(Debug, Default)]
pub struct JsonlWriter {
    buf: Vec<u8>,
    records: u64,
}

impl JsonlWriter {
    /// An empty JSON Lines file.
    pub fn new() -> Self {
        Self::default()
    }
}

impl FormatWriter for JsonlWriter {
    fn name(&self) -> &'static str {
        "jsonl"
    }
    fn extension(&self) -> &'static str {
        "jsonl"
    }
    fn write(&mut self, event: &SourceEvent) -> Result<()> {
        let start = self.buf.len();
        match serde_json::to_writer(&mut self.buf, &event.data) {
            Ok(()) => {
                self.buf.push(b'\n');
                self.records += 1;
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(start);
                Err(data_error(event, "JSON", e))
            }
        }
    }
    fn records(&self) -> u64 {
        self.records
    }
    fn bytes(&self) -> u64 {
        self.buf.len() as u64
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        self.records = 0;
        Ok(std::mem::take(&mut self.buf))
    }
}

impl AppendWriter for JsonlWriter {
    fn take(&mut self) -> Result<Vec<u8>> {
        Ok(std::mem::take(&mut self.buf))
    }
    fn complete_len(&self, file: &mut dyn ReadSeek, len: u64) -> Result<u64> {
        complete_lines_len(file, len).map_err(ConnectorError::from)
    }
    fn resume(&mut self, _file: &mut dyn Read, _len: u64) -> Result<()> {
        Ok(())
    }
}

/// Reads JSON Lines: each record one JSON value.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonlReader;

impl RecordReader for JsonlReader {
    fn decode(&mut self, record: &[u8]) -> Result<Value> {
        serde_json::from_slice(record)
            .map_err(|e| ConnectorError::data(format!("invalid JSON ({e})")))
    }
}

/// One JSON array of every event's `data`, one element per line (`.json`).
#[derive(Debug, Default)]
pub struct JsonArrayWriter {
    buf: Vec<u8>,
    records: u64,
}

impl JsonArrayWriter {
    /// An empty JSON array file.
    pub fn new() -> Self {
        Self::default()
    }
}

impl FormatWriter for JsonArrayWriter {
    fn name(&self) -> &'static str {
        "json"
    }
    fn extension(&self) -> &'static str {
        "json"
    }
    fn write(&mut self, event: &SourceEvent) -> Result<()> {
        let start = self.buf.len();
        self.buf
            .extend_from_slice(if self.records == 0 { b"[\n" } else { b",\n" });
        match serde_json::to_writer(&mut self.buf, &event.data) {
            Ok(()) => {
                self.records += 1;
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(start);
                Err(data_error(event, "JSON", e))
            }
        }
    }
    fn records(&self) -> u64 {
        self.records
    }
    fn bytes(&self) -> u64 {
        self.buf.len() as u64 + 3
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        if self.records == 0 {
            self.buf.extend_from_slice(b"[");
        }
        self.buf.extend_from_slice(b"\n]\n");
        self.records = 0;
        Ok(std::mem::take(&mut self.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn json_array_parses_back_empty_and_full() {
        let mut w = JsonArrayWriter::new();
        let empty: Value =
            serde_json::from_slice(&w.finish().unwrap_or_default()).unwrap_or_default();
        assert_eq!(empty, json!([]));
        for i in 0..3 {
            w.write(&SourceEvent::record(
                "s",
                json!({"id": i, "deep": {"x": [i]}}),
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(w.records(), 3);
        let back: Value =
            serde_json::from_slice(&w.finish().unwrap_or_default()).unwrap_or_default();
        assert_eq!(back[2], json!({"id": 2, "deep": {"x": [2]}}));
        assert_eq!(w.records(), 0);
    }
}
