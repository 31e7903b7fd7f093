//! mysql-cdc end to end: a private MariaDB → `mysql-cdc` → JSONL `file`
//! sink, through the runtime (the same jobs as `pg_cdc`).
//!
//! * **live** — 200 000 single-row inserts, written as 200 transactions of
//!   one 1 000-row `INSERT`, while the pipeline streams: changes/s from the
//!   first insert to the last change durably in the file.
//! * **backlog** — the same load written while no pipeline runs, after one
//!   run committed the position before it: the restarted pipeline's drain
//!   rate, from its start to the last change in the file.
//! * **steady** — 5 000 rows/s (50-row transactions every 10 ms) for
//!   `--seconds`: commit → written to the file (after the sink's write
//!   returned), p50/p99/max. Binlog timestamps are whole seconds, so the
//!   commit time is the client's clock right after its `INSERT` (autocommit)
//!   returned, matched to the written change by the row id.
//!
//! ```sh
//! cargo run --release -p rivven-connect-benches --bin my_cdc            # 200 000 rows, 10 s steady
//! cargo run -p rivven-connect-benches --bin my_cdc -- --rows 20000 --seconds 2   # CI size
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mysql_async::prelude::Queryable;
use rivven_connect::runtime::{MemoryOffsetStore, Runtime};
use rivven_connect::SourceEvent;
use rivven_connect_benches::cdc::{print_live, start_to_file, wait_written, CdcArgs};
use rivven_connect_benches::sinks::{percentile_ms, TimedFile};
use rivven_connect_cdc::mysql::{MySqlCdcConfig, MySqlCdcSource, SnapshotMode, TlsMode};
use rivven_connect_testing::services::MariaDb;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const DATABASE: &str = "bench";

/// A pipeline on `table`, with offsets in `store`.
async fn start(
    db: &MariaDb,
    table: &str,
    snapshot: SnapshotMode,
    store: &MemoryOffsetStore,
    sink: &TimedFile,
    path: &std::path::Path,
) -> Runtime {
    let mut config = MySqlCdcConfig::new(db.host(), db.port(), DATABASE, db.user(), 4242);
    config.tls.mode = TlsMode::Disable;
    config.tables = vec![table.to_string()];
    config.snapshot_mode = snapshot;
    start_to_file(MySqlCdcSource::default(), config, store.clone(), sink, path).await
}

/// A pipeline on the (empty) `table`, once it streams: a warm-up row (id 0)
/// has arrived.
async fn streaming(
    db: &MariaDb,
    sql: &mut mysql_async::Conn,
    table: &str,
    store: &MemoryOffsetStore,
    sink: &TimedFile,
    path: &std::path::Path,
) -> Runtime {
    let runtime = start(db, table, SnapshotMode::Initial, store, sink, path).await;
    // The snapshot (of an empty table) comes first, then streaming: a row
    // written now arrives through the binlog.
    sql.query_drop(format!(
        "INSERT INTO {table} VALUES (0, 'warm-up', 0, NOW(6))"
    ))
    .await
    .unwrap();
    wait_written(sink, 1).await;
    runtime
}

/// `rows` rows from id `first`, `per_tx` rows per `INSERT` (autocommit);
/// returns the client's time after each `INSERT` returned, by its first id.
async fn insert_batches(
    sql: &mut mysql_async::Conn,
    table: &str,
    first: i64,
    rows: i64,
    per_tx: i64,
) -> Vec<(i64, DateTime<Utc>)> {
    let mut committed = Vec::new();
    let mut id = first;
    while id < first + rows {
        let to = (id + per_tx - 1).min(first + rows - 1);
        // MariaDB's SEQUENCE engine: the table seq_<from>_to_<to>.
        sql.query_drop(format!(
            "INSERT INTO {table} SELECT seq, CONCAT('payload-', seq), seq * 1.25, NOW(6) FROM seq_{id}_to_{to}"
        ))
        .await
        .unwrap();
        committed.push((id, Utc::now()));
        id = to + 1;
    }
    committed
}

/// The id of a change (its `after.id`).
fn row_id(e: &SourceEvent) -> Option<i64> {
    e.data.get("after")?.get("id")?.as_i64()
}

