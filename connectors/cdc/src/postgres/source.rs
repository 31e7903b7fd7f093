//! The [`PostgresCdcSource`]: check, discover, read (snapshot, then stream)
//! and commit (confirm the slot).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use pgwire_replication::Lsn;
use rivven_connect::{
    Catalog, CheckResult, ConfiguredCatalog, ConnectorError, ConnectorSpec, Result, Source,
    SourceEvent, State,
};
use tokio::sync::Notify;

use crate::common::check::summarized;
use crate::common::emit::Emitter;
use crate::common::resume::{position_of, ResumeState};
use crate::common::snapshot::{plan, CursorAction, CursorStatus, SnapshotRun, StreamFrom};

use super::catalog::{published_tables, TableInfo, TableSet, TypeCatalog};
use super::config::{PostgresCdcConfig, PostgresCdcConfigSpec};
use super::events::{EventFactory, Position, TableShape};
use super::session::{classify, quote_ident, PgLsn, Session};
use super::setup::{
    create_slot, drop_slot, ensure_publication, publication_exists, server_facts, slot_gone,
    slot_info, slot_info_released, SlotSnapshot,
};
use super::stream::{ChangeDecoder, DecoderParts};

/// PostgreSQL CDC source (`postgres-cdc`); see the [module docs](super).
#[derive(Default)]
pub struct PostgresCdcSource {
    shared: Arc<Shared>,
}

/// What `commit` hands to the running stream.
#[derive(Default)]
struct Shared {
    /// Newest durably committed LSN.
    confirmed: AtomicU64,
    wake: Notify,
}

/// One line, for a failed check.
#[async_trait]
impl Source for PostgresCdcSource {
    type Config = PostgresCdcConfig;

    fn spec() -> ConnectorSpec {
        PostgresCdcConfigSpec::spec()
    }

    async fn check(&self, config: &PostgresCdcConfig) -> Result<CheckResult> {
        // A failure keeps its error kind: a server that is down is a
        // retryable check failure, which a pipeline (re)start waits out.
        let failed = |name: &str, e: ConnectorError| {
            CheckResult::builder().check(name, Err::<(), _>(e)).finish()
        };
        let mut session = match Session::connect(config, 0).await {
            Ok(s) => s,
            Err(e) => return Ok(failed("connect", e)),
        };
        let mut b = CheckResult::builder().check_passed("connect");
        let facts = match server_facts(&mut session).await {
            Ok(f) => f,
            Err(e) => return Ok(failed("server", e)),
        };
        b = b.check("wal_level", facts.require_logical()).check(
            "replication privilege",
            facts.require_replication(&config.user),
        );
        let publication = config.publication_name();
        b = match publication_exists(&mut session, publication).await {
            Ok(true) => b.check_passed("publication"),
            Ok(false) if config.auto_create_publication => b.check_passed("publication"),
            Ok(false) => b.check_failed(
                "publication",
                format!("publication `{publication}` does not exist and auto_create_publication is false: CREATE PUBLICATION {} FOR ALL TABLES (or FOR TABLE …)", quote_ident(publication)),
            ),
            Err(e) => b.check("publication", Err::<(), _>(e)),
        };
        b = match slot_info(&mut session, &config.slot_name).await {
            Ok(Some(slot)) => b.check("replication slot", slot.usable(&config.slot_name, &config.database)),
            Ok(None) if config.auto_create_slot => b.check_passed("replication slot"),
            Ok(None) => b.check_failed(
                "replication slot",
                format!("replication slot `{}` does not exist and auto_create_slot is false: SELECT pg_create_logical_replication_slot('{}', 'pgoutput')", config.slot_name, config.slot_name),
            ),
            Err(e) => b.check("replication slot", Err::<(), _>(e)),
        };
        Ok(summarized(b.finish()))
    }

    async fn discover(&self, config: &PostgresCdcConfig) -> Result<Catalog> {
        let mut session = Session::connect(config, 0).await?;
        let (tables, _, factory) = describe(&mut session, config).await?;
        Ok(Catalog::new(
            tables
                .iter()
                .map(|t| t.stream(&factory.stream_name(&t.schema, &t.name)))
                .collect(),
        ))
    }

