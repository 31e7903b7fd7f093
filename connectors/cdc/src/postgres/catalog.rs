//! What the publication contains: tables, columns, primary keys and the types
//! of the columns (user types such as enums and domains included), read from
//! the system catalogs on the replication session.

use std::collections::HashMap;

use rivven_connect::{ConnectorError, Stream};
use serde_json::{json, Value};

use super::session::{quote_literal, split_table, text, Session};
use super::value::PgType;

/// A column of a published table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnInfo {
    pub name: String,
    pub pg_type: PgType,
    pub not_null: bool,
}

/// A published table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableInfo {
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnInfo>,
    /// Primary-key columns in key order (empty: no primary key).
    pub primary_key: Vec<String>,
}

impl TableInfo {
    /// `schema.table`.
    pub(crate) fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The discover stream: JSON Schema of a row, primary key, namespace.
    pub(crate) fn stream(&self, stream_name: &str) -> Stream {
        let properties: serde_json::Map<String, Value> = self
            .columns
            .iter()
            .map(|c| {
                let schema = c.pg_type.json_schema();
                let schema = if c.not_null {
                    schema
                } else {
                    json!({"anyOf": [schema, {"type": "null"}]})
                };
                (c.name.clone(), schema)
            })
            .collect();
        let required: Vec<&str> = self
            .columns
            .iter()
            .filter(|c| c.not_null)
            .map(|c| c.name.as_str())
            .collect();
        let schema = json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "x-postgres-table": self.qualified(),
        });
        // Changes are read incrementally, positioned by LSN.
        let stream = Stream::new(stream_name, schema)
            .with_namespace(self.schema.clone())
            .with_incremental("source.lsn");
        if self.primary_key.is_empty() {
            stream
        } else {
            stream.with_primary_key(self.primary_key.clone())
        }
    }
}

/// Column types by OID: builtins statically, user types from `pg_type`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TypeCatalog {
    user: HashMap<u32, PgType>,
}

impl TypeCatalog {
    /// Read enums, domains and array types from `pg_type`.
    pub(crate) async fn load(session: &mut Session) -> Result<Self, ConnectorError> {
        let rows = session
            .query(
                "SELECT t.oid, t.typtype, t.typelem, t.typbasetype, t.typname, t.typcategory \
                 FROM pg_catalog.pg_type t \
                 WHERE t.typtype IN ('e', 'd') OR (t.typcategory = 'A' AND t.typelem <> 0)",
            )
            .await?;
        struct Raw {
            typtype: String,
            elem: u32,
            base: u32,
            name: String,
            category: String,
        }
        let mut raw = HashMap::new();
        for row in rows {
            let text = |i: usize| text(&row, i);
            let oid = text(0).parse::<u32>().unwrap_or(0);
            raw.insert(
                oid,
                Raw {
                    typtype: text(1),
                    elem: text(2).parse().unwrap_or(0),
                    base: text(3).parse().unwrap_or(0),
                    name: text(4),
                    category: text(5),
                },
            );
        }
        fn resolve(oid: u32, raw: &HashMap<u32, Raw>, depth: u8) -> PgType {
            if let Some(t) = PgType::from_builtin_oid(oid) {
                return t;
            }
            let Some(r) = raw.get(&oid) else {
                return PgType::Other(format!("oid {oid}"));
            };
            if depth > 16 {
                return PgType::Other(r.name.clone());
            }
            match (r.typtype.as_str(), r.category.as_str()) {
                ("e", _) => PgType::Enum,
                ("d", _) => resolve(r.base, raw, depth + 1),
                // Arrays of types we keep as text stay one text value: their
                // elements may contain the `,` (or use another delimiter).
                (_, "A") => match resolve(r.elem, raw, depth + 1) {
                    PgType::Other(_) => PgType::Other(r.name.clone()),
                    elem => PgType::Array(Box::new(elem)),
                },
                _ => PgType::Other(r.name.clone()),
            }
        }
        let user = raw
            .keys()
            .map(|&oid| (oid, resolve(oid, &raw, 0)))
            .collect();
        Ok(Self { user })
    }

