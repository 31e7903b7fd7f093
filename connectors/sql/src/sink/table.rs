//! What the sink (and the source) know of a table: its columns and primary key, read
//! from the catalog; `auto_create_table` and `schema_evolution: add_columns`.

use std::collections::BTreeSet;

use rivven_connect::ConnectorError;
use serde_json::{Map, Value};

use crate::db::{classify, Conn, Dialect, Param};

/// A target table's columns (in order) and primary key.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TableInfo {
    pub(crate) columns: Vec<String>,
    /// Each column's type as the catalog names it (lower case).
    pub(crate) types: Vec<String>,
    pub(crate) primary_key: Vec<String>,
}

impl TableInfo {
    pub(crate) fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c == column)
    }

    /// The type of `column`, if the table has it.
    pub(crate) fn type_of(&self, column: &str) -> Option<&str> {
        let at = self.columns.iter().position(|c| c == column)?;
        self.types.get(at).map(String::as_str)
    }
}

/// The table's columns and key, or `None` if it does not exist.
pub(crate) async fn describe(
    conn: &mut Conn,
    table: &str,
) -> Result<Option<TableInfo>, ConnectorError> {
    let dialect = conn.dialect();
    let fail = |e: sqlx::Error| classify(&e, &format!("reading the columns of table `{table}`"));
    let (columns, types, primary_key) = match dialect {
        Dialect::Postgres => {
            let name = Param::Text(dialect.quote(table));
            let cols = conn
                .fetch(
                    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                     WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
                     ORDER BY a.attnum",
                    std::slice::from_ref(&name),
                )
                .await
                .map_err(fail)?;
            let keys = conn
                .fetch(
                    "SELECT a.attname::text FROM pg_index i \
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                     WHERE i.indrelid = to_regclass($1) AND i.indisprimary \
                     ORDER BY array_position(i.indkey::int2[], a.attnum)",
                    &[name],
                )
                .await
                .map_err(fail)?;
            let types = cols
                .iter()
                .map(|r| {
                    r.get(1)
                        .cloned()
                        .flatten()
                        .unwrap_or_default()
                        .to_lowercase()
                })
                .collect();
            (first_column(cols), types, first_column(keys))
        }
        Dialect::MySql => {
            let (schema, name) = match table.split_once('.') {
                Some((s, t)) => (Param::Text(s.into()), Param::Text(t.into())),
                None => (Param::Null, Param::Text(table.into())),
            };
            let rows = conn
                .fetch(
                    "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_KEY AS CHAR), CAST(DATA_TYPE AS CHAR) \
                     FROM information_schema.COLUMNS \
                     WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
                     ORDER BY ORDINAL_POSITION",
                    &[schema, name],
                )
                .await
                .map_err(fail)?;
            let mut cols = Vec::new();
            let mut types = Vec::new();
            let mut keys = Vec::new();
            for row in rows {
                let mut it = row.into_iter();
                let (Some(Some(col)), key, ty) =
                    (it.next(), it.next().flatten(), it.next().flatten())
                else {
                    continue;
                };
                if key.as_deref() == Some("PRI") {
                    keys.push(col.clone());
                }
                cols.push(col);
                types.push(ty.unwrap_or_default().to_lowercase());
            }
            (cols, types, keys)
        }
    };
    if columns.is_empty() {
        return Ok(None);
    }
    Ok(Some(TableInfo {
        columns,
        types,
        primary_key,
    }))
}

fn first_column(rows: Vec<Vec<Option<String>>>) -> Vec<String> {
    rows.into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

/// The column type for a JSON value (for created tables and added columns).
pub(crate) fn column_type(dialect: Dialect, value: &Value, key: bool) -> &'static str {
    match (dialect, value) {
        (Dialect::Postgres, Value::Bool(_)) => "BOOLEAN",
        (Dialect::Postgres, Value::Number(n)) if n.is_i64() => "BIGINT",
        (Dialect::Postgres, Value::Number(_)) => "DOUBLE PRECISION",
        (Dialect::Postgres, Value::Object(_) | Value::Array(_)) => "JSONB",
        (Dialect::Postgres, _) => "TEXT",
        (Dialect::MySql, Value::Bool(_)) => "BOOLEAN",
        (Dialect::MySql, Value::Number(n)) if n.is_i64() => "BIGINT",
        (Dialect::MySql, Value::Number(_)) => "DOUBLE",
        (Dialect::MySql, Value::Object(_) | Value::Array(_)) => "JSON",
        // A key must have a length in MySQL.
        (Dialect::MySql, _) if key => "VARCHAR(255)",
        (Dialect::MySql, _) => "LONGTEXT",
    }
}

/// `CREATE TABLE IF NOT EXISTS` with the columns of `sample` (types from its
/// values) and `keys` as the primary key.
pub(crate) fn create_table_sql(
    dialect: Dialect,
    table: &str,
    sample: &Map<String, Value>,
    keys: &[String],
) -> String {
    let mut columns: Vec<String> = Vec::new();
    for k in keys {
        let ty = column_type(dialect, sample.get(k).unwrap_or(&Value::Null), true);
        columns.push(format!("{} {ty} NOT NULL", dialect.quote_column(k)));
    }
    for (k, v) in sample {
        if !keys.contains(k) {
            columns.push(format!(
                "{} {}",
                dialect.quote_column(k),
                column_type(dialect, v, false)
            ));
        }
    }
    if !keys.is_empty() {
        let pk: Vec<String> = keys.iter().map(|k| dialect.quote_column(k)).collect();
        columns.push(format!("PRIMARY KEY ({})", pk.join(", ")));
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        dialect.quote(table),
        columns.join(", ")
    )
}

/// `ALTER TABLE … ADD COLUMN` for each of `missing`, typed from `sample`.
pub(crate) fn add_columns_sql(
    dialect: Dialect,
    table: &str,
    missing: &BTreeSet<String>,
    sample: &Map<String, Value>,
) -> Vec<String> {
    missing
        .iter()
        .map(|c| {
            let ty = column_type(dialect, sample.get(c).unwrap_or(&Value::Null), false);
            format!(
                "ALTER TABLE {} ADD COLUMN {} {ty}",
                dialect.quote(table),
                dialect.quote_column(c)
            )
        })
        .collect()
}

impl Dialect {
    /// A column name quoted (dots are part of the name, unlike in [`quote`](Self::quote)).
    pub(crate) fn quote_column(self, name: &str) -> String {
        let q = match self {
            Self::Postgres => '"',
            Self::MySql => '`',
        };
        format!("{q}{}{q}", name.replace(q, &format!("{q}{q}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn created_tables_take_types_from_the_first_row() {
        let row = json!({"id": 1, "name": "a", "score": 1.5, "ok": true, "tags": ["x"]});
        let sql = create_table_sql(
            Dialect::Postgres,
            "public.t",
            row.as_object().unwrap_or(&Map::new()),
            &["id".into()],
        );
        assert_eq!(
            sql,
            "CREATE TABLE IF NOT EXISTS \"public\".\"t\" (\"id\" BIGINT NOT NULL, \"name\" TEXT, \
             \"ok\" BOOLEAN, \"score\" DOUBLE PRECISION, \"tags\" JSONB, PRIMARY KEY (\"id\"))"
        );
        let sql = create_table_sql(
            Dialect::MySql,
            "t",
            json!({"k": "x"}).as_object().unwrap_or(&Map::new()),
            &["k".into()],
        );
        assert!(sql.contains("`k` VARCHAR(255) NOT NULL"), "{sql}");
    }
}