    async fn read(
        &self,
        config: &PostgresCdcConfig,
        catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let resume = ResumeState::<PgLsn>::from_state(state.as_ref())?;
        let committed = resume.position.map(|l| l.0);
        let mut session = Session::connect(config, committed.unwrap_or(0)).await?;
        let facts = server_facts(&mut session).await?;
        let streaming = config.snapshot_mode.streams();
        if streaming {
            facts.require_logical()?;
            facts.require_replication(&config.user)?;
            ensure_publication(&mut session, config).await?;
        }
        let slot = if streaming {
            slot_info_released(&mut session, &config.slot_name).await?
        } else {
            None
        };
        let cursor = match &slot {
            None => CursorStatus::Missing,
            Some(s) if s.is_lost() => CursorStatus::Lost,
            Some(_) => CursorStatus::Usable,
        };
        // A slot that is gone (or that the server invalidated) while we hold
        // a committed position: a new slot would start at the current WAL
        // position and skip everything in between. Only a re-snapshot
        // (`when_needed`, `always`) closes that gap.
        let plan = plan(config.snapshot_mode, &resume, cursor)
            .map_err(|gone| slot_gone(&config.slot_name, gone.committed.0, gone.lost))?;
        if plan.cursor == CursorAction::Recreate {
            tracing::warn!(slot = %config.slot_name, "the replication slot was invalidated by the server: dropping it to re-create it and snapshot again");
            drop_slot(&mut session, &config.slot_name).await?;
        }
        match (&slot, plan.cursor) {
            (Some(s), CursorAction::Keep) if streaming => {
                s.usable(&config.slot_name, &config.database)?
            }
            (_, CursorAction::Create | CursorAction::Recreate) if !config.auto_create_slot => {
                return Err(ConnectorError::config(format!(
                    "replication slot `{}` does not exist and auto_create_slot is false",
                    config.slot_name
                )))
            }
            _ => {}
        }
        if plan.is_idle() {
            return Ok(futures::stream::empty().boxed());
        }
        let (tables, types, factory) = describe(&mut session, config).await?;
        let selected = |stream: &str, qualified: &str| {
            catalog.streams.is_empty() || catalog.includes(stream) || catalog.includes(qualified)
        };
        let shapes: Vec<(TableInfo, TableShape)> = tables
            .iter()
            .map(|t| {
                let key = t
                    .primary_key
                    .iter()
                    .filter_map(|k| t.columns.iter().position(|c| &c.name == k))
                    .collect();
                let columns = t
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.pg_type.clone()))
                    .collect();
                (t.clone(), factory.shape(&t.schema, &t.name, columns, key))
            })
            .filter(|(t, s)| selected(s.stream(), &t.qualified()))
            .collect();

        // Where streaming starts, and the snapshot's consistent point.
        let mut point = match &plan.stream {
            Some(StreamFrom::Cursor) => slot.as_ref().and_then(|s| s.confirmed_flush_lsn),
            _ => committed,
        };
        if plan.snapshot.is_some() {
            session
                .query("BEGIN ISOLATION LEVEL REPEATABLE READ")
                .await?;
            if plan.snapshot_at_new_cursor() {
                // The slot's own snapshot: the stream continues exactly where it ends.
                point =
                    Some(create_slot(&mut session, &config.slot_name, SlotSnapshot::Use).await?);
            } else if streaming {
                tracing::info!(slot = %config.slot_name, "the slot exists: snapshot in a new transaction; changes made since the slot's position may arrive twice");
            }
        } else if plan.stream == Some(StreamFrom::NewCursor) {
            // Only without a committed position (checked above): nothing is skipped.
            point =
                Some(create_slot(&mut session, &config.slot_name, SlotSnapshot::Nothing).await?);
        }
        let primary_keys: HashMap<String, Vec<String>> = tables
            .iter()
            .map(|t| (t.qualified(), t.primary_key.clone()))
            .collect();
        let catalog_filter = catalog.clone();
        let parts = DecoderParts {
            factory,
            types,
            primary_keys,
            include: Box::new(move |stream: &str, qualified: &str| {
                catalog_filter.streams.is_empty()
                    || catalog_filter.includes(stream)
                    || catalog_filter.includes(qualified)
            }),
            // One per session, never carried over: after a restart every
            // change past the committed position must be emitted again (those
            // read but not written before the failure included), and the
            // server resends nothing within a session.
            emitter: Emitter::new(&config.cdc_features),
            heartbeat: config.heartbeat_interval(),
            start_lsn: point.unwrap_or(0),
        };
        let chunk = config.snapshot_chunk_size;
        let shared = Arc::clone(&self.shared);
        let stream = async_stream::stream! {
            let decoder = ChangeDecoder::new(parts);
            if let Some(snapshot) = plan.snapshot {
                let mut run = SnapshotRun::new(point.map(PgLsn), snapshot.done);
                let snap_pos = Position { lsn: point.unwrap_or(0), commit_lsn: point.unwrap_or(0), snapshot: true, ..Position::default() };
                for (table, shape) in &shapes {
                    if run.is_done(&table.qualified()) {
                        continue;
                    }
                    let mut rows = SnapshotCursor::open(&mut session, table, chunk).await;
                    loop {
                        match rows.next_chunk(&mut session).await {
                            Err(e) => { yield Err(e); return; }
                            Ok(chunk) if chunk.is_empty() => break,
                            Ok(chunk) => {
                                for row in chunk {
                                    yield decoder
                                        .factory()
                                        .text_row(shape, &row, &snap_pos)
                                        .map(|r| decoder.factory().event(shape, rivven_connect::EventType::Snapshot, None, Some(r), &snap_pos, Vec::new()));
                                }
                            }
                        }
                    }
                    if let Err(e) = rows.close(&mut session).await { yield Err(e); return; }
                    yield run.table_done(table.qualified()).map(SourceEvent::state);
                }
                if let Err(e) = session.query("COMMIT").await { yield Err(e); return; }
                tracing::info!(tables = run.done().len(), "snapshot complete");
                yield run.complete(streaming).map(SourceEvent::state);
            }
            if !streaming {
                return;
            }
            let mut decoder = decoder;
            let mut client = match session.start().await {
                Ok(c) => c,
                Err(e) => { yield Err(e); return; }
            };
            let mut reported = committed.unwrap_or(0);
            let mut out = Vec::new();
            loop {
                let confirmed = shared.confirmed.load(Ordering::Acquire);
                if confirmed > reported {
                    client.update_applied_lsn(Lsn(confirmed));
                    reported = confirmed;
                }
                let event = tokio::select! {
                    biased;
                    _ = shared.wake.notified() => continue,
                    event = client.recv() => event,
                };
                match event {
                    Ok(Some(event)) => decoder.on_event(event, &mut out),
                    Ok(None) => {
                        yield Err(ConnectorError::connection("the replication stream ended (server shut down or connection closed)").with_retryable(true));
                        return;
                    }
                    Err(e) => {
                        yield Err(classify(&e).context("replication stream"));
                        return;
                    }
                }
                for item in out.drain(..) {
                    yield item;
                }
            }
        };
        Ok(stream.boxed())
    }

    async fn commit(&self, _config: &PostgresCdcConfig, state: &State) -> Result<()> {
        if let Some(PgLsn(lsn)) = position_of::<PgLsn>(state)? {
            self.shared.confirmed.fetch_max(lsn, Ordering::AcqRel);
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// The replication slot: two readers would confirm it past each other's changes.
    fn exclusive_resource(&self, config: &PostgresCdcConfig) -> Option<String> {
        Some(config.exclusive_resource())
    }
}

/// The tables the source captures, the column types and the event factory.
async fn describe(
    session: &mut Session,
    config: &PostgresCdcConfig,
) -> Result<(Vec<TableInfo>, TypeCatalog, EventFactory)> {
    let types = TypeCatalog::load(session).await?;
    let publication = config.publication_name();
    let set = if publication_exists(session, publication).await? {
        TableSet::Publication(publication)
    } else if config.publication_tables.is_empty() {
        TableSet::All
    } else {
        TableSet::Listed(&config.publication_tables)
    };
    let tables = published_tables(session, &set, &types).await?;
    Ok((tables, types, EventFactory::new(config)?))
}

/// A snapshot cursor over one table, fetched `chunk` rows at a time.
struct SnapshotCursor {
    fetch: String,
    open: Result<()>,
    what: String,
}

impl SnapshotCursor {
    async fn open(session: &mut Session, table: &TableInfo, chunk: u32) -> Self {
        let columns: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let sql = format!(
            "DECLARE rivven_snapshot NO SCROLL CURSOR FOR SELECT {} FROM {}.{}",
            if columns.is_empty() {
                "NULL".to_string()
            } else {
                columns.join(", ")
            },
            quote_ident(&table.schema),
            quote_ident(&table.name)
        );
        let open = session.query(&sql).await.map(|_| ());
        Self {
            fetch: format!("FETCH FORWARD {chunk} FROM rivven_snapshot"),
            open,
            what: table.qualified(),
        }
    }

    async fn next_chunk(&mut self, session: &mut Session) -> Result<Vec<Vec<Option<String>>>> {
        if let Err(e) = &self.open {
            return Err(e
                .to_detached()
                .context(format!("snapshot of {}", self.what)));
        }
        session
            .query(&self.fetch)
            .await
            .map_err(|e| e.context(format!("snapshot of {}", self.what)))
    }

    async fn close(self, session: &mut Session) -> Result<()> {
        session.query("CLOSE rivven_snapshot").await.map(|_| ())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::stream::checkpoint;
    use super::*;
    use serde_json::json;

    #[test]
    fn resume_reads_the_committed_position() {
        let state = State::builder()
            .global("lsn", json!("0/16B3748"))
            .global(
                "snapshot",
                json!({"status": "running", "done": ["public.a"]}),
            )
            .build();
        let r = ResumeState::<PgLsn>::from_state(Some(&state)).unwrap();
        assert_eq!(r.position, Some(PgLsn(0x16B_3748)));
        assert!(!r.snapshot_complete());
        assert_eq!(r.tables_done(), ["public.a".to_string()]);
        let done = State::builder()
            .global(
                "snapshot",
                json!({"status": "complete", "done": ["public.a"]}),
            )
            .build();
        let r = ResumeState::<PgLsn>::from_state(Some(&done)).unwrap();
        assert!(r.snapshot_complete());
        assert!(
            r.tables_done().is_empty(),
            "a finished snapshot skips nothing next time"
        );
        assert_eq!(
            ResumeState::<PgLsn>::from_state(None).unwrap().position,
            None
        );
    }

    /// What the source has always written resumes: the merged state after a
    /// snapshot and some streaming, as the offset store holds it.
    #[test]
    fn offsets_written_before_the_shared_core_still_resume() {
        let stored = r#"{"streams":{},"global":{"lsn":"1/10","snapshot":{"done":[],"lsn":"0/16B3748","status":"complete"}}}"#;
        let state: State = serde_json::from_str(stored).unwrap();
        let r = ResumeState::<PgLsn>::from_state(Some(&state)).unwrap();
        assert_eq!(r.position, Some(PgLsn(0x1_0000_0010)));
        assert_eq!(r.snapshot.unwrap().point, Some(PgLsn(0x16B_3748)));
        let interrupted =
            r#"{"global":{"snapshot":{"done":["public.a"],"lsn":"0/16B3748","status":"running"}}}"#;
        let state: State = serde_json::from_str(interrupted).unwrap();
        let r = ResumeState::<PgLsn>::from_state(Some(&state)).unwrap();
        assert_eq!(r.position, None);
        assert_eq!(r.tables_done(), ["public.a".to_string()]);
    }

    /// Fails before the fix: a malformed `lsn` read as "no position", so the
    /// source snapshotted again (`initial`) or, with the slot gone, created a
    /// new one past every change since the real committed position.
    #[test]
    fn a_malformed_committed_lsn_is_an_error_not_a_fresh_start() {
        for bad in [json!("not an lsn"), json!(23_000_000), json!("")] {
            let state = State::builder().global("lsn", bad.clone()).build();
            let err = ResumeState::<PgLsn>::from_state(Some(&state)).unwrap_err();
            assert!(err.to_string().contains("`lsn`"), "{bad}: {err}");
            assert!(!err.is_retryable());
            assert!(position_of::<PgLsn>(&state).is_err(), "{bad}");
        }
    }

    #[test]
    fn checkpoints_carry_the_lsn_as_text() {
        let e = checkpoint(0x1_0000_0010).unwrap();
        let s: State = serde_json::from_value(e.data).unwrap();
        assert_eq!(s.global["lsn"], json!("1/10"));
    }
}
