//! The statements of a write, one per group of rows with the same columns.
//!
//! PostgreSQL takes a whole group as one JSON parameter and lets the server
//! convert it to the table's row type (`json_populate_recordset`), so a batch
//! is one statement whatever its size, and a value of the wrong type is
//! refused by the server's own casts. MySQL/MariaDB get a multi-row `VALUES`
//! list, split to stay under the protocol's 65 535 placeholders.

use serde_json::{Map, Value};

use crate::db::{Dialect, Param};

/// Placeholders per MySQL statement (the protocol's limit is 65 535).
const MYSQL_MAX_PARAMS: usize = 60_000;

/// A statement and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) params: Vec<Param>,
}

/// Inserts (with `keys`: upserts on them) of `rows`, which all have exactly `columns`.
pub(crate) fn upsert(
    dialect: Dialect,
    table: &str,
    columns: &[String],
    keys: Option<&[String]>,
    rows: &[&Map<String, Value>],
) -> Vec<Statement> {
    let t = dialect.quote(table);
    let cols: Vec<String> = columns.iter().map(|c| dialect.quote_column(c)).collect();
    let col_list = cols.join(", ");
    let updates: Vec<&String> = match keys {
        Some(keys) => columns.iter().filter(|c| !keys.contains(c)).collect(),
        None => Vec::new(),
    };
    match dialect {
        Dialect::Postgres => {
            let mut sql = format!(
                "INSERT INTO {t} ({col_list}) SELECT {col_list} FROM json_populate_recordset(NULL::{t}, $1::json)"
            );
            if let Some(keys) = keys {
                let key_list: Vec<String> = keys.iter().map(|k| dialect.quote_column(k)).collect();
                if updates.is_empty() {
                    sql.push_str(&format!(
                        " ON CONFLICT ({}) DO NOTHING",
                        key_list.join(", ")
                    ));
                } else {
                    let set: Vec<String> = updates
                        .iter()
                        .map(|c| {
                            let q = dialect.quote_column(c);
                            format!("{q} = EXCLUDED.{q}")
                        })
                        .collect();
                    sql.push_str(&format!(
                        " ON CONFLICT ({}) DO UPDATE SET {}",
                        key_list.join(", "),
                        set.join(", ")
                    ));
                }
            }
            vec![Statement {
                sql,
                params: vec![json_rows(columns, rows)],
            }]
        }
        Dialect::MySql => {
            let per_row = columns.len().max(1);
            let rows_per_statement = (MYSQL_MAX_PARAMS / per_row).max(1);
            let row_placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
            let suffix = match keys {
                None => String::new(),
                Some(keys) if updates.is_empty() => {
                    let k = dialect.quote_column(keys.first().map_or("", String::as_str));
                    format!(" ON DUPLICATE KEY UPDATE {k} = {k}")
                }
                Some(_) => {
                    let set: Vec<String> = updates
                        .iter()
                        .map(|c| {
                            let q = dialect.quote_column(c);
                            format!("{q} = VALUES({q})")
                        })
                        .collect();
                    format!(" ON DUPLICATE KEY UPDATE {}", set.join(", "))
                }
            };
            rows.chunks(rows_per_statement)
                .map(|chunk| {
                    let values = vec![row_placeholders.as_str(); chunk.len()].join(", ");
                    let mut params = Vec::with_capacity(chunk.len() * columns.len());
                    for row in chunk {
                        for c in columns {
                            params.push(Param::from_json(row.get(c).unwrap_or(&Value::Null)));
                        }
                    }
                    Statement {
                        sql: format!("INSERT INTO {t} ({col_list}) VALUES {values}{suffix}"),
                        params,
                    }
                })
                .collect()
        }
    }
}

/// Deletes of the rows with these keys.
pub(crate) fn delete(
    dialect: Dialect,
    table: &str,
    keys: &[String],
    rows: &[&Map<String, Value>],
) -> Vec<Statement> {
    let t = dialect.quote(table);
    match dialect {
        Dialect::Postgres => {
            let on: Vec<String> = keys
                .iter()
                .map(|k| {
                    let q = dialect.quote_column(k);
                    format!("x.{q} = d.{q}")
                })
                .collect();
            vec![Statement {
                sql: format!(
                    "DELETE FROM {t} AS x USING json_populate_recordset(NULL::{t}, $1::json) AS d WHERE {}",
                    on.join(" AND ")
                ),
                params: vec![json_rows(keys, rows)],
            }]
        }
        Dialect::MySql => {
            let key_list: Vec<String> = keys.iter().map(|k| dialect.quote_column(k)).collect();
            let tuple = format!("({})", vec!["?"; keys.len()].join(", "));
            let rows_per_statement = (MYSQL_MAX_PARAMS / keys.len().max(1)).max(1);
            rows.chunks(rows_per_statement)
                .map(|chunk| {
                    let mut params = Vec::with_capacity(chunk.len() * keys.len());
                    for row in chunk {
                        for k in keys {
                            params.push(Param::from_json(row.get(k).unwrap_or(&Value::Null)));
                        }
                    }
                    Statement {
                        sql: format!(
                            "DELETE FROM {t} WHERE ({}) IN ({})",
                            key_list.join(", "),
                            vec![tuple.as_str(); chunk.len()].join(", ")
                        ),
                        params,
                    }
                })
                .collect()
        }
    }
}

