//! The Avro writer (feature `avro`).

use std::collections::BTreeMap;

use apache_avro::types::Value as Avro;
use apache_avro::{Codec, DeflateSettings, Schema, Writer};
use rivven_connect::format::FormatWriter;
use rivven_connect::{ConnectorError, Result, SourceEvent};
use serde_json::{json, Map, Value};

use super::{AvroCompression, AvroOptions};

/// An inferred type; `nullable` when some event has `null` or no value.
#[derive(Debug, Clone, PartialEq)]
struct Field {
    ty: Ty,
    nullable: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Null,
    Bool,
    Long,
    Double,
    Str,
    Rec(BTreeMap<String, Field>),
    Arr(Box<Field>),
}

fn of(v: &Value) -> Field {
    let ty = match v {
        Value::Null => Ty::Null,
        Value::Bool(_) => Ty::Bool,
        Value::Number(n) if n.is_i64() => Ty::Long,
        Value::Number(_) => Ty::Double,
        Value::String(_) => Ty::Str,
        Value::Array(items) => Ty::Arr(Box::new(items.iter().map(of).reduce(merge).unwrap_or(
            Field {
                ty: Ty::Null,
                nullable: true,
            },
        ))),
        Value::Object(m) => Ty::Rec(m.iter().map(|(k, v)| (k.clone(), of(v))).collect()),
    };
    Field {
        nullable: ty == Ty::Null,
        ty,
    }
}

fn merge(a: Field, b: Field) -> Field {
    let nullable = a.nullable || b.nullable;
    let ty = match (a.ty, b.ty) {
        (Ty::Null, t) | (t, Ty::Null) => t,
        (Ty::Bool, Ty::Bool) => Ty::Bool,
        (Ty::Long, Ty::Long) => Ty::Long,
        (Ty::Long | Ty::Double, Ty::Double) | (Ty::Double, Ty::Long) => Ty::Double,
        (Ty::Arr(x), Ty::Arr(y)) => Ty::Arr(Box::new(merge(*x, *y))),
        (Ty::Rec(mut x), Ty::Rec(mut y)) => {
            let keys: std::collections::BTreeSet<String> =
                x.keys().chain(y.keys()).cloned().collect();
            let mut out = BTreeMap::new();
            for k in keys {
                let f = match (x.remove(&k), y.remove(&k)) {
                    (Some(a), Some(b)) => merge(a, b),
                    // Missing from some rows: nullable.
                    (Some(a), None) | (None, Some(a)) => Field {
                        nullable: true,
                        ..a
                    },
                    (None, None) => continue,
                };
                out.insert(k, f);
            }
            Ty::Rec(out)
        }
        _ => Ty::Str,
    };
    Field {
        nullable: nullable || ty == Ty::Null,
        ty,
    }
}

