//! The `csv` format: one row per event, columns from the events' top-level
//! keys (sorted) or given by `columns`; nested values are written as JSON
//! strings, missing and `null` values as `null_value`.
//!
//! Without `columns`, a file's columns are fixed by its first event; an event
//! with a key the file has no column for starts a new file whose columns are
//! the union (the sink asks [`FormatWriter::accepts`] first), so a new field
//! is never dropped. Data that is not an object goes in the column `value`.
//!
//! The writer is also an [`AppendWriter`] for the built-in `file` sink
//! ([`CsvWriter::appending`]): the header is written once, when a file
//! starts; [`take`](AppendWriter::take) hands out the rows of each batch; on
//! reopening an existing file, [`resume`](AppendWriter::resume) reads its
//! header back as the file's columns, and
//! [`complete_len`](AppendWriter::complete_len) finds the end of the last
//! complete row (a quoted field may hold newlines, so the file is scanned
//! from its start, counting quotes: a newline after an even number of quote
//! characters ends a row).

use std::collections::BTreeSet;

use std::io::Read;

use rivven_connect::format::{AppendWriter, FormatWriter, ReadSeek};
use rivven_connect::{ConnectorError, Result, SourceEvent};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use validator::{Validate, ValidationError};

/// Line ending of CSV rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LineEnding {
    /// `\n`.
    #[default]
    Lf,
    /// `\r\n`.
    Crlf,
}

/// Options of the `csv` format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    /// Field delimiter: one character (`,`, `\t`, `;`, `|`, …).
    #[serde(default = "default_delimiter")]
    #[validate(custom(function = "one_ascii_char"))]
    pub delimiter: String,
    /// Write a header row with the column names.
    #[serde(default = "default_true")]
    pub include_header: bool,
    /// Quote character: one character.
    #[serde(default = "default_quote")]
    #[validate(custom(function = "one_ascii_char"))]
    pub quote_char: String,
    /// Quote every field, not only those that need it.
    #[serde(default)]
    pub always_quote: bool,
    /// `lf` (default) or `crlf`.
    #[serde(default)]
    pub line_ending: LineEnding,
    /// What a missing or `null` value is written as.
    #[serde(default = "default_null")]
    pub null_value: String,
    /// Explicit columns, in order (other keys are not written); without it
    /// the columns are the events' keys, sorted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1))]
    pub columns: Option<Vec<String>>,
}

fn default_delimiter() -> String {
    ",".into()
}
fn default_quote() -> String {
    "\"".into()
}
fn default_null() -> String {
    "NULL".into()
}
fn default_true() -> bool {
    true
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: default_delimiter(),
            include_header: true,
            quote_char: default_quote(),
            always_quote: false,
            line_ending: LineEnding::Lf,
            null_value: default_null(),
            columns: None,
        }
    }
}

/// Validator of `delimiter` and `quote_char`: exactly one ASCII character.
fn one_ascii_char(value: &str) -> std::result::Result<(), ValidationError> {
    match value.as_bytes() {
        [b] if b.is_ascii() => Ok(()),
        _ => Err(ValidationError::new("one_char").with_message(
            format!(
                "must be exactly one ASCII character, got {value:?} ({} characters)",
                value.chars().count()
            )
            .into(),
        )),
    }
}

fn one_byte(value: &str, key: &str) -> Result<u8> {
    match value.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(ConnectorError::config(format!(
            "csv.{key}: must be exactly one ASCII character, got {value:?}"
        ))),
    }
}

/// Writes events as CSV rows.
#[derive(Debug)]
pub struct CsvWriter {
    options: CsvOptions,
    delimiter: u8,
    quote: u8,
    /// The columns of the file being written (and of the next one).
    columns: Vec<String>,
    fixed_columns: bool,
    /// Whether the file being written has begun (its header, if any, is out).
    in_file: bool,
    rows: Option<csv::Writer<Vec<u8>>>,
    records: u64,
    bytes: u64,
}

impl CsvWriter {
    /// A CSV writer; fails naming the key of an invalid option.
    pub fn new(options: CsvOptions) -> Result<Self> {
        let delimiter = one_byte(&options.delimiter, "delimiter")?;
        let quote = one_byte(&options.quote_char, "quote_char")?;
        let (columns, fixed_columns) = match &options.columns {
            Some(c) => (c.clone(), true),
            None => (Vec::new(), false),
        };
        Ok(Self {
            options,
            delimiter,
            quote,
            columns,
            fixed_columns,
            in_file: false,
            rows: None,
            records: 0,
            bytes: 0,
        })
    }

    /// A writer for appending to files (the `file` sink): as [`CsvWriter::new`],
    /// and without a header it needs `columns`, since an existing file's
    /// columns could not be known.
    pub fn appending(options: CsvOptions) -> Result<Self> {
        if !options.include_header && options.columns.is_none() {
            return Err(ConnectorError::config(
                "columns: needed with `include_header: false` (the columns of an existing \
                 file are known only from its header or from `columns`)",
            ));
        }
        Self::new(options)
    }

