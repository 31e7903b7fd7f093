//! One batch: plan each event's change, make sure the tables can take them,
//! then apply everything in one transaction (with the position, exactly-once).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rivven_connect::{ConnectorError, Result, SourceEvent, State, WriteResult};
use serde_json::{Map, Value};
use tracing::Instrument;

use super::rows::{key_of, Change};
use super::statements::{self, Statement};
use super::table::{self, TableInfo};
use super::{SchemaEvolution, SqlSink, SqlSinkConfig, WriteMode};
use crate::db::{classify, is_data_error, Conn, Dialect, Param};

/// One event's change, bound for its table.
#[derive(Debug)]
struct Planned<'a> {
    index: usize,
    table: String,
    change: Change<'a>,
    /// The key (as text) in `upsert`/`cdc` mode.
    key: Option<String>,
}

/// A row: column → value.
type Row = Map<String, Value>;

/// The key columns of each table in this batch (`None`: plain inserts).
type Keys = HashMap<String, Option<Vec<String>>>;

impl SqlSink {
    /// Writes `events`, and with `position` stores it in the same transaction.
    pub(super) async fn write_events(
        &self,
        config: &SqlSinkConfig,
        events: &[SourceEvent],
        position: Option<&State>,
    ) -> Result<WriteResult> {
        let span = tracing::debug_span!("sql-sink", url = %crate::db::display_url(&config.url), events = events.len());
        async {
            let pool = self.pool(config).await?;
            let mut conn = pool.acquire().await?;
            let mut result = WriteResult::new();
            let mut failed = BTreeMap::new();
            let mut planned = Vec::with_capacity(events.len());
            for (index, event) in events.iter().enumerate() {
                match Change::of(event, config.mode) {
                    Ok(Some(change)) => planned.push(Planned {
                        index,
                        table: config.table_of(event),
                        change,
                        key: None,
                    }),
                    Ok(None) => {}
                    Err(e) => {
                        failed.insert(index, e);
                    }
                }
            }
            let keys = self
                .prepare_tables(&mut conn, config, events, &mut planned, &mut failed)
                .await?;
            if position.is_some() && !failed.is_empty() {
                // Exactly-once is all-or-nothing: a rejected record stores
                // nothing, so the runtime disposes of it before the rest is
                // written with the position (`Sink::write_with_position`).
                tracing::debug!(
                    rejected = failed.len(),
                    "records rejected: not writing the batch"
                );
                return Ok(only_failures(failed));
            }
            let outcome = transaction(&mut conn, config, &planned, &keys, position).await;
            let row_failures = match outcome {
                Ok(f) => f,
                Err(e) => {
                    conn.abandon().await;
                    if e.kind() == rivven_connect::ErrorKind::Schema {
                        // A table changed under us: read it again next time.
                        self.tables.lock().await.clear();
                    }
                    return Err(e);
                }
            };
            if position.is_some() && !row_failures.is_empty() {
                // The transaction was rolled back (see `transaction`).
                return Ok(only_failures(row_failures));
            }
            failed.extend(row_failures);
            let mut bytes = 0u64;
            for (index, event) in events.iter().enumerate() {
                if !failed.contains_key(&index) {
                    bytes += event.approx_size() as u64;
                }
            }
            for (index, error) in &failed {
                result.add_record_failure(*index, error);
            }
            result.add_success((events.len() - failed.len()) as u64, bytes);
            Ok(result)
        }
        .instrument(span)
        .await
    }

