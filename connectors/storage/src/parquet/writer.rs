//! The Parquet writer (feature `parquet`).

use std::sync::Arc;

use arrow_json::reader::infer_json_schema_from_iterator;
use arrow_json::ReaderBuilder;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression as Codec;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use rivven_connect::format::FormatWriter;
use rivven_connect::{ConnectorError, Result, SourceEvent};
use serde_json::{Map, Value};

use super::{CdcLayout, ColumnType, ParquetColumn, ParquetCompression, ParquetOptions};

fn codec(c: ParquetCompression) -> Result<Codec> {
    Ok(match c {
        ParquetCompression::None => Codec::UNCOMPRESSED,
        ParquetCompression::Snappy => Codec::SNAPPY,
        ParquetCompression::Gzip => Codec::GZIP(Default::default()),
        ParquetCompression::Lz4 => Codec::LZ4_RAW,
        ParquetCompression::Zstd => Codec::ZSTD(Default::default()),
        #[cfg(feature = "parquet-brotli")]
        ParquetCompression::Brotli => Codec::BROTLI(Default::default()),
        #[cfg(not(feature = "parquet-brotli"))]
        ParquetCompression::Brotli => {
            return Err(ConnectorError::config(
                "parquet.compression: `brotli` needs the `parquet-brotli` feature",
            ))
        }
    })
}

/// Whether `value` can be written into a column of type `ty`.
fn fits(value: &Value, ty: &DataType) -> bool {
    match (value, ty) {
        (Value::Null, _) => true,
        (_, DataType::Utf8) => !matches!(value, Value::Object(_) | Value::Array(_)),
        (Value::Bool(_), DataType::Boolean) => true,
        (Value::Number(n), DataType::Int64) => n.is_i64(),
        (Value::Number(_), DataType::Float64) => true,
        (Value::Array(items), DataType::List(item)) => {
            items.iter().all(|v| fits(v, item.data_type()))
        }
        (Value::Object(map), DataType::Struct(fields)) => map.iter().all(|(k, v)| {
            fields
                .iter()
                .find(|f| f.name() == k)
                .is_some_and(|f| fits(v, f.data_type()))
        }),
        _ => false,
    }
}

/// The Arrow type of a given column type.
fn arrow_type(ty: &ColumnType) -> DataType {
    match ty {
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float32 => DataType::Float32,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::String | ColumnType::Json => DataType::Utf8,
        ColumnType::Date => DataType::Date32,
        ColumnType::TimestampMs => {
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into()))
        }
        ColumnType::TimestampUs => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
        }
        ColumnType::List(item) => {
            DataType::List(Arc::new(Field::new("item", arrow_type(item), true)))
        }
    }
}

/// The Arrow schema of `parquet.schema` (every column nullable).
fn given_schema(columns: &[ParquetColumn]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(&c.ty), true))
            .collect::<Vec<_>>(),
    ))
}

/// `value` as its column of type `ty` takes it (a `json` value as its
/// text), or why it does not fit.
fn conform(value: Value, ty: &ColumnType) -> std::result::Result<Value, String> {
    let fits = match (&value, ty) {
        (Value::Null, _) => true,
        (_, ColumnType::Json) => return Ok(Value::String(value.to_string())),
        (Value::String(_), ColumnType::String) => true,
        (Value::Number(_) | Value::Bool(_), ColumnType::String) => {
            return Ok(Value::String(value.to_string()))
        }
        (Value::Bool(_), ColumnType::Boolean) => true,
        (Value::Number(n), ColumnType::Int32) => {
            n.as_i64().is_some_and(|i| i32::try_from(i).is_ok())
        }
        (Value::Number(n), ColumnType::Int64) => n.is_i64(),
        (Value::Number(n), ColumnType::Float64) => n.as_f64().is_some_and(f64::is_finite),
        (Value::Number(n), ColumnType::Float32) => n
            .as_f64()
            .is_some_and(|f| f.is_finite() && f.abs() <= f64::from(f32::MAX)),
        (Value::String(s), ColumnType::Date) => {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        }
        (Value::String(s), ColumnType::TimestampMs | ColumnType::TimestampUs) => {
            chrono::DateTime::parse_from_rfc3339(s).is_ok()
        }
        (Value::Number(n), ColumnType::TimestampMs | ColumnType::TimestampUs) => n.is_i64(),
        (Value::Array(_), ColumnType::List(item)) => {
            let Value::Array(items) = value else {
                return Err(String::new());
            };
            return items
                .into_iter()
                .map(|v| conform(v, item))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map(Value::Array);
        }
        _ => false,
    };
    if fits {
        Ok(value)
    } else {
        let shown: String = value.to_string().chars().take(60).collect();
        Err(format!("{shown} is not a {}", String::from(ty.clone())))
    }
}