    fn keys(event: &SourceEvent) -> Vec<&str> {
        match &event.data {
            Value::Object(map) => map.keys().map(String::as_str).collect(),
            _ => vec!["value"],
        }
    }

    fn builder(&self) -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .quote(self.quote)
            .quote_style(if self.options.always_quote {
                csv::QuoteStyle::Always
            } else {
                csv::QuoteStyle::Necessary
            })
            .terminator(match self.options.line_ending {
                LineEnding::Lf => csv::Terminator::Any(b'\n'),
                LineEnding::Crlf => csv::Terminator::CRLF,
            })
            .flexible(false)
            .from_writer(Vec::with_capacity(64 * 1024))
    }

    fn field(&self, value: Option<&Value>) -> String {
        match value {
            None | Some(Value::Null) => self.options.null_value.clone(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(nested) => nested.to_string(),
        }
    }
}

fn csv_error(e: csv::Error) -> ConnectorError {
    ConnectorError::io(format!("writing CSV: {e}"))
}

impl FormatWriter for CsvWriter {
    fn name(&self) -> &'static str {
        "csv"
    }
    fn extension(&self) -> &'static str {
        "csv"
    }

    fn accepts(&self, event: &SourceEvent) -> bool {
        self.fixed_columns
            || !self.in_file
            || Self::keys(event)
                .iter()
                .all(|k| self.columns.iter().any(|c| c == k))
    }

    fn write(&mut self, event: &SourceEvent) -> Result<()> {
        if !self.accepts(event) {
            return Err(ConnectorError::schema(format!(
                "an event of stream `{}` has a key this CSV file has no column for",
                event.stream
            )));
        }
        if !self.in_file && !self.fixed_columns {
            // The next file's columns: what the earlier files had and this event's keys.
            let mut all: BTreeSet<String> = self.columns.drain(..).collect();
            all.extend(Self::keys(event).into_iter().map(str::to_owned));
            self.columns = all.into_iter().collect();
        }
        let fields: Vec<String> = match &event.data {
            Value::Object(map) => self
                .columns
                .iter()
                .map(|c| self.field(map.get(c)))
                .collect(),
            other => self
                .columns
                .iter()
                .map(|c| self.field((c == "value").then_some(other)))
                .collect(),
        };
        if self.rows.is_none() {
            let mut rows = self.builder();
            if self.options.include_header && !self.in_file {
                rows.write_record(&self.columns).map_err(csv_error)?;
                self.bytes += self.columns.iter().map(|c| c.len() as u64 + 1).sum::<u64>();
            }
            self.rows = Some(rows);
        }
        let Some(rows) = self.rows.as_mut() else {
            return Err(ConnectorError::fatal("CSV writer not open"));
        };
        rows.write_record(&fields).map_err(csv_error)?;
        self.in_file = true;
        self.bytes += fields.iter().map(|f| f.len() as u64 + 1).sum::<u64>();
        self.records += 1;
        Ok(())
    }

    fn records(&self) -> u64 {
        self.records
    }
    fn bytes(&self) -> u64 {
        self.bytes
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        self.records = 0;
        self.bytes = 0;
        self.in_file = false;
        self.take()
    }
}

impl AppendWriter for CsvWriter {
    fn take(&mut self) -> Result<Vec<u8>> {
        match self.rows.take() {
            None => Ok(Vec::new()),
            Some(rows) => rows
                .into_inner()
                .map_err(|e| ConnectorError::io(format!("writing CSV: {}", e.error()))),
        }
    }

    fn complete_len(&self, file: &mut dyn ReadSeek, len: u64) -> Result<u64> {
        file.seek(std::io::SeekFrom::Start(0))?;
        let mut in_quotes = false;
        let mut complete = 0u64;
        let mut header_end = None;
        let mut pos = 0u64;
        let mut chunk = vec![0u8; 64 * 1024];
        let mut rest = Read::take(&mut *file, len);
        loop {
            let n = rest.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            for i in memchr::memchr2_iter(self.quote, b'\n', &chunk[..n]) {
                if chunk[i] == self.quote {
                    in_quotes = !in_quotes;
                } else if !in_quotes {
                    complete = pos + i as u64 + 1;
                    header_end.get_or_insert(complete);
                }
            }
            pos += n as u64;
        }
        // A file with nothing but its header starts again (with the
        // columns of the first event it gets).
        if self.options.include_header && header_end == Some(complete) {
            return Ok(0);
        }
        Ok(complete)
    }