    /// Reads (creates, evolves) every table of the batch; fails the records
    /// the tables cannot take; fills in the keys.
    async fn prepare_tables(
        &self,
        conn: &mut Conn,
        config: &SqlSinkConfig,
        events: &[SourceEvent],
        planned: &mut Vec<Planned<'_>>,
        failed: &mut BTreeMap<usize, ConnectorError>,
    ) -> Result<Keys> {
        let dialect = conn.dialect();
        let names: BTreeSet<String> = planned.iter().map(|p| p.table.clone()).collect();
        let mut infos: HashMap<String, Option<TableInfo>> = HashMap::new();
        for name in names {
            let of_table: Vec<&Planned<'_>> = planned.iter().filter(|p| p.table == name).collect();
            let info = self
                .table_info(conn, config, dialect, &name, &of_table, events)
                .await?;
            infos.insert(name, info);
        }
        let mut keys: Keys = HashMap::new();
        for (name, info) in &infos {
            let k = match (config.mode, info) {
                (WriteMode::Insert, _) | (_, None) => None,
                (_, Some(info)) => Some(
                    config
                        .key_columns
                        .clone()
                        .unwrap_or_else(|| info.primary_key.clone()),
                ),
            };
            keys.insert(name.clone(), k);
        }
        planned.retain_mut(|p| {
            let fail = |e: ConnectorError, failed: &mut BTreeMap<usize, ConnectorError>| {
                failed.insert(p.index, e);
                false
            };
            let Some(Some(info)) = infos.get(&p.table) else {
                return fail(
                    ConnectorError::schema(format!(
                        "table `{}` does not exist (create it, or set auto_create_table)",
                        p.table
                    )),
                    failed,
                );
            };
            if let Some(missing) = p.change.columns().find(|c| !info.has(c)) {
                return fail(
                    ConnectorError::schema(format!(
                        "column `{missing}` does not exist in table `{}` (add it, or set schema_evolution: add_columns)",
                        p.table
                    )),
                    failed,
                );
            }
            if let Some(Some(k)) = keys.get(&p.table) {
                if k.is_empty() {
                    return fail(
                        ConnectorError::schema(format!(
                            "table `{}` has no primary key: set key_columns for mode {:?}",
                            p.table, config.mode
                        )),
                        failed,
                    );
                }
                let row = match &p.change {
                    Change::Row(r) | Change::Delete(r) => r,
                };
                match key_of(row, k) {
                    Ok(key) => p.key = Some(key),
                    Err(e) => return fail(e, failed),
                }
            }
            true
        });
        Ok(keys)
    }