/// Writes events as one Parquet file.
#[derive(Debug)]
pub struct ParquetWriter {
    options: ParquetOptions,
    properties: WriterProperties,
    rows: Vec<Value>,
    /// `parquet.schema`, when given.
    given: Option<SchemaRef>,
    /// Its column types by name (looked up once per field of each event).
    given_types: std::collections::HashMap<String, ColumnType>,
    schema: Option<SchemaRef>,
    file: Option<ArrowWriter<Vec<u8>>>,
    records: u64,
    bytes: u64,
}

impl ParquetWriter {
    /// A Parquet writer; fails naming the key of an option this build lacks.
    pub fn new(options: ParquetOptions) -> Result<Self> {
        let statistics = if options.enable_statistics {
            EnabledStatistics::Page
        } else {
            EnabledStatistics::None
        };
        let properties = WriterProperties::builder()
            .set_compression(codec(options.compression)?)
            .set_max_row_group_row_count(Some(options.row_group_size.max(1)))
            .set_statistics_enabled(statistics)
            .set_data_page_size_limit(options.data_page_size)
            .set_dictionary_page_size_limit(options.dictionary_page_size)
            .build();
        let given = options.schema.as_deref().map(given_schema);
        let given_types = options
            .schema
            .iter()
            .flatten()
            .map(|c| (c.name.clone(), c.ty.clone()))
            .collect();
        Ok(Self {
            options,
            properties,
            rows: Vec::new(),
            schema: given.clone(),
            given,
            given_types,
            file: None,
            records: 0,
            bytes: 0,
        })
    }

    /// The row an event becomes.
    fn row(&self, event: &SourceEvent) -> Value {
        let data = &event.data;
        if self.options.cdc == CdcLayout::Flatten {
            if let (Some(op), true) = (
                data.get("op"),
                data.get("after").is_some() || data.get("before").is_some(),
            ) {
                let state = match (op.as_str(), data.get("after"), data.get("before")) {
                    (Some("d"), _, Some(before)) => before,
                    (_, Some(after), _) if !after.is_null() => after,
                    (_, _, Some(before)) => before,
                    (_, Some(after), _) => after,
                    _ => &Value::Null,
                };
                let mut row = match state {
                    Value::Object(m) => m.clone(),
                    _ => Map::new(),
                };
                row.insert("_op".into(), op.clone());
                row.insert(
                    "_ts_ms".into(),
                    data.get("ts_ms").cloned().unwrap_or(Value::Null),
                );
                return Value::Object(row);
            }
        }
        match data {
            Value::Object(_) => data.clone(),
            other => {
                let mut row = Map::new();
                row.insert("value".into(), other.clone());
                Value::Object(row)
            }
        }
    }