/// An Avro name from any key.
fn avro_name(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn schema_json(field: &Field, name: &str, namespace: Option<&str>) -> Value {
    let inner = match &field.ty {
        Ty::Null => return json!("null"),
        Ty::Bool => json!("boolean"),
        Ty::Long => json!("long"),
        Ty::Double => json!("double"),
        Ty::Str => json!("string"),
        Ty::Arr(items) => {
            json!({"type": "array", "items": schema_json(items, &format!("{name}_item"), None)})
        }
        Ty::Rec(fields) => {
            let fields: Vec<Value> = fields
                .iter()
                .map(|(k, f)| {
                    let n = avro_name(k);
                    let mut field =
                        json!({"name": n, "type": schema_json(f, &format!("{name}_{n}"), None)});
                    if f.nullable && f.ty != Ty::Null {
                        field["default"] = Value::Null;
                    }
                    field
                })
                .collect();
            let mut rec = json!({"type": "record", "name": name, "fields": fields});
            if let Some(ns) = namespace {
                rec["namespace"] = json!(ns);
            }
            rec
        }
    };
    if field.nullable {
        json!(["null", inner])
    } else {
        inner
    }
}

fn convert(v: &Value, field: &Field) -> Avro {
    let value = |v: &Value| match (&field.ty, v) {
        (Ty::Null, _) => Avro::Null,
        (Ty::Bool, Value::Bool(b)) => Avro::Boolean(*b),
        (Ty::Long, Value::Number(n)) => Avro::Long(n.as_i64().unwrap_or_default()),
        (Ty::Double, Value::Number(n)) => Avro::Double(n.as_f64().unwrap_or(f64::NAN)),
        (Ty::Str, Value::String(s)) => Avro::String(s.clone()),
        (Ty::Str, other) => Avro::String(other.to_string()),
        (Ty::Arr(items), Value::Array(a)) => {
            Avro::Array(a.iter().map(|x| convert(x, items)).collect())
        }
        (Ty::Rec(fields), Value::Object(m)) => Avro::Record(
            fields
                .iter()
                .map(|(k, f)| (avro_name(k), convert(m.get(k).unwrap_or(&Value::Null), f)))
                .collect(),
        ),
        // Inferred from these very values: no other combination occurs.
        _ => Avro::Null,
    };
    if field.nullable && field.ty != Ty::Null {
        match v {
            Value::Null => Avro::Union(0, Box::new(Avro::Null)),
            other => Avro::Union(1, Box::new(value(other))),
        }
    } else {
        value(v)
    }
}

/// Writes events as one Avro object container file.
#[derive(Debug)]
pub struct AvroWriter {
    options: AvroOptions,
    given: Option<Schema>,
    /// Rows of an inferred schema (converted at `finish`).
    rows: Vec<Value>,
    /// Values of a given schema (converted at `write`).
    values: Vec<Avro>,
    records: u64,
    bytes: u64,
}

fn avro_error(e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::schema(format!("writing Avro: {e}"))
}

impl AvroWriter {
    /// An Avro writer; fails naming `avro.schema` when it does not parse.
    pub fn new(options: AvroOptions) -> Result<Self> {
        let given = match &options.schema {
            Some(text) => Some(Schema::parse_str(text).map_err(|e| {
                ConnectorError::config(format!("avro.schema: not an Avro schema: {e}"))
            })?),
            None => None,
        };
        if options.wire_format && (given.is_none() || options.schema_id.is_none()) {
            return Err(ConnectorError::config(
                "avro.wire_format needs avro.schema and avro.schema_id",
            ));
        }
        Ok(Self {
            options,
            given,
            rows: Vec::new(),
            values: Vec::new(),
            records: 0,
            bytes: 0,
        })
    }

    fn codec(&self) -> Codec {
        match self.options.compression {
            AvroCompression::None => Codec::Null,
            AvroCompression::Deflate => Codec::Deflate(DeflateSettings::default()),
            AvroCompression::Snappy => Codec::Snappy,
        }
    }

    /// The schema inferred from `rows`.
    fn infer(&self) -> Result<(Schema, Field)> {
        let top = self.rows.iter().map(of).reduce(merge).unwrap_or(Field {
            ty: Ty::Rec(BTreeMap::new()),
            nullable: false,
        });
        let top = Field {
            nullable: false,
            ..top
        };
        let json = schema_json(
            &top,
            &avro_name(&self.options.record_name),
            Some(&self.options.namespace),
        );
        let schema = Schema::parse(&json).map_err(avro_error)?;
        Ok((schema, top))
    }
}

fn row(event: &SourceEvent) -> Value {
    match &event.data {
        Value::Object(_) => event.data.clone(),
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other.clone());
            Value::Object(m)
        }
    }
}