    /// What the sink knows of `name`, after creating or evolving it as configured.
    async fn table_info(
        &self,
        conn: &mut Conn,
        config: &SqlSinkConfig,
        dialect: Dialect,
        name: &str,
        planned: &[&Planned<'_>],
        events: &[SourceEvent],
    ) -> Result<Option<TableInfo>> {
        let cached = self.tables.lock().await.get(name).cloned();
        let mut info = match cached {
            Some(info) => Some(info),
            None => table::describe(conn, name).await?,
        };
        let rows: Vec<&Map<String, Value>> = planned
            .iter()
            .filter_map(|p| match p.change {
                Change::Row(r) => Some(r),
                Change::Delete(_) => None,
            })
            .collect();
        if info.is_none() && config.auto_create_table {
            if let (Some(sample), Some(first)) = (rows.first(), planned.first()) {
                // The primary key: `key_columns`, else (upsert, cdc) the
                // fields of the event's key that the row has.
                let keys = match (&config.key_columns, &events[first.index].key) {
                    (Some(k), _) => k.clone(),
                    (None, Some(Value::Object(k))) if config.mode != WriteMode::Insert => k
                        .keys()
                        .filter(|c| sample.contains_key(*c))
                        .cloned()
                        .collect(),
                    _ => Vec::new(),
                };
                let sql = table::create_table_sql(dialect, name, sample, &keys);
                tracing::info!(table = name, "creating the table");
                conn.simple(&sql)
                    .await
                    .map_err(|e| classify(&e, &format!("creating table `{name}`")))?;
                info = table::describe(conn, name).await?;
            }
        }
        if let (Some(current), SchemaEvolution::AddColumns) = (&info, config.schema_evolution) {
            let mut missing = BTreeSet::new();
            let mut sample = Map::new();
            for row in &rows {
                for (c, v) in row.iter().filter(|(c, _)| !current.has(c)) {
                    missing.insert(c.clone());
                    // The column's type comes from its first non-null value.
                    let typed = sample.entry(c.clone()).or_insert(Value::Null);
                    if typed.is_null() {
                        *typed = v.clone();
                    }
                }
            }
            if !missing.is_empty() {
                for sql in table::add_columns_sql(dialect, name, &missing, &sample) {
                    tracing::info!(table = name, statement = %sql, "adding a column");
                    if let Err(e) = conn.simple(&sql).await {
                        // Another writer may have added it meanwhile: look again below.
                        tracing::warn!(table = name, error = %e, "adding a column failed");
                    }
                }
                info = table::describe(conn, name).await?;
            }
        }
        if let Some(i) = &info {
            self.tables.lock().await.insert(name.to_string(), i.clone());
        }
        Ok(info)
    }
}

/// The whole batch in one transaction; on a value the server refuses, again
/// row by row. Returns the records that failed; with a `position`
/// (exactly-once), a batch with failed records is rolled back whole, the
/// position with it.
async fn transaction(
    conn: &mut Conn,
    config: &SqlSinkConfig,
    planned: &[Planned<'_>],
    keys: &Keys,
    position: Option<&State>,
) -> Result<BTreeMap<usize, ConnectorError>> {
    let err = |what: &'static str| move |e: sqlx::Error| classify(&e, what);
    conn.simple("BEGIN").await.map_err(err("BEGIN"))?;
    if let Some(position) = position {
        if stored_position(conn, config, true).await?.as_ref() == Some(position) {
            // A retry of a batch that was committed: it is already there.
            conn.simple("ROLLBACK").await.map_err(err("ROLLBACK"))?;
            tracing::info!("this batch's position is already stored: not writing it again");
            return Ok(BTreeMap::new());
        }
    }
    let dialect = conn.dialect();
    let mut failures = BTreeMap::new();
    match apply_batched(conn, dialect, planned, keys).await {
        Ok(()) => {}
        Err(e) if is_data_error(&e) => {
            tracing::debug!(error = %e, "a value was refused: writing the batch row by row");
            conn.simple("ROLLBACK").await.map_err(err("ROLLBACK"))?;
            conn.simple("BEGIN").await.map_err(err("BEGIN"))?;
            if position.is_some() {
                stored_position(conn, config, true).await?;
            }
            failures = apply_row_by_row(conn, dialect, planned, keys).await?;
        }
        Err(e) => return Err(classify(&e, "writing the batch")),
    }
    if position.is_some() && !failures.is_empty() {
        // Exactly-once stores all of the batch or nothing: the runtime
        // disposes of the refused rows, then writes the rest again.
        tracing::debug!(
            rejected = failures.len(),
            "rows refused: rolling the batch and its position back"
        );
        conn.simple("ROLLBACK").await.map_err(err("ROLLBACK"))?;
        return Ok(failures);
    }
    if let Some(position) = position {
        let text = serde_json::to_string(position)
            .map_err(|e| ConnectorError::fatal(format!("serializing the position: {e}")))?;
        let sql = statements::store_position_sql(dialect, &config.offsets_table);
        conn.execute(
            &sql,
            &[Param::Text(config.offsets_key()), Param::Text(text)],
        )
        .await
        .map_err(err("storing the position"))?;
    }
    conn.simple("COMMIT").await.map_err(err("COMMIT"))?;
    Ok(failures)
}

/// A result with only `failures` and nothing written.
fn only_failures(failures: BTreeMap<usize, ConnectorError>) -> WriteResult {
    let mut result = WriteResult::new();
    for (index, error) in &failures {
        result.add_record_failure(*index, error);
    }
    result
}

/// The position stored for this sink (`lock`: `FOR UPDATE`, inside a transaction).
pub(super) async fn stored_position(
    conn: &mut Conn,
    config: &SqlSinkConfig,
    lock: bool,
) -> Result<Option<State>> {
    let dialect = conn.dialect();
    let sql = statements::select_position_sql(dialect, &config.offsets_table, lock);
    let rows = conn
        .fetch(&sql, &[Param::Text(config.offsets_key())])
        .await
        .map_err(|e| {
            classify(
                &e,
                &format!("reading the position in `{}`", config.offsets_table),
            )
        })?;
    match rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
    {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            ConnectorError::fatal(format!(
                "the position stored in `{}` for `{}` is not a valid state: {e}",
                config.offsets_table,
                config.offsets_key()
            ))
        }),
    }
}

