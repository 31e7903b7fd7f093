//! Reading objects back: the rows of a `json`, `jsonl` or `csv` file,
//! decompressed by its extension — the inverse of the format writers, used
//! by the `object-storage` source. [`CsvRecordReader`] decodes CSV rows one
//! by one with the same rules, for the built-in `file` source (registered as
//! the `csv` format's reader).

use rivven_connect::format::RecordReader;
use rivven_connect::{ConnectorError, Result};
use serde_json::{Map, Value};

use crate::csv::CsvOptions;
use crate::format::Format;

/// The rows of one (decompressed) file; a row that cannot be read is an
/// `Err` in its place (a `Data` error naming the object and the row).
pub fn rows(
    name: &str,
    format: Format,
    data: &[u8],
    csv: &CsvOptions,
) -> Result<Vec<Result<Value>>> {
    match format {
        Format::Jsonl => Ok(data
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
            .map(|(i, line)| {
                serde_json::from_slice(line).map_err(|e| {
                    ConnectorError::data(format!("{name}: line {} is not JSON: {e}", i + 1))
                        .with_raw_record(line.to_vec())
                })
            })
            .collect()),
        Format::Json => {
            let all: Value = serde_json::from_slice(data)
                .map_err(|e| ConnectorError::data(format!("{name}: not a JSON array: {e}")))?;
            match all {
                Value::Array(items) => Ok(items.into_iter().map(Ok).collect()),
                _ => Err(ConnectorError::data(format!("{name}: not a JSON array"))),
            }
        }
        Format::Csv => csv_rows(name, data, csv),
        #[cfg(feature = "parquet")]
        Format::Parquet => parquet_rows(name, data),
        #[cfg(feature = "avro")]
        Format::Avro => avro_rows(name, data),
        #[allow(unreachable_patterns)]
        Format::Parquet | Format::Avro => Err(ConnectorError::config(format!(
            "{name}: reading `{}` objects needs the `{}` feature",
            format.name(),
            format.name()
        ))),
    }
}

/// The rows of a Parquet file, each as the JSON object arrow-json makes of it.
#[cfg(feature = "parquet")]
fn parquet_rows(name: &str, data: &[u8]) -> Result<Vec<Result<Value>>> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let failed = |e: &dyn std::fmt::Display| ConnectorError::data(format!("{name}: Parquet: {e}"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(data))
        .and_then(|b| b.build())
        .map_err(|e| failed(&e))?;
    let mut lines = arrow_json::LineDelimitedWriter::new(Vec::new());
    for batch in reader {
        let batch = batch.map_err(|e| failed(&e))?;
        lines.write(&batch).map_err(|e| failed(&e))?;
    }
    lines.finish().map_err(|e| failed(&e))?;
    let text = lines.into_inner();
    rows(name, Format::Jsonl, &text, &CsvOptions::default())
}

/// The records of an Avro object container file as JSON (unions unwrapped).
#[cfg(feature = "avro")]
fn avro_rows(name: &str, data: &[u8]) -> Result<Vec<Result<Value>>> {
    let reader = apache_avro::Reader::new(data)
        .map_err(|e| ConnectorError::data(format!("{name}: Avro: {e}")))?;
    Ok(reader
        .enumerate()
        .map(|(i, record)| {
            record
                .and_then(Value::try_from)
                .map_err(|e| ConnectorError::data(format!("{name}: Avro record {}: {e}", i + 1)))
        })
        .collect())
}

/// A CSV field back as a value: `null_value` is null; `true`/`false`, numbers,
/// and `{…}`/`[…]` that parse as JSON are read as such; the rest are strings.
fn field(text: &str, null_value: &str) -> Value {
    if text == null_value {
        return Value::Null;
    }
    let looks_typed = matches!(text, "true" | "false")
        || text.starts_with('{')
        || text.starts_with('[')
        || text
            .bytes()
            .next()
            .is_some_and(|b| b == b'-' || b.is_ascii_digit());
    if looks_typed {
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            if !v.is_string() {
                return v;
            }
        }
    }
    Value::String(text.to_string())
}

/// One CSV option that must be a single byte.
fn byte(s: &str, key: &str) -> Result<u8> {
    match s.as_bytes() {
        [b] => Ok(*b),
        _ => Err(ConnectorError::config(format!(
            "csv.{key}: must be one character"
        ))),
    }
}

/// A CSV record as an object of `columns`.
fn row(columns: &[String], record: &csv::StringRecord, null_value: &str) -> Value {
    let mut row = Map::new();
    for (column, text) in columns.iter().zip(record.iter()) {
        row.insert(column.clone(), field(text, null_value));
    }
    Value::Object(row)
}

/// Decodes CSV rows one by one with the columns of the file's header (or
/// `columns` without one); values come back typed as in [`rows`].
#[derive(Debug)]
pub struct CsvRecordReader {
    options: CsvOptions,
    delimiter: u8,
    quote: u8,
    columns: Vec<String>,
}