impl FormatWriter for AvroWriter {
    fn name(&self) -> &'static str {
        "avro"
    }
    fn extension(&self) -> &'static str {
        "avro"
    }
    fn write(&mut self, event: &SourceEvent) -> Result<()> {
        let row = row(event);
        self.bytes += crate::format::approximate_size(&row);
        match &self.given {
            Some(schema) => {
                let value = Avro::try_from(row)
                    .and_then(|v| v.resolve(schema))
                    .map_err(|e| {
                        ConnectorError::schema(format!(
                            "an event of stream `{}` does not fit avro.schema: {e}",
                            event.stream
                        ))
                    })?;
                self.values.push(value);
            }
            None => self.rows.push(row),
        }
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
        let codec = self.codec();
        let rows = std::mem::take(&mut self.rows);
        let values = std::mem::take(&mut self.values);
        self.records = 0;
        self.bytes = 0;
        let out = match &self.given {
            Some(schema) if self.options.wire_format => {
                let id = self.options.schema_id.unwrap_or_default();
                let mut out = Vec::new();
                for v in values {
                    super::framed::frame(&mut out, schema, id, v)?;
                }
                out
            }
            Some(schema) => {
                let mut w = Writer::with_codec(schema, Vec::new(), codec).map_err(avro_error)?;
                for v in values {
                    w.append_value(v).map_err(avro_error)?;
                }
                w.into_inner().map_err(avro_error)?
            }
            None => {
                self.rows = rows;
                let (schema, top) = self.infer()?;
                let rows = std::mem::take(&mut self.rows);
                let mut w = Writer::with_codec(&schema, Vec::new(), codec).map_err(avro_error)?;
                for r in &rows {
                    w.append_value(convert(r, &top)).map_err(avro_error)?;
                }
                w.into_inner().map_err(avro_error)?
            }
        };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_promotes_and_makes_missing_fields_nullable() {
        let mut w = AvroWriter::new(AvroOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        for d in [
            json!({"id": 1, "n": 1, "s": "a", "o": {"k": 1}}),
            json!({"id": 2, "n": 2.5, "s": 3, "o": {"k": 2, "j": true}, "new": "x"}),
        ] {
            w.write(&SourceEvent::record("s", d))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        w.rows = w.rows.clone();
        let (schema, _) = w.infer().unwrap_or_else(|e| panic!("{e}"));
        let text = schema.canonical_form();
        assert!(text.contains(r#"{"name":"id","type":"long"}"#), "{text}");
        assert!(text.contains(r#"{"name":"n","type":"double"}"#), "{text}");
        assert!(text.contains(r#"{"name":"s","type":"string"}"#), "{text}");
        assert!(
            text.contains(r#"{"name":"new","type":["null","string"]}"#),
            "{text}"
        );
        assert!(text.contains(r#""name":"rivven.events.Event""#), "{text}");
        let file = w.finish().unwrap_or_default();
        assert_eq!(&file[..4], b"Obj\x01");
    }

    #[test]
    fn the_wire_format_frames_each_record_with_the_schema_id() {
        let schema = r#"{"type":"record","name":"E","fields":[{"name":"id","type":"long"},{"name":"s","type":["null","string"]}]}"#;
        let options = AvroOptions {
            schema: Some(schema.into()),
            wire_format: true,
            schema_id: Some(0x0102_0304),
            ..AvroOptions::default()
        };
        let mut w = AvroWriter::new(options.clone()).unwrap_or_else(|e| panic!("{e}"));
        for d in [json!({"id": 1, "s": "a"}), json!({"id": -2, "s": null})] {
            w.write(&SourceEvent::record("s", d))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let out = w.finish().unwrap_or_default();
        // 0, the id, then zig-zag 1 = 0x02, union branch 1 = 0x02, "a".
        assert_eq!(&out[..9], &[0, 1, 2, 3, 4, 0x02, 0x02, 0x02, b'a']);
        assert!(super::super::is_framed(&out));
        let rows = super::super::framed_records("x.avro", &out, schema).unwrap_or_default();
        let rows: Vec<Value> = rows.into_iter().filter_map(|r| r.ok()).collect();
        assert_eq!(
            rows,
            [json!({"id": 1, "s": "a"}), json!({"id": -2, "s": null})]
        );
        // A record with another schema id, or not framed at all, is an error
        // in its place (and ends the object); the records before are kept.
        let second = 9; // the first record's length
        for (at, byte) in [(second + 4, 9u8), (second, 7u8)] {
            let mut bad = out.clone();
            bad[at] = byte;
            let rows = super::super::framed_records("x.avro", &bad, schema).unwrap_or_default();
            assert_eq!(rows.len(), 2, "{rows:?}");
            assert!(rows[0].is_ok(), "{rows:?}");
            let err = rows[1]
                .as_ref()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("x.avro: Avro record 2"), "{err}");
        }
        // Without the schema or its id: refused.
        for (schema, id) in [(None, Some(1)), (Some(schema.to_string()), None)] {
            let options = AvroOptions {
                schema,
                schema_id: id,
                ..options.clone()
            };
            assert!(AvroWriter::new(options.clone()).is_err());
            let err = validator::Validate::validate(&options)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("avro.wire_format needs avro.schema"), "{err}");
        }
    }

    #[test]
    fn a_given_schema_rejects_an_event_that_does_not_fit() {
        let schema = r#"{"type":"record","name":"E","fields":[{"name":"id","type":"long"}]}"#;
        let mut w = AvroWriter::new(AvroOptions {
            schema: Some(schema.into()),
            ..AvroOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(w.write(&SourceEvent::record("s", json!({"id": 1}))).is_ok());
        assert!(w
            .write(&SourceEvent::record("s", json!({"id": "x"})))
            .is_err());
        assert_eq!(w.records(), 1);
        assert!(AvroWriter::new(AvroOptions {
            schema: Some("{nope".into()),
            ..AvroOptions::default()
        })
        .is_err());
    }
}