    /// The row of `event` in the given schema's terms, or an error naming
    /// the column that does not fit.
    fn given_row(&self, event: &SourceEvent) -> Result<Value> {
        let Value::Object(row) = self.row(event) else {
            return Err(ConnectorError::schema("not an object"));
        };
        let mut out = Map::with_capacity(row.len());
        for (key, value) in row {
            let Some(ty) = self.given_types.get(&key) else {
                return Err(ConnectorError::schema(format!(
                    "an event of stream `{}` has column `{key}`, which parquet.schema lacks",
                    event.stream
                )));
            };
            let value = conform(value, ty).map_err(|why| {
                ConnectorError::schema(format!(
                    "an event of stream `{}` does not fit parquet.schema: column `{key}`: {why}",
                    event.stream
                ))
            })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }

    fn fits_schema(&self, row: &Value) -> bool {
        let Some(schema) = &self.schema else {
            return true;
        };
        match row {
            Value::Object(map) => map.iter().all(|(k, v)| {
                schema
                    .field_with_name(k)
                    .is_ok_and(|f| fits(v, f.data_type()))
            }),
            _ => false,
        }
    }

    fn schema_error(e: impl std::fmt::Display) -> ConnectorError {
        ConnectorError::schema(format!("writing Parquet: {e}"))
    }

    /// Encodes the buffered rows as one row group (inferring the file's
    /// schema from the first).
    fn flush_group(&mut self) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let schema = match &self.schema {
            Some(s) => s.clone(),
            None => {
                let inferred = infer_json_schema_from_iterator(self.rows.iter().map(Ok))
                    .map_err(Self::schema_error)?;
                let schema: SchemaRef = Arc::new(inferred);
                self.schema = Some(schema.clone());
                schema
            }
        };
        if self.file.is_none() {
            let writer = ArrowWriter::try_new(
                Vec::with_capacity(1 << 20),
                schema.clone(),
                Some(self.properties.clone()),
            )
            .map_err(Self::schema_error)?;
            self.file = Some(writer);
        }
        let mut decoder = ReaderBuilder::new(schema)
            .with_coerce_primitive(true)
            .with_batch_size(self.rows.len())
            .build_decoder()
            .map_err(Self::schema_error)?;
        decoder.serialize(&self.rows).map_err(Self::schema_error)?;
        let batch = decoder.flush().map_err(Self::schema_error)?;
        if let (Some(batch), Some(file)) = (batch, self.file.as_mut()) {
            file.write(&batch).map_err(Self::schema_error)?;
            file.flush().map_err(Self::schema_error)?;
        }
        self.rows.clear();
        Ok(())
    }

    /// The schema of the file being written, once its first row group is in.
    pub fn schema(&self) -> Option<&Schema> {
        self.schema.as_deref()
    }
}

