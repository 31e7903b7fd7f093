//! `postgres-cdc`: PostgreSQL change data capture over logical replication.
//!
//! The source reads the built-in `pgoutput` plugin's stream from a logical
//! replication slot: no server extension is needed.
//!
//! ```yaml
//! sources:
//!   db:
//!     connector: postgres-cdc
//!     config:
//!       host: localhost
//!       database: shop
//!       user: replicator
//!       password: ${POSTGRES_PASSWORD}
//!       slot_name: rivven_slot
//!       publication_name: rivven_pub
//!       publication_tables: [public.orders, public.customers]
//! ```
//!
//! # Delivery
//! - Events carry `position` = the change's LSN, `transaction_id` = the xid,
//!   the commit time as their timestamp, and a Debezium-style envelope in
//!   `data`: `before`, `after`, `op` (`c`/`u`/`d`/`r`/`t`), `ts_ms` and
//!   `source{connector, db, schema, table, lsn, commit_lsn, txId, ts_ms, snapshot}`.
//! - A transaction's Commit yields a checkpoint (`lsn` = its end LSN); the
//!   slot's `confirmed_flush_lsn` is advanced only by [`Source::commit`],
//!   i.e. after the runtime durably committed that checkpoint, so the slot
//!   never passes what the sink has written. After a crash the server resends
//!   every transaction after the committed position, whole (at-least-once).
//! - `cdc_features.deduplication` works per replication session: the server
//!   never resends within one, and after a restart everything past the
//!   committed position must be emitted again.
//! - Between transactions a keep-alive's WAL position is checkpointed every
//!   `heartbeat_interval_ms`, so an idle slot does not pin the server's WAL.
//!
//! # Snapshot
//! With a new slot, `CREATE_REPLICATION_SLOT … USE_SNAPSHOT` runs inside the
//! snapshot's `REPEATABLE READ` transaction: the rows read (`op = r`, in
//! chunks of `snapshot_chunk_size` through a cursor) are exactly the state
//! at the slot's consistent point, and streaming starts there — no gap and
//! no duplicate at the seam. Progress is checkpointed per table; a snapshot
//! interrupted by a crash resumes with the tables not yet finished, in a new
//! transaction (the slot keeps every change since its consistent point, so
//! nothing is lost; changes to those tables made meanwhile may arrive twice).
//! `snapshot_mode: always` on an existing slot behaves the same way.
//!
//! # Shared core
//! The envelope, the committed state's layout (`lsn`, `snapshot{status, lsn,
//! done}`, read strictly: a malformed entry fails the start naming the key)
//! and the `snapshot_mode` decisions come from the shared core
//! ([`crate::common`]); what is PostgreSQL's own here is the wire protocol,
//! the slot and publication, and the values.
//!
//! # Values
//! See [`value`] for how each PostgreSQL type becomes JSON. An update that
//! leaves a TOASTed column unchanged does not carry its value: the column
//! holds `unchanged_toast_value` and is listed in the event's
//! `metadata.extra.unchanged_toast`.
//!
//! # Wire protocol
//! The replication connection (startup in `replication=database` mode,
//! SCRAM-SHA-256, TLS via rustls, copy-both streaming, standby status
//! updates and keep-alive replies) comes from the `pgwire-replication`
//! crate: maintained, no libpq, and it keeps answering keep-alives while our
//! pipeline applies backpressure. Its gated sessions let the checks, the
//! catalog reads, slot creation and the snapshot run on the same session
//! before `START_REPLICATION`. The `pgoutput` messages themselves are decoded
//! here (module `pgoutput`), so every change type is under our tests.
//! (`tokio-postgres` has no copy-both support; `pg_walstream` 0.9 — the
//! newest that resolves here — is younger and brings its own decoded model,
//! which would sit between the wire and our envelope.)
//!
//! [`Source::commit`]: rivven_connect::Source::commit

mod catalog;
mod config;
mod events;
pub mod legacy;
pub(crate) mod pgoutput;
mod session;
mod setup;
mod source;
mod stream;
pub mod value;

pub use config::{PostgresCdcConfig, PostgresCdcConfigSpec, SnapshotMode, TlsMode, TlsSettings};
pub use source::PostgresCdcSource;