/// The rows as one JSON array of objects with just `columns` (PostgreSQL),
/// serialized straight from the events' values.
fn json_rows(columns: &[String], rows: &[&Map<String, Value>]) -> Param {
    use std::fmt::Write;
    let mut out = String::with_capacity(rows.len() * 64);
    // The column names, quoted once.
    let names: Vec<String> = columns
        .iter()
        .map(|c| Value::from(c.as_str()).to_string())
        .collect();
    out.push('[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        for (j, (c, name)) in columns.iter().zip(&names).enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(name);
            out.push(':');
            match row.get(c) {
                Some(v) => {
                    let _ = write!(out, "{v}");
                }
                None => out.push_str("null"),
            }
        }
        out.push('}');
    }
    out.push(']');
    Param::Text(out)
}

/// The offsets table (created if missing).
pub(crate) fn create_offsets_sql(dialect: Dialect, table: &str) -> String {
    let t = dialect.quote(table);
    match dialect {
        Dialect::Postgres => format!(
            "CREATE TABLE IF NOT EXISTS {t} (pipeline VARCHAR(255) PRIMARY KEY, \
             position TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ),
        Dialect::MySql => format!(
            "CREATE TABLE IF NOT EXISTS {t} (pipeline VARCHAR(255) PRIMARY KEY, \
             position LONGTEXT NOT NULL, \
             updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))"
        ),
    }
}

/// The stored position of a pipeline, locked for the transaction (`FOR UPDATE`).
pub(crate) fn select_position_sql(dialect: Dialect, table: &str, lock: bool) -> String {
    format!(
        "SELECT position FROM {} WHERE pipeline = {}{}",
        dialect.quote(table),
        dialect.placeholder(1),
        if lock { " FOR UPDATE" } else { "" }
    )
}

/// Stores a pipeline's position.
pub(crate) fn store_position_sql(dialect: Dialect, table: &str) -> String {
    let t = dialect.quote(table);
    match dialect {
        Dialect::Postgres => format!(
            "INSERT INTO {t} (pipeline, position) VALUES ($1, $2) \
             ON CONFLICT (pipeline) DO UPDATE SET position = EXCLUDED.position, updated_at = now()"
        ),
        Dialect::MySql => format!(
            "INSERT INTO {t} (pipeline, position) VALUES (?, ?) \
             ON DUPLICATE KEY UPDATE position = VALUES(position)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn postgres_upserts_are_one_statement_with_one_json_parameter() {
        let a = row(json!({"id": 1, "v": "x"}));
        let b = row(json!({"id": 2, "v": "y"}));
        let cols = vec!["id".to_string(), "v".to_string()];
        let keys = vec!["id".to_string()];
        let s = upsert(Dialect::Postgres, "t", &cols, Some(&keys), &[&a, &b]);
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].sql,
            "INSERT INTO \"t\" (\"id\", \"v\") SELECT \"id\", \"v\" FROM json_populate_recordset(NULL::\"t\", $1::json) \
             ON CONFLICT (\"id\") DO UPDATE SET \"v\" = EXCLUDED.\"v\""
        );
        assert_eq!(
            s[0].params,
            vec![Param::Text(r#"[{"id":1,"v":"x"},{"id":2,"v":"y"}]"#.into())]
        );
    }

    #[test]
    fn mysql_statements_stay_under_the_placeholder_limit() {
        let r = row(json!({"id": 1, "v": "x"}));
        let rows: Vec<&Map<String, Value>> = vec![&r; 40_000];
        let cols = vec!["id".to_string(), "v".to_string()];
        let keys = vec!["id".to_string()];
        let s = upsert(Dialect::MySql, "t", &cols, Some(&keys), &rows);
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|s| s.params.len() <= MYSQL_MAX_PARAMS));
        assert!(s[0]
            .sql
            .ends_with("ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)"));
        let d = delete(Dialect::MySql, "t", &keys, &rows[..2]);
        assert_eq!(d[0].sql, "DELETE FROM `t` WHERE (`id`) IN ((?), (?))");
    }
}
