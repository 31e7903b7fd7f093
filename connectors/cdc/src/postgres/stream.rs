//! Replication events → source events: the relation cache (DDL mid-stream
//! replaces a table's shape), transactions, deduplication, tombstones and
//! heartbeats.
//!
//! Checkpoints: a transaction's changes carry no state; its Commit yields a
//! state event `lsn = end LSN`, so a committed checkpoint never falls inside a
//! transaction. After a restart the server resends every transaction that
//! committed after the confirmed position — whole.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pgwire_replication::ReplicationEvent;
use rivven_connect::{ConnectorError, ErrorKind, EventType, Result, SourceEvent};
use serde_json::json;

use crate::common::emit::Emitter;
use crate::common::resume;

use super::catalog::TypeCatalog;
use super::events::{EventFactory, Position, TableShape};
use super::pgoutput::{decode, PgOutputMessage, Relation, TupleValue};
use super::session::{format_lsn, PgLsn};

/// Whether a table (`stream name`, `schema.table`) is selected.
pub(crate) type TableFilter = Box<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// What to emit for a relation.
struct RelationEntry {
    shape: TableShape,
    included: bool,
}

/// The open transaction.
#[derive(Debug, Clone, Copy)]
struct Tx {
    xid: u32,
    commit_lsn: u64,
    commit_ts_micros: i64,
}

/// Decodes one replication session's events.
pub(crate) struct ChangeDecoder {
    factory: EventFactory,
    types: TypeCatalog,
    /// Primary keys from the catalog, by `schema.table`.
    primary_keys: HashMap<String, Vec<String>>,
    include: TableFilter,
    relations: HashMap<u32, RelationEntry>,
    type_names: HashMap<u32, String>,
    tx: Option<Tx>,
    /// Changes decoded so far in the open transaction: with the commit LSN,
    /// a change's identity (all rows of one `COPY` share one WAL record's
    /// LSN, and a keyless table has no key to tell them apart).
    ordinal: u64,
    emitter: Emitter,
    heartbeat: Duration,
    last_checkpoint: Instant,
    /// Newest LSN a checkpoint was emitted for.
    checkpoint_lsn: u64,
}

/// Settings of a [`ChangeDecoder`].
pub(crate) struct DecoderParts {
    pub factory: EventFactory,
    pub types: TypeCatalog,
    pub primary_keys: HashMap<String, Vec<String>>,
    pub include: TableFilter,
    /// This session's deduplication and tombstones (see `source.rs` for
    /// why one per session).
    pub emitter: Emitter,
    pub heartbeat: Duration,
    pub start_lsn: u64,
}

/// A checkpoint event for `lsn`.
pub(crate) fn checkpoint(lsn: u64) -> Result<SourceEvent> {
    resume::checkpoint(&PgLsn(lsn)).map(SourceEvent::state)
}

impl ChangeDecoder {
    pub(crate) fn new(parts: DecoderParts) -> Self {
        Self {
            factory: parts.factory,
            types: parts.types,
            primary_keys: parts.primary_keys,
            include: parts.include,
            relations: HashMap::new(),
            type_names: HashMap::new(),
            tx: None,
            ordinal: 0,
            emitter: parts.emitter,
            heartbeat: parts.heartbeat,
            last_checkpoint: Instant::now(),
            checkpoint_lsn: parts.start_lsn,
        }
    }

    /// The event factory (shared with the snapshot).
    pub(crate) fn factory(&self) -> &EventFactory {
        &self.factory
    }