impl FormatWriter for ParquetWriter {
    fn name(&self) -> &'static str {
        "parquet"
    }
    fn extension(&self) -> &'static str {
        "parquet"
    }
    fn accepts(&self, event: &SourceEvent) -> bool {
        // A given schema is every file's: an event that does not fit fails
        // in `write`, it does not start a file.
        self.given.is_some() || self.fits_schema(&self.row(event))
    }
    fn write(&mut self, event: &SourceEvent) -> Result<()> {
        let row = if self.given.is_some() {
            // Checked column by column against the given types.
            self.given_row(event)?
        } else {
            self.row(event)
        };
        if self.given.is_none() && !self.fits_schema(&row) {
            return Err(ConnectorError::schema(format!(
                "an event of stream `{}` does not fit this Parquet file's schema",
                event.stream
            )));
        }
        self.bytes += crate::format::approximate_size(&row);
        self.rows.push(row);
        self.records += 1;
        if self.rows.len() >= self.options.row_group_size {
            self.flush_group()?;
        }
        Ok(())
    }
    fn records(&self) -> u64 {
        self.records
    }
    fn bytes(&self) -> u64 {
        self.bytes
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        let outcome = self.flush_group();
        let file = self.file.take();
        self.schema = self.given.clone();
        self.rows.clear();
        self.records = 0;
        self.bytes = 0;
        outcome?;
        match file {
            Some(file) => file.into_inner().map_err(Self::schema_error),
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_follows_the_promotion_rules_and_new_columns_need_a_new_file() {
        let mut w = ParquetWriter::new(ParquetOptions {
            row_group_size: 3,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        for data in [
            json!({"id": 1, "n": 1, "s": "a", "x": null}),
            json!({"id": 2, "n": 2.5, "s": 7, "x": null}),
            json!({"id": 3, "n": 3, "s": "c", "x": true, "o": {"k": 1}}),
        ] {
            w.write(&SourceEvent::record("s", data))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let schema = w.schema().cloned().unwrap_or_else(|| panic!("no schema"));
        let ty = |n: &str| {
            schema
                .field_with_name(n)
                .map(|f| f.data_type().clone())
                .ok()
        };
        assert_eq!(ty("id"), Some(DataType::Int64));
        assert_eq!(ty("n"), Some(DataType::Float64));
        assert_eq!(ty("s"), Some(DataType::Utf8));
        assert_eq!(ty("x"), Some(DataType::Boolean));
        assert!(schema.fields().iter().all(|f| f.is_nullable()));
        assert!(w.accepts(&SourceEvent::record("s", json!({"id": 4, "n": 1}))));
        assert!(!w.accepts(&SourceEvent::record("s", json!({"id": 4, "new": 1}))));
        assert!(
            !w.accepts(&SourceEvent::record("s", json!({"id": "wider"})))
                || ty("id") == Some(DataType::Utf8)
        );
        let file = w.finish().unwrap_or_default();
        assert_eq!(&file[..4], b"PAR1");
    }

    #[test]
    fn a_given_schema_types_every_file_and_rejects_what_does_not_fit() {
        let schema: Vec<ParquetColumn> = serde_json::from_value(json!([
            {"name": "id", "type": "int64"},
            {"name": "small", "type": "int32"},
            {"name": "price", "type": "float32"},
            {"name": "at", "type": "timestamp_ms"},
            {"name": "day", "type": "date"},
            {"name": "extra", "type": "json"},
            {"name": "tags", "type": "list<string>"},
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut w = ParquetWriter::new(ParquetOptions {
            schema: Some(schema),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let good = json!({"id": 1, "small": 7, "price": 2.5, "at": "2026-12-07T10:00:00Z",
            "day": "2026-12-07", "extra": {"deep": [1, {"x": null}]}, "tags": ["a", "b"]});
        w.write(&SourceEvent::record("s", good))
            .unwrap_or_else(|e| panic!("{e}"));
        // Missing columns are null; a number is fine as a timestamp.
        w.write(&SourceEvent::record(
            "s",
            json!({"id": 2, "at": 1_765_000_000_000i64}),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        for (bad, column) in [
            (
                json!({"id": 3, "new": 1}),
                "column `new`, which parquet.schema lacks",
            ),
            (json!({"id": "x"}), "column `id`: \"x\" is not a int64"),
            (json!({"id": 4, "small": 1u64 << 40}), "column `small`"),
            (json!({"id": 5, "at": "yesterday"}), "column `at`"),
            (json!({"id": 6, "day": "2026-13-01"}), "column `day`"),
            (json!({"id": 7, "tags": ["a", {"o": 1}]}), "column `tags`"),
        ] {
            let event = SourceEvent::record("s", bad.clone());
            assert!(w.accepts(&event), "a given schema never starts a new file");
            let err = w
                .write(&event)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(column), "{bad}: {err}");
        }
        assert_eq!(w.records(), 2);
        let file = w.finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&file[..4], b"PAR1");
        let types: Vec<DataType> = w
            .schema()
            .map(|s| s.fields().iter().map(|f| f.data_type().clone()).collect())
            .unwrap_or_default();
        assert_eq!(types[0], DataType::Int64);
        assert_eq!(types[5], DataType::Utf8);
        assert!(matches!(
            types[3],
            DataType::Timestamp(TimeUnit::Millisecond, _)
        ));
        // Bad type names are refused when the options are read.
        let err = serde_json::from_value::<ParquetColumn>(json!({"name": "a", "type": "int128"}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("unknown Parquet column type `int128`"),
            "{err}"
        );
    }

    #[test]
    fn cdc_envelopes_flatten_to_the_row_state() {
        let w = ParquetWriter::new(ParquetOptions {
            cdc: CdcLayout::Flatten,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let delete = SourceEvent::record(
            "s",
            json!({"op": "d", "before": {"id": 1}, "after": null, "ts_ms": 5}),
        );
        assert_eq!(w.row(&delete), json!({"id": 1, "_op": "d", "_ts_ms": 5}));
        let insert = SourceEvent::record("s", json!({"op": "c", "after": {"id": 2}, "ts_ms": 6}));
        assert_eq!(w.row(&insert), json!({"id": 2, "_op": "c", "_ts_ms": 6}));
    }
}
