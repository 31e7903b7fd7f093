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

use crate::error::{ConnectorError, Result};
use crate::event::SourceEvent;

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