    /// The type of `oid`; `name` (from a pgoutput Type message) for unknown ones.
    pub(crate) fn resolve(&self, oid: u32, name: Option<&str>) -> PgType {
        PgType::from_builtin_oid(oid)
            .or_else(|| self.user.get(&oid).cloned())
            .unwrap_or_else(|| PgType::Other(name.unwrap_or("unknown").to_string()))
    }
}

/// Which tables to describe.
pub(crate) enum TableSet<'a> {
    /// The tables of an existing publication.
    Publication(&'a str),
    /// `schema.table` / `table` names (what an auto-created publication will hold).
    Listed(&'a [String]),
    /// Every table outside the system schemas (`FOR ALL TABLES`).
    All,
}

impl TableSet<'_> {
    /// `(schemaname, tablename)` rows as a SQL relation.
    fn relation(&self) -> String {
        match self {
            TableSet::Publication(name) => format!(
                "(SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = {})",
                quote_literal(name)
            ),
            TableSet::Listed(names) => {
                let rows: Vec<String> = names
                    .iter()
                    .map(|n| {
                        let (schema, table) = split_table(n);
                        format!("({}, {})", quote_literal(&schema), quote_literal(&table))
                    })
                    .collect();
                if rows.is_empty() {
                    "(SELECT NULL::name AS schemaname, NULL::name AS tablename WHERE false)".to_string()
                } else {
                    format!(
                        "(SELECT * FROM (VALUES {}) AS l(schemaname, tablename))",
                        rows.join(", ")
                    )
                }
            }
            TableSet::All => "(SELECT schemaname, tablename FROM pg_catalog.pg_tables \
                 WHERE schemaname NOT IN ('pg_catalog', 'information_schema') \
                 AND schemaname NOT LIKE 'pg_toast%')"
                .to_string(),
        }
    }
}

/// The tables of `set`, with their columns and primary keys.
pub(crate) async fn published_tables(
    session: &mut Session,
    set: &TableSet<'_>,
    types: &TypeCatalog,
) -> Result<Vec<TableInfo>, ConnectorError> {
    let sql = format!(
        "SELECT n.nspname, c.relname, a.attname, a.atttypid, a.attnotnull, \
                (SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_catalog.pg_index i \
                  WHERE i.indrelid = c.oid AND i.indisprimary) AS pk_pos \
         FROM {} pt \
         JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname \
         JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 \
              AND NOT a.attisdropped AND a.attgenerated = '' \
         ORDER BY n.nspname, c.relname, a.attnum",
        set.relation()
    );
    let rows = session.query(&sql).await?;
    let mut tables: Vec<TableInfo> = Vec::new();
    let mut keys: Vec<Vec<(i64, String)>> = Vec::new();
    for row in rows {
        let text = |i: usize| text(&row, i);
        let (schema, name) = (text(0), text(1));
        let is_new = tables
            .last()
            .is_none_or(|t| t.schema != schema || t.name != name);
        if is_new {
            tables.push(TableInfo {
                schema,
                name,
                columns: Vec::new(),
                primary_key: Vec::new(),
            });
            keys.push(Vec::new());
        }
        let oid = text(3).parse::<u32>().unwrap_or(0);
        let column = ColumnInfo {
            name: text(2),
            pg_type: types.resolve(oid, None),
            not_null: text(4) == "t",
        };
        if let (Some(key), Ok(pos)) = (keys.last_mut(), text(5).parse::<i64>()) {
            key.push((pos, column.name.clone()));
        }
        if let Some(table) = tables.last_mut() {
            table.columns.push(column);
        }
    }
    for (table, mut key) in tables.iter_mut().zip(keys) {
        key.sort();
        table.primary_key = key.into_iter().map(|(_, name)| name).collect();
    }
    Ok(tables)
}