impl CsvRecordReader {
    /// A reader; without a header it needs `columns`.
    pub fn new(options: CsvOptions) -> Result<Self> {
        let delimiter = byte(&options.delimiter, "delimiter")?;
        let quote = byte(&options.quote_char, "quote_char")?;
        let columns = match (&options.columns, options.include_header) {
            (_, true) => Vec::new(),
            (Some(columns), false) => columns.clone(),
            (None, false) => {
                return Err(ConnectorError::config(
                    "columns: needed to read CSV without a header",
                ))
            }
        };
        Ok(Self {
            options,
            delimiter,
            quote,
            columns,
        })
    }

    fn record(&self, bytes: &[u8]) -> Result<csv::StringRecord> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .quote(self.quote)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(bytes.len().clamp(64, 64 * 1024))
            .from_reader(bytes);
        let mut record = csv::StringRecord::new();
        match reader.read_record(&mut record) {
            Ok(true) => Ok(record),
            Ok(false) => Ok(csv::StringRecord::new()),
            Err(e) => Err(ConnectorError::data(format!("invalid CSV ({e})"))),
        }
    }
}

impl RecordReader for CsvRecordReader {
    fn quote(&self) -> Option<u8> {
        Some(self.quote)
    }

    fn has_header(&self) -> bool {
        self.options.include_header
    }

    fn header(&mut self, record: &[u8]) -> Result<()> {
        self.columns = self.record(record)?.iter().map(str::to_owned).collect();
        Ok(())
    }

    fn decode(&mut self, record: &[u8]) -> Result<Value> {
        let fields = self.record(record)?;
        if fields.len() != self.columns.len() {
            return Err(ConnectorError::data(format!(
                "a CSV row of {} fields where the header has {}",
                fields.len(),
                self.columns.len()
            )));
        }
        Ok(row(&self.columns, &fields, &self.options.null_value))
    }
}

fn csv_rows(name: &str, data: &[u8], options: &CsvOptions) -> Result<Vec<Result<Value>>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(byte(&options.delimiter, "delimiter")?)
        .quote(byte(&options.quote_char, "quote_char")?)
        .has_headers(options.include_header)
        .flexible(true)
        .from_reader(data);
    let columns: Vec<String> = if options.include_header {
        reader
            .headers()
            .map_err(|e| ConnectorError::data(format!("{name}: CSV header: {e}")))?
            .iter()
            .map(str::to_owned)
            .collect()
    } else {
        options.columns.clone().ok_or_else(|| {
            ConnectorError::config("csv.columns: needed to read CSV without a header")
        })?
    };
    Ok(reader
        .records()
        .enumerate()
        .map(|(i, record)| {
            let record = record
                .map_err(|e| ConnectorError::data(format!("{name}: CSV row {}: {e}", i + 1)))?;
            Ok(row(&columns, &record, &options.null_value))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_fields_come_back_typed() {
        let data = b"a,b,c,d,e\n1,NULL,\"{\"\"x\"\":1}\",true,-2.5\n007,x,[1],false,\n";
        let rows = rows("o.csv", Format::Csv, data, &CsvOptions::default()).unwrap_or_default();
        let rows: Vec<Value> = rows.into_iter().filter_map(|r| r.ok()).collect();
        assert_eq!(
            rows[0],
            json!({"a": 1, "b": null, "c": {"x": 1}, "d": true, "e": -2.5})
        );
        assert_eq!(
            rows[1],
            json!({"a": "007", "b": "x", "c": [1], "d": false, "e": ""})
        );
    }

    #[test]
    fn the_record_reader_reads_rows_as_the_whole_file_reader_does() {
        let options = CsvOptions {
            delimiter: ";".into(),
            ..CsvOptions::default()
        };
        let mut reader = CsvRecordReader::new(options).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reader.quote(), Some(b'"'));
        assert!(reader.has_header());
        reader.header(b"a;b;c").unwrap_or_else(|e| panic!("{e}"));
        let row = reader
            .decode(b"1;\"x;\ny\";\"{\"\"k\"\":[1]}\"")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(row, json!({"a": 1, "b": "x;\ny", "c": {"k": [1]}}));
        let err = reader.decode(b"1;2").err().map(|e| e.to_string());
        assert!(err
            .unwrap_or_default()
            .contains("2 fields where the header has 3"));
        let headerless = CsvOptions {
            include_header: false,
            ..CsvOptions::default()
        };
        assert!(CsvRecordReader::new(headerless).is_err());
    }

    #[test]
    fn a_bad_jsonl_line_is_an_error_in_its_place() {
        let rows = rows(
            "o.jsonl",
            Format::Jsonl,
            b"{\"id\":1}\nnope\n\n{\"id\":2}\n",
            &CsvOptions::default(),
        )
        .unwrap_or_default();
        assert_eq!(rows.len(), 3);
        assert!(rows[1].is_err());
        assert_eq!(rows[2].as_ref().ok(), Some(&json!({"id": 2})));
    }
}
