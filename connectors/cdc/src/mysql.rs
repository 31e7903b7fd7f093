//! `mysql-cdc`: MySQL/MariaDB change data capture over the binary log.
//!
//! The source registers with the server as a replica (its own
//! `server_id`) and reads the `ROW`-format binary log.
//!
//! ```yaml
//! sources:
//!   mysql:
//!     connector: mysql-cdc
//!     config:
//!       host: localhost
//!       port: 3306
//!       database: shop
//!       user: replicator
//!       password: ${MYSQL_PASSWORD}
//!       server_id: 12345
//!       tables: [orders, customers]
//! ```
//!
//! The server needs `log_bin`, `binlog_format=ROW` and
//! `binlog_row_image=FULL` (`check` names whatever is missing);
//! `binlog_row_metadata=FULL` is recommended: column names then come with
//! each table map, so row events are read right even while DDL is applied.
//! The user needs `REPLICATION SLAVE`, `REPLICATION CLIENT` (MariaDB ≥ 10.5:
//! `BINLOG MONITOR`) and `SELECT` on the captured tables.
//!
//! # Delivery
//! - Events carry `position` = `{file, pos, row}` (the rows event's start
//!   and the row's index in it), `transaction_id` = the GTID (MariaDB
//!   `domain-server-seq`, MySQL `uuid:n`) or else `file:pos` of the
//!   transaction's start, and the shared envelope with
//!   `source{connector, db, table, file, pos, row, gtid, server_id, ts_ms, snapshot}`.
//! - A transaction's end (its XID event, a `COMMIT` query, or a DDL
//!   statement, which commits on its own) yields a checkpoint `binlog =
//!   {file, pos, gtid}` with `pos` the *end* of the transaction: a committed
//!   checkpoint never falls inside a transaction, and after a crash the
//!   source resumes there, re-emitting only whole transactions
//!   (at-least-once). [`Source::commit`] is called once the runtime durably
//!   stored that position; the server keeps no replica position, so nothing
//!   is confirmed upstream.
//! - Positions are binlog file + offset on both servers. A MySQL GTID set
//!   and a MariaDB GTID are recorded with each transaction, but resuming is
//!   always by file and offset (`mysql_common` cannot position by MariaDB
//!   GTID), so after a fail-over to another server the committed position
//!   does not carry over.
//! - A stream that starts at the server's current position (`snapshot_mode:
//!   never`, nothing committed yet) commits that position before the first
//!   change, so a restart before the first transaction does not start at a
//!   later position and skip what was written in between.
//! - The source registers under a host name of its own
//!   (`rivven-connect-<pid>-<n>`, listed by `SHOW SLAVE HOSTS`). While
//!   another replica is listed with the same `server_id` it does not open
//!   the binary log (the server would end the other's connection) and
//!   fails, retryably, naming that replica: a run killed a moment ago stays
//!   listed until the server notices its connection is gone. `check` fails
//!   on such a `server_id` as well.
//! - While the binary log is idle, the server sends a heartbeat every
//!   `heartbeat_interval_ms`; a heartbeat between transactions is
//!   checkpointed, so an idle server does not make the source look stalled.
//! - `cdc_features.deduplication` remembers changes by `(file, pos, row)`
//!   per session, as `postgres-cdc` does per replication session.
//!
//! # Snapshot
//! `snapshot_mode` as for `postgres-cdc`. The snapshot runs in one
//! `START TRANSACTION WITH CONSISTENT SNAPSHOT`; its binlog position is read
//! without any lock on MariaDB (the session's `binlog_snapshot_file` and
//! `binlog_snapshot_position` belong to that snapshot) and under a brief
//! `FLUSH TABLES WITH READ LOCK` on MySQL. Streaming starts at exactly that
//! position: no gap and no duplicate at the seam. Tables are read in
//! primary-key chunks of `snapshot_chunk_size` (keyset pagination; a table
//! without primary key is streamed by the server in one query), progress is
//! checkpointed per table.
//!
//! # DDL
//! A DDL statement in the captured database makes the source read the
//! captured tables' columns from `information_schema` again before their
//! next row event; `TRUNCATE TABLE` is emitted as `op = t`. With
//! `binlog_row_metadata=FULL` values are matched to columns by the names in
//! the table map; without it by position, with the column list as it is
//! when the source reads it (a backlog that spans DDL may then be read
//! with the newer columns).
//!
//! # Values
//! See [`value`]. MariaDB's compressed binlog events (`log_bin_compress=ON`:
//! zlib-compressed query text and row data) are inflated and read as the
//! plain events, with the same output; a corrupt one is an error. Not
//! supported, each failing loudly rather than silently: MySQL's partial JSON
//! updates (`binlog_row_value_options=PARTIAL_JSON`), and column types
//! without a mapping (e.g. MariaDB `INET6`, `UUID`), which are a data error
//! naming the column.
//!
//! [`Source::commit`]: rivven_connect::Source::commit

mod check;
mod compressed;
mod config;
mod jsonb;
mod position;
pub mod rows;
mod schema;
mod session;
mod source;
mod stream;
pub mod value;

pub use config::{MySqlCdcConfig, MySqlCdcConfigSpec, SnapshotMode, TlsMode, TlsSettings};
pub use position::BinlogPosition;
pub use source::MySqlCdcSource;