    fn resume(&mut self, file: &mut dyn Read, len: u64) -> Result<()> {
        self.finish()?;
        if len == 0 {
            return Ok(());
        }
        if self.options.include_header {
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(self.delimiter)
                .quote(self.quote)
                .has_headers(true)
                .from_reader(file);
            let header: Vec<String> = reader
                .headers()
                .map_err(|e| ConnectorError::data(format!("reading the CSV header: {e}")))?
                .iter()
                .map(str::to_owned)
                .collect();
            if self.fixed_columns && header != self.columns {
                return Err(ConnectorError::config(format!(
                    "columns: the file's header is {header:?}, not {:?}; write to another \
                     path or change `columns`",
                    self.columns
                )));
            }
            self.columns = header;
        }
        self.in_file = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(w: &mut CsvWriter, data: &[Value]) -> String {
        for d in data {
            w.write(&SourceEvent::record("s", d.clone()))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        String::from_utf8(w.finish().unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn sorted_header_nested_json_and_nulls() {
        let mut w = CsvWriter::new(CsvOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let text = rows(
            &mut w,
            &[
                json!({"name": "Alice", "id": 1, "active": true}),
                json!({"name": "Bob", "id": 2, "active": null}),
            ],
        );
        assert_eq!(text, "active,id,name\ntrue,1,Alice\nNULL,2,Bob\n");
        let text = rows(&mut w, &[json!({"id": 1, "data": {"nested": "value"}})]);
        assert_eq!(
            text,
            "active,data,id,name\nNULL,\"{\"\"nested\"\":\"\"value\"\"}\",1,NULL\n"
        );
    }

    #[test]
    fn options_shape_the_output() {
        let options = CsvOptions {
            delimiter: "\t".into(),
            include_header: false,
            quote_char: "'".into(),
            always_quote: true,
            line_ending: LineEnding::Crlf,
            null_value: String::new(),
            columns: Some(vec!["b".into(), "a".into()]),
        };
        let mut w = CsvWriter::new(options).unwrap_or_else(|e| panic!("{e}"));
        assert!(w.accepts(&SourceEvent::record("s", json!({"zzz": 1}))));
        let text = rows(
            &mut w,
            &[json!({"a": "it's", "b": 2, "c": 3}), json!({"a": 1})],
        );
        assert_eq!(text, "'2'\t'it''s'\r\n''\t'1'\r\n");
    }

    #[test]
    fn a_new_key_needs_a_new_file() {
        let mut w = CsvWriter::new(CsvOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        w.write(&SourceEvent::record("s", json!({"a": 1})))
            .unwrap_or_else(|e| panic!("{e}"));
        let wider = SourceEvent::record("s", json!({"a": 2, "b": 3}));
        assert!(!w.accepts(&wider));
        assert!(w.write(&wider).is_err());
        assert!(w.accepts(&SourceEvent::record("s", json!({}))));
    }

    #[test]
    fn appending_writes_the_header_once_and_resumes_from_a_file() {
        let mut w = CsvWriter::appending(CsvOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        w.write(&SourceEvent::record("s", json!({"b": 1, "a": "x"})))
            .unwrap_or_else(|e| panic!("{e}"));
        let first = w.take().unwrap_or_default();
        w.write(&SourceEvent::record("s", json!({"a": "y"})))
            .unwrap_or_else(|e| panic!("{e}"));
        let second = w.take().unwrap_or_default();
        assert_eq!(first, b"a,b\nx,1\n");
        assert_eq!(second, b"y,NULL\n");

        // A torn row after them is not complete; a header alone counts as empty.
        let mut file = [first.clone(), second.clone(), b"z,\"par".to_vec()].concat();
        let len = file.len() as u64;
        let good = w
            .complete_len(&mut std::io::Cursor::new(&mut file), len)
            .unwrap_or_default();
        assert_eq!(good, (first.len() + second.len()) as u64);
        let quoted = b"a,b\n\"two\nlines\",1\n\"open\nrow".to_vec();
        let good = w
            .complete_len(&mut std::io::Cursor::new(&quoted), quoted.len() as u64)
            .unwrap_or_default();
        assert_eq!(good, 18);
        let header_only = b"a,b\nx".to_vec();
        let good = w
            .complete_len(&mut std::io::Cursor::new(&header_only), 5)
            .unwrap_or(99);
        assert_eq!(good, 0);

        let mut again =
            CsvWriter::appending(CsvOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let existing = [first, second].concat();
        again
            .resume(&mut existing.as_slice(), existing.len() as u64)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!again.accepts(&SourceEvent::record("s", json!({"c": 1}))));
        again
            .write(&SourceEvent::record("s", json!({"b": 3})))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.take().unwrap_or_default(), b"NULL,3\n");
    }

    #[test]
    fn appending_without_a_header_needs_columns() {
        let options = CsvOptions {
            include_header: false,
            ..CsvOptions::default()
        };
        let err = CsvWriter::appending(options)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("columns: needed"), "{err}");
    }

    #[test]
    fn two_character_delimiter_is_refused_naming_the_key() {
        let options = CsvOptions {
            delimiter: ";;".into(),
            ..CsvOptions::default()
        };
        assert!(options.validate().is_err());
        let err = CsvWriter::new(options)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("csv.delimiter"), "{err}");
    }
}