/// The batch's statements: per table, the last change per key wins; rows
/// are grouped by their set of columns.
fn batched_statements(dialect: Dialect, planned: &[Planned<'_>], keys: &Keys) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut tables: Vec<&str> = planned.iter().map(|p| p.table.as_str()).collect();
    tables.dedup();
    let tables: BTreeSet<&str> = tables.into_iter().collect();
    for name in tables {
        let table_keys = keys.get(name).cloned().flatten();
        let of_table = planned.iter().filter(|p| p.table == name);
        let finals: Vec<&Planned<'_>> = match &table_keys {
            None => of_table.collect(),
            Some(_) => {
                let mut last: HashMap<&str, &Planned<'_>> = HashMap::new();
                let mut order = Vec::new();
                for p in of_table {
                    let k = p.key.as_deref().unwrap_or_default();
                    if last.insert(k, p).is_none() {
                        order.push(k);
                    }
                }
                order.iter().filter_map(|k| last.get(k).copied()).collect()
            }
        };
        // Rows grouped by their columns (usually one group: compared, not
        // collected, per row).
        let mut groups: Vec<(&Row, Vec<&Row>)> = Vec::new();
        let mut deletes = Vec::new();
        for p in finals {
            match p.change {
                Change::Row(r) => {
                    match groups
                        .iter_mut()
                        .find(|(first, _)| first.keys().eq(r.keys()))
                    {
                        Some((_, rows)) => rows.push(r),
                        None => groups.push((r, vec![r])),
                    }
                }
                Change::Delete(r) => deletes.push(r),
            }
        }
        if let (Some(k), false) = (&table_keys, deletes.is_empty()) {
            out.extend(statements::delete(dialect, name, k, &deletes));
        }
        for (first, rows) in groups {
            let columns: Vec<String> = first.keys().cloned().collect();
            out.extend(statements::upsert(
                dialect,
                name,
                &columns,
                table_keys.as_deref(),
                &rows,
            ));
        }
    }
    out
}

async fn apply_batched(
    conn: &mut Conn,
    dialect: Dialect,
    planned: &[Planned<'_>],
    keys: &Keys,
) -> std::result::Result<(), sqlx::Error> {
    for s in batched_statements(dialect, planned, keys) {
        conn.execute(&s.sql, &s.params).await?;
    }
    Ok(())
}

/// Each change on its own, in order, behind a savepoint: a refused value
/// fails its record and the rest go on.
async fn apply_row_by_row(
    conn: &mut Conn,
    dialect: Dialect,
    planned: &[Planned<'_>],
    keys: &Keys,
) -> Result<BTreeMap<usize, ConnectorError>> {
    let mut failures = BTreeMap::new();
    let err = |what: &'static str| move |e: sqlx::Error| classify(&e, what);
    for p in planned {
        let table_keys = keys.get(&p.table).cloned().flatten();
        let single = match p.change {
            Change::Row(r) => statements::upsert(
                dialect,
                &p.table,
                &r.keys().cloned().collect::<Vec<_>>(),
                table_keys.as_deref(),
                &[r],
            ),
            Change::Delete(r) => match &table_keys {
                Some(k) => statements::delete(dialect, &p.table, k, &[r]),
                None => Vec::new(),
            },
        };
        conn.simple("SAVEPOINT rivven_row")
            .await
            .map_err(err("SAVEPOINT"))?;
        let mut refused = None;
        for s in &single {
            if let Err(e) = conn.execute(&s.sql, &s.params).await {
                if !is_data_error(&e) {
                    return Err(classify(&e, "writing a row"));
                }
                refused = Some(e);
                break;
            }
        }
        match refused {
            Some(e) => {
                conn.simple("ROLLBACK TO SAVEPOINT rivven_row")
                    .await
                    .map_err(err("ROLLBACK TO SAVEPOINT"))?;
                failures.insert(
                    p.index,
                    ConnectorError::data(format!("table `{}` refused the row: {e}", p.table)),
                );
            }
            None => conn
                .simple("RELEASE SAVEPOINT rivven_row")
                .await
                .map_err(err("RELEASE SAVEPOINT"))?,
        }
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn planned<'a>(index: usize, table: &str, change: Change<'a>, key: &str) -> Planned<'a> {
        Planned {
            index,
            table: table.into(),
            change,
            key: Some(key.into()),
        }
    }

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_last_change_per_key_wins_within_a_batch() {
        let rows = [
            row(json!({"id": 1, "v": "a"})),
            row(json!({"id": 2, "v": "b"})),
            row(json!({"id": 1})),
            row(json!({"id": 2, "v": "c"})),
        ];
        let p = vec![
            planned(0, "t", Change::Row(&rows[0]), "[1]"),
            planned(1, "t", Change::Row(&rows[1]), "[2]"),
            planned(2, "t", Change::Delete(&rows[2]), "[1]"),
            planned(3, "t", Change::Row(&rows[3]), "[2]"),
        ];
        let mut keys = Keys::new();
        keys.insert("t".into(), Some(vec!["id".into()]));
        let s = batched_statements(Dialect::MySql, &p, &keys);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].sql.starts_with("DELETE"));
        assert_eq!(s[0].params, vec![Param::I64(1)]);
        assert_eq!(s[1].params, vec![Param::I64(2), Param::Text("c".into())]);
    }
}