/// Wait until `store` holds a committed position for the bench pipeline.
async fn wait_committed(store: &MemoryOffsetStore) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.get("bench").is_none() {
        assert!(Instant::now() < deadline, "no position committed in 60 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = CdcArgs::parse("my_cdc");
    let db = MariaDb::builder()
        // The load's 600 000 rows fit in memory, as PostgreSQL's defaults
        // hold them; the binary log stays as the test servers have it.
        .option("innodb-buffer-pool-size", "256M")
        .start()
        .await
        .expect("a private MariaDB (Debian package `mariadb-server`)");
    let mut sql = mysql_async::Conn::from_url(db.url()).await.unwrap();
    let ddl =
        "(id bigint PRIMARY KEY, payload text, amount decimal(12,2), created timestamp(6) NULL)";
    sql.query_drop(format!(
        "CREATE DATABASE {DATABASE}; USE {DATABASE};
         CREATE TABLE live {ddl}; CREATE TABLE backlog {ddl}; CREATE TABLE steady {ddl};"
    ))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();

    // 1. Live: the pipeline streams while the load is written.
    let sink = TimedFile::default();
    let store = MemoryOffsetStore::new();
    let path = dir.path().join("live.jsonl");
    let runtime = streaming(&db, &mut sql, "live", &store, &sink, &path).await;
    let t0 = Instant::now();
    insert_batches(&mut sql, "live", 1, a.rows, 1000).await;
    let written_by_db = t0.elapsed();
    wait_written(&sink, a.rows as u64 + 1).await;
    let live = t0.elapsed();
    runtime.shutdown(Duration::from_secs(30)).await;

    // 2. Backlog: one run commits a position (after its snapshot of the
    // empty table and a warm-up row), then the load is written with no
    // pipeline running, and the pipeline restarted with `snapshot_mode:
    // never` resumes from the committed position and drains it.
    let store = MemoryOffsetStore::new();
    let warm = TimedFile::default();
    let path = dir.path().join("backlog-warm-up.jsonl");
    let runtime = streaming(&db, &mut sql, "backlog", &store, &warm, &path).await;
    wait_committed(&store).await;
    runtime.shutdown(Duration::from_secs(30)).await;
    insert_batches(&mut sql, "backlog", 1, a.rows, 1000).await;
    let sink_b = TimedFile::keyed(row_id);
    let path = dir.path().join("backlog.jsonl");
    let t1 = Instant::now();
    let runtime = start(&db, "backlog", SnapshotMode::Never, &store, &sink_b, &path).await;
    // In commit order the last change is the load's last row.
    wait_written(&sink_b, a.rows as u64).await;
    while sink_b.last_key() != Some(a.rows) {
        assert!(
            t1.elapsed() < Duration::from_secs(600),
            "the backlog did not drain in 600 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let backlog = t1.elapsed();
    // At-least-once: the warm-up row comes again if its own checkpoint was
    // not committed before the first run stopped.
    let again = sink_b.written.load(std::sync::atomic::Ordering::Relaxed) - a.rows as u64;
    runtime.shutdown(Duration::from_secs(30)).await;

    // 3. Latency at a steady 5 000 rows/s.
    let sink_s = TimedFile::keyed(row_id);
    let store = MemoryOffsetStore::new();
    let path = dir.path().join("steady.jsonl");
    let runtime = streaming(&db, &mut sql, "steady", &store, &sink_s, &path).await;
    sink_s.clear();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let ticks = a.seconds * 100;
    let mut committed: HashMap<i64, DateTime<Utc>> = HashMap::new();
    let begin = Instant::now();
    for t in 0..ticks as i64 {
        tick.tick().await;
        for (first, at) in insert_batches(&mut sql, "steady", 1 + t * 50, 50, 50).await {
            committed.insert(first, at);
        }
    }
    let rate = (ticks * 50) as f64 / begin.elapsed().as_secs_f64();
    wait_written(&sink_s, ticks * 50 + 1).await;
    runtime.shutdown(Duration::from_secs(30)).await;
    // Row id → its transaction's first id (50 rows per transaction from 1).
    let mut early = 0usize;
    let mut lat: Vec<u64> = sink_s
        .written_at()
        .into_iter()
        .filter(|(id, _)| *id > 0)
        .filter_map(|(id, written)| {
            let at = committed.get(&(1 + (id - 1) / 50 * 50))?;
            let us = (written - *at).num_microseconds().unwrap_or(0);
            // Written before the client saw its COMMIT return: 0.
            early += usize::from(us < 0);
            Some(u64::try_from(us).unwrap_or(0))
        })
        .collect();
    lat.sort_unstable();

    println!(
        "mysql-cdc → file ({} rows, MariaDB on this machine, same 2 cores)",
        a.rows
    );
    print_live(a.rows, live, written_by_db);
    println!(
        "  backlog  {:>9.0} changes/s ({} changes already in the binlog, pipeline start to last in {:.2} s; {} before them again)",
        a.rows as f64 / backlog.as_secs_f64(),
        a.rows,
        backlog.as_secs_f64(),
        again
    );
    println!(
        "  steady   {:.0} rows/s offered for {} s: commit → file p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} changes, {} written before the client saw its commit)",
        rate,
        a.seconds,
        percentile_ms(&lat, 0.50),
        percentile_ms(&lat, 0.99),
        percentile_ms(&lat, 1.0),
        lat.len(),
        early
    );
}