    /// Handle one replication event; what it produces is pushed to `out`.
    pub(crate) fn on_event(&mut self, event: ReplicationEvent, out: &mut Vec<Result<SourceEvent>>) {
        match event {
            ReplicationEvent::Begin {
                final_lsn,
                xid,
                commit_time_micros,
            } => self.begin(final_lsn.0, xid, commit_time_micros),
            ReplicationEvent::Commit { end_lsn, .. } => self.commit(end_lsn.0, out),
            ReplicationEvent::XLogData {
                wal_start, data, ..
            } => match decode(&data) {
                Ok(message) => self.message(message, wal_start.0, out),
                // A stage fault, not a bad record: the stream cannot be
                // read past it, so the source restarts from its committed
                // position (and fails for good if it keeps happening).
                Err(e) => out.push(Err(ConnectorError::new(
                    ErrorKind::Transient,
                    format!(
                        "undecodable pgoutput message at LSN {}: {e}",
                        format_lsn(wal_start.0)
                    ),
                ))),
            },
            ReplicationEvent::KeepAlive { wal_end, .. } => self.idle(wal_end.0, out),
            ReplicationEvent::Message { .. } | ReplicationEvent::StoppedAt { .. } => {}
            // `ReplicationEvent` is non-exhaustive: newer variants carry nothing we emit.
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    fn begin(&mut self, commit_lsn: u64, xid: u32, commit_ts_micros: i64) {
        self.ordinal = 0;
        self.tx = Some(Tx {
            xid,
            commit_lsn,
            commit_ts_micros,
        });
    }

    fn commit(&mut self, end_lsn: u64, out: &mut Vec<Result<SourceEvent>>) {
        if let Some(tx) = self.tx.take() {
            // Replication lag: how long ago the server committed what we read now.
            let lag_ms = (chrono::Utc::now() - super::events::pg_time(tx.commit_ts_micros))
                .num_milliseconds();
            tracing::debug!(xid = tx.xid, lsn = %format_lsn(end_lsn), lag_ms, "transaction read");
        }
        if end_lsn > self.checkpoint_lsn {
            self.checkpoint_lsn = end_lsn;
            self.last_checkpoint = Instant::now();
            out.push(checkpoint(end_lsn));
        }
    }

    /// Between transactions, a keep-alive's WAL position is safe to confirm
    /// (everything before it was sent): do so every `heartbeat`, so an idle
    /// slot does not pin the server's WAL.
    fn idle(&mut self, wal_end: u64, out: &mut Vec<Result<SourceEvent>>) {
        if self.tx.is_none()
            && wal_end > self.checkpoint_lsn
            && self.last_checkpoint.elapsed() >= self.heartbeat
        {
            self.checkpoint_lsn = wal_end;
            self.last_checkpoint = Instant::now();
            tracing::debug!(lsn = %format_lsn(wal_end), "heartbeat checkpoint");
            out.push(checkpoint(wal_end));
        }
    }

    fn position(&self, lsn: u64) -> Position {
        Position {
            lsn,
            commit_lsn: self.tx.map(|t| t.commit_lsn).unwrap_or(lsn),
            xid: self.tx.map(|t| t.xid),
            commit_ts_micros: self.tx.map(|t| t.commit_ts_micros),
            snapshot: false,
        }
    }

    fn message(&mut self, message: PgOutputMessage, lsn: u64, out: &mut Vec<Result<SourceEvent>>) {
        match message {
            PgOutputMessage::Begin {
                final_lsn,
                commit_ts_micros,
                xid,
            } => self.begin(final_lsn, xid, commit_ts_micros),
            PgOutputMessage::Commit { end_lsn, .. } => self.commit(end_lsn, out),
            PgOutputMessage::Relation(relation) => self.relation(relation),
            PgOutputMessage::Type { oid, name, .. } => {
                self.type_names.insert(oid, name);
            }
            PgOutputMessage::Insert { relation_id, new } => self.change(
                relation_id,
                EventType::Insert,
                None,
                false,
                Some(new),
                lsn,
                out,
            ),
            PgOutputMessage::Update {
                relation_id,
                old,
                old_is_key,
                new,
            } => self.change(
                relation_id,
                EventType::Update,
                old,
                old_is_key,
                Some(new),
                lsn,
                out,
            ),
            PgOutputMessage::Delete {
                relation_id,
                old,
                old_is_key,
            } => self.change(
                relation_id,
                EventType::Delete,
                Some(old),
                old_is_key,
                None,
                lsn,
                out,
            ),
            PgOutputMessage::Truncate { relation_ids, .. } => {
                let pos = self.position(lsn);
                for id in relation_ids {
                    match self.relations.get(&id) {
                        Some(entry) if entry.included => {
                            out.push(Ok(self.factory.truncate(&entry.shape, &pos)))
                        }
                        Some(_) => {}
                        None => out.push(Err(unknown_relation(id, lsn))),
                    }
                }
            }
            PgOutputMessage::Origin { .. } | PgOutputMessage::Message { .. } => {}
        }
    }

    fn relation(&mut self, relation: Relation) {
        let qualified = format!("{}.{}", relation.namespace, relation.name);
        let columns: Vec<_> = relation
            .columns
            .iter()
            .map(|c| {
                let name = self.type_names.get(&c.type_oid).map(String::as_str);
                (c.name.clone(), self.types.resolve(c.type_oid, name))
            })
            .collect();
        let key: Vec<usize> = match self.primary_keys.get(&qualified) {
            Some(pk) if !pk.is_empty() => pk
                .iter()
                .filter_map(|k| columns.iter().position(|(n, _)| n == k))
                .collect(),
            _ => relation
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_key)
                .map(|(i, _)| i)
                .collect(),
        };
        let shape = self
            .factory
            .shape(&relation.namespace, &relation.name, columns, key);
        let included = (self.include)(shape.stream(), &qualified);
        self.relations
            .insert(relation.id, RelationEntry { shape, included });
    }

    #[allow(clippy::too_many_arguments)]
    fn change(
        &mut self,
        relation_id: u32,
        event_type: EventType,
        old: Option<Vec<TupleValue>>,
        old_is_key: bool,
        new: Option<Vec<TupleValue>>,
        lsn: u64,
        out: &mut Vec<Result<SourceEvent>>,
    ) {
        // Counted before any filtering, so a change's ordinal is the same
        // whatever is selected.
        self.ordinal += 1;
        let ordinal = self.ordinal;
        let Some(entry) = self.relations.get(&relation_id) else {
            out.push(Err(unknown_relation(relation_id, lsn)));
            return;
        };
        if !entry.included {
            return;
        }
        let pos = self.position(lsn);
        let shape = &entry.shape;
        let mut toasted = Vec::new();
        let mut ignore = Vec::new();
        let built = (|| -> Result<_> {
            let before = match old {
                Some(values) => {
                    let row = self.factory.tuple_row(shape, &values, &pos, &mut ignore)?;
                    Some(if old_is_key {
                        EventFactory::key_only(shape, row)
                    } else {
                        row
                    })
                }
                None => None,
            };
            let after = match new {
                Some(values) => Some(self.factory.tuple_row(shape, &values, &pos, &mut toasted)?),
                None => None,
            };
            Ok((before, after))
        })();
        let (before, after) = match built {
            Ok(rows) => rows,
            Err(e) => {
                out.push(Err(e));
                return;
            }
        };
        let event = self
            .factory
            .event(shape, event_type, before, after, &pos, toasted);
        // Unique per change: the transaction (commit LSN) and the change's
        // place in it — never the change's own LSN alone.
        self.emitter
            .emit(event, &json!([pos.commit_lsn, ordinal]), out);
    }
}

fn unknown_relation(id: u32, lsn: u64) -> ConnectorError {
    ConnectorError::schema(format!(
        "change at LSN {} refers to relation {id}, which the server never described",
        format_lsn(lsn)
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::postgres::PostgresCdcConfig;
    use pgwire_replication::Lsn;

    /// Fails before the fix: an undecodable pgoutput message was
    /// `ErrorKind::Data`, a record error that `on_error: skip` swallowed.
    #[test]
    fn an_undecodable_message_is_a_stage_fault_not_a_record_error() {
        let config = PostgresCdcConfig::new("h", 5432, "db", "u", "s", "p");
        let mut decoder = ChangeDecoder::new(DecoderParts {
            factory: EventFactory::new(&config).unwrap(),
            types: TypeCatalog::default(),
            primary_keys: HashMap::new(),
            include: Box::new(|_: &str, _: &str| true),
            emitter: Emitter::new(&Default::default()),
            heartbeat: Duration::from_secs(10),
            start_lsn: 0,
        });
        let mut out = Vec::new();
        decoder.on_event(
            ReplicationEvent::XLogData {
                wal_start: Lsn(0x10),
                wal_end: Lsn(0x20),
                server_time_micros: 0,
                data: vec![b'?', 1, 2].into(),
            },
            &mut out,
        );
        let err = match out.pop() {
            Some(Err(e)) => e,
            other => panic!("expected an error, got {other:?}"),
        };
        assert_ne!(err.kind(), ErrorKind::Data);
        assert!(err.is_retryable(), "restart from the committed position");
    }
}
