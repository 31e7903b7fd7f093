//! Database rows as JSON objects (what the `sql-source` emits).
//!
//! Each column is decoded by its type: integers and floating-point numbers
//! as JSON numbers, booleans, JSON documents as themselves, text as strings.
//! A type without a JSON counterpart (dates, decimals, UUIDs, …) should be
//! cast to text in the query; if it is not, the value is read as text when
//! the driver can, else `null` with a warning naming the column.

use serde_json::{Map, Value};

/// A PostgreSQL row as a JSON object.
#[cfg(feature = "postgres")]
pub fn pg_row(row: &sqlx::postgres::PgRow) -> Map<String, Value> {
    use sqlx::{Column, Row, TypeInfo, ValueRef};
    let mut out = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name().to_string();
        let is_null = row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(true);
        let value = if is_null {
            Value::Null
        } else {
            match column.type_info().name() {
                "INT2" => row.try_get::<i16, _>(i).ok().map(Value::from),
                "INT4" => row.try_get::<i32, _>(i).ok().map(Value::from),
                "INT8" => row.try_get::<i64, _>(i).ok().map(Value::from),
                "FLOAT4" => row
                    .try_get::<f32, _>(i)
                    .ok()
                    .map(|f| Value::from(f64::from(f))),
                "FLOAT8" => row.try_get::<f64, _>(i).ok().map(Value::from),
                "BOOL" => row.try_get::<bool, _>(i).ok().map(Value::from),
                "JSON" | "JSONB" => row.try_get::<Value, _>(i).ok(),
                _ => row.try_get::<String, _>(i).ok().map(Value::from),
            }
            .unwrap_or_else(|| undecodable(&name, column.type_info().name()))
        };
        out.insert(name, value);
    }
    out
}

/// A MySQL/MariaDB row as a JSON object.
#[cfg(feature = "mysql")]
pub fn mysql_row(row: &sqlx::mysql::MySqlRow) -> Map<String, Value> {
    use sqlx::{Column, Row, TypeInfo, ValueRef};
    let mut out = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name().to_string();
        let is_null = row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(true);
        let type_name = column.type_info().name();
        let value = if is_null {
            Value::Null
        } else {
            match type_name {
                "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => {
                    row.try_get::<i64, _>(i).ok().map(Value::from)
                }
                "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED"
                | "INT UNSIGNED" | "BIGINT UNSIGNED" => {
                    row.try_get::<u64, _>(i).ok().map(Value::from)
                }
                "FLOAT" => row
                    .try_get::<f32, _>(i)
                    .ok()
                    .map(|f| Value::from(f64::from(f))),
                "DOUBLE" => row.try_get::<f64, _>(i).ok().map(Value::from),
                "BOOLEAN" => row.try_get::<bool, _>(i).ok().map(Value::from),
                "JSON" => row.try_get::<Value, _>(i).ok(),
                _ => row
                    .try_get::<String, _>(i)
                    .ok()
                    .map(Value::from)
                    .or_else(|| {
                        row.try_get::<Vec<u8>, _>(i)
                            .ok()
                            .map(|b| Value::from(String::from_utf8_lossy(&b).into_owned()))
                    }),
            }
            .unwrap_or_else(|| undecodable(&name, type_name))
        };
        out.insert(name, value);
    }
    out
}

fn undecodable(column: &str, type_name: &str) -> Value {
    tracing::warn!(
        column,
        type_name,
        "cannot read this column's type as JSON; cast it to text in the query (read as null)"
    );
    Value::Null
}
