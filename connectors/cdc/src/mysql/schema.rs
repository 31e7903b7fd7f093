//! The captured tables as `information_schema` describes them: columns
//! with their [`ColumnKind`], primary keys in key order, and the discover
//! catalog's JSON Schemas.
//!
//! MariaDB has no `JSON` type of its own (it is `LONGTEXT` checked by
//! `json_valid`): a column with a column-level `json_valid` check is read
//! as JSON.

use std::collections::{BTreeMap, HashSet};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value as MyValue};
use rivven_connect::{Result, Stream};
use serde_json::{json, Value};

use super::session::classify;
use super::value::{Charset, ColumnKind};

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnInfo {
    pub name: String,
    /// What it holds (`None`: a type this source does not map).
    pub kind: Option<ColumnKind>,
    /// `information_schema.COLUMNS.COLUMN_TYPE`, e.g. `int(10) unsigned`.
    pub column_type: String,
    pub nullable: bool,
}

/// One table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableInfo {
    pub name: String,
    pub columns: Vec<ColumnInfo>,
    /// Primary-key columns in key order (empty: none).
    pub primary_key: Vec<String>,
}

impl TableInfo {
    /// The column named `name`.
    pub(crate) fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The discover stream: JSON Schema of a row, primary key, namespace.
    pub(crate) fn stream(&self, database: &str, stream_name: &str) -> Stream {
        let properties: serde_json::Map<String, Value> = self
            .columns
            .iter()
            .map(|c| {
                let schema = json_schema(c.kind.as_ref());
                let schema = if c.nullable {
                    json!({"anyOf": [schema, {"type": "null"}]})
                } else {
                    schema
                };
                (c.name.clone(), schema)
            })
            .collect();
        let required: Vec<&str> = self
            .columns
            .iter()
            .filter(|c| !c.nullable)
            .map(|c| c.name.as_str())
            .collect();
        let schema = json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "x-mysql-table": format!("{database}.{}", self.name),
        });
        let stream = Stream::new(stream_name, schema)
            .with_namespace(database.to_string())
            .with_incremental("source.pos");
        if self.primary_key.is_empty() {
            stream
        } else {
            stream.with_primary_key(self.primary_key.clone())
        }
    }
}

fn json_schema(kind: Option<&ColumnKind>) -> Value {
    use ColumnKind as K;
    match kind {
        Some(K::Int { .. } | K::Year | K::Bit) => json!({"type": "integer"}),
        Some(K::Float | K::Double) => json!({"type": "number"}),
        Some(K::Decimal) => json!({"type": "string", "format": "decimal"}),
        Some(K::Enum(labels)) => json!({"type": "string", "enum": labels}),
        Some(K::Set(_)) => json!({"type": "string"}),
        Some(K::Date) => json!({"type": "string", "format": "date"}),
        Some(K::Time(_)) => json!({"type": "string", "format": "time"}),
        Some(K::DateTime(_)) => json!({"type": "string", "format": "date-time"}),
        Some(K::Timestamp(_)) => json!({"type": "string", "format": "date-time"}),
        Some(K::Json) | None => json!({}),
        Some(K::Text(_)) => json!({"type": "string"}),
        Some(K::Binary(_) | K::Geometry) => json!({"type": "string", "contentEncoding": "base64"}),
    }
}

fn text(row: &Row, i: usize) -> Option<String> {
    match row.as_ref(i)? {
        MyValue::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        MyValue::Int(v) => Some(v.to_string()),
        MyValue::UInt(v) => Some(v.to_string()),
        _ => None,
    }
}

/// The tables of `database` (all of them, or only `names`), described.
pub(crate) async fn load(
    conn: &mut Conn,
    database: &str,
    names: Option<&[String]>,
) -> Result<Vec<TableInfo>> {
    let wanted: Option<HashSet<&str>> = names.map(|n| n.iter().map(String::as_str).collect());
    let keep = |t: &str| wanted.as_ref().is_none_or(|w| w.contains(t));
    let tables: Vec<Row> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
            (database,),
        )
        .await
        .map_err(|e| classify(&e).context("list tables"))?;
    let mut out: BTreeMap<String, TableInfo> = tables
        .iter()
        .filter_map(|r| text(r, 0))
        .filter(|t| keep(t))
        .map(|t| {
            (
                t.clone(),
                TableInfo {
                    name: t,
                    columns: Vec::new(),
                    primary_key: Vec::new(),
                },
            )
        })
        .collect();
    if out.is_empty() {
        return Ok(Vec::new());
    }
    let json_columns = json_checked(conn, database).await;
    let columns: Vec<Row> = conn
        .exec(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, \
                    DATETIME_PRECISION, CHARACTER_OCTET_LENGTH, IS_NULLABLE \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? \
             ORDER BY TABLE_NAME, ORDINAL_POSITION",
            (database,),
        )
        .await
        .map_err(|e| classify(&e).context("read columns"))?;
    for row in &columns {
        let (Some(table), Some(name)) = (text(row, 0), text(row, 1)) else {
            continue;
        };
        let Some(info) = out.get_mut(&table) else {
            continue;
        };
        let data_type = text(row, 2).unwrap_or_default().to_ascii_lowercase();
        let column_type = text(row, 3).unwrap_or_default();
        let charset = text(row, 4);
        let fsp = text(row, 5).and_then(|p| p.parse::<u8>().ok()).unwrap_or(0);
        let octets = text(row, 6).and_then(|p| p.parse::<usize>().ok());
        let kind = if json_columns.contains(&(table.clone(), name.clone())) {
            Some(ColumnKind::Json)
        } else {
            kind_of(&data_type, &column_type, charset.as_deref(), fsp, octets)
        };
        info.columns.push(ColumnInfo {
            name,
            kind,
            column_type,
            nullable: text(row, 7).is_some_and(|n| n == "YES"),
        });
    }
    let keys: Vec<Row> = conn
        .exec(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = ? AND CONSTRAINT_NAME = 'PRIMARY' \
             ORDER BY TABLE_NAME, ORDINAL_POSITION",
            (database,),
        )
        .await
        .map_err(|e| classify(&e).context("read primary keys"))?;
    for row in &keys {
        if let (Some(table), Some(column)) = (text(row, 0), text(row, 1)) {
            if let Some(info) = out.get_mut(&table) {
                info.primary_key.push(column);
            }
        }
    }
    Ok(out.into_values().collect())
}

/// MariaDB's JSON columns: `(table, column)` with a column-level
/// `json_valid` check (MySQL has no such view: empty).
async fn json_checked(conn: &mut Conn, database: &str) -> HashSet<(String, String)> {
    let rows: Vec<Row> = match conn
        .exec(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = ? AND LEVEL = 'Column'",
            (database,),
        )
        .await
    {
        Ok(rows) => rows,
        Err(_) => return HashSet::new(),
    };
    rows.iter()
        .filter_map(|r| {
            let (table, column, clause) = (text(r, 0)?, text(r, 1)?, text(r, 2)?);
            let expected = format!("json_valid(`{}`)", column.replace('`', "``"));
            (clause.trim() == expected).then_some((table, column))
        })
        .collect()
}

/// The kind of a column from its `DATA_TYPE`, `COLUMN_TYPE`, charset,
/// `DATETIME_PRECISION` and `CHARACTER_OCTET_LENGTH`.
pub(crate) fn kind_of(
    data_type: &str,
    column_type: &str,
    charset: Option<&str>,
    fsp: u8,
    octets: Option<usize>,
) -> Option<ColumnKind> {
    let unsigned = column_type.to_ascii_lowercase().contains("unsigned");
    let int = |bytes| Some(ColumnKind::Int { unsigned, bytes });
    match data_type {
        "tinyint" => int(1),
        "smallint" => int(2),
        "mediumint" => int(3),
        "int" | "integer" => int(4),
        "bigint" => int(8),
        "float" => Some(ColumnKind::Float),
        "double" | "real" | "double precision" => Some(ColumnKind::Double),
        "decimal" | "numeric" => Some(ColumnKind::Decimal),
        "bit" => Some(ColumnKind::Bit),
        "enum" => Some(ColumnKind::Enum(labels(column_type))),
        "set" => Some(ColumnKind::Set(labels(column_type))),
        "year" => Some(ColumnKind::Year),
        "date" => Some(ColumnKind::Date),
        "time" => Some(ColumnKind::Time(fsp.min(6))),
        "datetime" => Some(ColumnKind::DateTime(fsp.min(6))),
        "timestamp" => Some(ColumnKind::Timestamp(fsp.min(6))),
        "json" => Some(ColumnKind::Json),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => Some(
            ColumnKind::Text(charset.map(Charset::from_name).unwrap_or(Charset::Utf8)),
        ),
        "binary" => Some(ColumnKind::Binary(octets)),
        "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            Some(ColumnKind::Binary(None))
        }
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => Some(ColumnKind::Geometry),
        _ => None,
    }
}

/// The labels of `enum('a','b''c')` / `set(…)`.
pub(crate) fn labels(column_type: &str) -> Vec<String> {
    let Some(start) = column_type.find('(') else {
        return Vec::new();
    };
    let body = &column_type[start + 1..];
    let mut out = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                '\'' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        label.push(n);
                    }
                }
                c => label.push(c),
            }
        }
        out.push(label);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn enum_labels_are_unquoted() {
        assert_eq!(labels("enum('a','b''c','d,e')"), vec!["a", "b'c", "d,e"]);
        assert_eq!(labels("set('x')"), vec!["x"]);
        assert!(labels("int(11)").is_empty());
    }

    #[test]
    fn kinds_follow_the_data_type() {
        assert_eq!(
            kind_of("int", "int(10) unsigned", None, 0, None),
            Some(ColumnKind::Int {
                unsigned: true,
                bytes: 4
            })
        );
        assert_eq!(
            kind_of("datetime", "datetime(3)", None, 3, None),
            Some(ColumnKind::DateTime(3))
        );
        assert_eq!(
            kind_of("binary", "binary(4)", None, 0, Some(4)),
            Some(ColumnKind::Binary(Some(4)))
        );
        assert_eq!(kind_of("inet6", "inet6", None, 0, None), None);
    }
}
