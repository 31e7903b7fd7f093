//! postgres-cdc end to end: a private PostgreSQL → `postgres-cdc` → JSONL
//! `file` sink, through the runtime.
//!
//! * **throughput** — 200 000 single-row inserts, written as 200 transactions
//!   of one 1 000-row `INSERT`, while the pipeline streams: changes/s from the
//!   first insert to the last change durably in the file. Also the drain rate
//!   of the same load as a backlog (written before the pipeline starts).
//! * **latency** — a steady 5 000 rows/s (50-row transactions every 10 ms) for
//!   `--seconds`: commit (the server's commit timestamp) → written to the file
//!   (after the sink's write returned), p50/p99/max.
//!
//! ```sh
//! cargo run --release -p rivven-connect-benches --bin pg_cdc            # 200 000 rows, 10 s steady
//! cargo run -p rivven-connect-benches --bin pg_cdc -- --rows 20000 --seconds 2   # CI size
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use rivven_connect::runtime::{MemoryOffsetStore, Runtime};
use rivven_connect_benches::cdc::{print_live, start_to_file, wait_written, CdcArgs};
use rivven_connect_benches::sinks::{percentile_ms, TimedFile};
use rivven_connect_cdc::postgres::{PostgresCdcConfig, PostgresCdcSource, SnapshotMode, TlsMode};
use rivven_connect_testing::services::Postgres;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

async fn client(pg: &Postgres) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    c
}

/// A pipeline on the table (and slot) called `table`.
async fn start(
    pg: &Postgres,
    table: &str,
    snapshot: SnapshotMode,
    sink: &TimedFile,
    path: &std::path::Path,
) -> Runtime {
    let mut config = PostgresCdcConfig::new(
        pg.host(),
        pg.port(),
        pg.database(),
        pg.user(),
        table,
        format!("{table}_pub"),
    );
    config.tls.mode = TlsMode::Disable;
    config.publication_tables = vec![table.to_string()];
    config.snapshot_mode = snapshot;
    config.status_interval_ms = 1000;
    start_to_file(
        PostgresCdcSource::default(),
        config,
        MemoryOffsetStore::new(),
        sink,
        path,
    )
    .await
}

/// A pipeline on the (empty) `table`, once it streams: its snapshot is done
/// and a warm-up row (id 0) has arrived.
async fn streaming(
    pg: &Postgres,
    db: &tokio_postgres::Client,
    table: &str,
    sink: &TimedFile,
    path: &std::path::Path,
) -> Runtime {
    let runtime = start(pg, table, SnapshotMode::Initial, sink, path).await;
    db.execute(
        &format!("INSERT INTO {table} VALUES (0, 'warm-up', 0, now())"),
        &[],
    )
    .await
    .unwrap();
    wait_written(sink, 1).await;
    runtime
}

async fn insert_batches(
    db: &tokio_postgres::Client,
    table: &str,
    first: i64,
    rows: i64,
    per_tx: i64,
) {
    let mut id = first;
    while id < first + rows {
        let to = (id + per_tx - 1).min(first + rows - 1);
        db.execute(
            &format!("INSERT INTO {table} SELECT g, 'payload-' || g, g * 1.25, now() FROM generate_series($1::bigint, $2::bigint) g"),
            &[&id, &to],
        )
        .await
        .unwrap();
        id = to + 1;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = CdcArgs::parse("pg_cdc");
    let pg = Postgres::start()
        .await
        .expect("a private PostgreSQL (Debian package `postgresql`)");
    let db = client(&pg).await;
    let dir = tempfile::tempdir().unwrap();
    let ddl = "(id bigint PRIMARY KEY, payload text, amount numeric(12,2), created timestamptz)";
    db.batch_execute(&format!(
        "CREATE TABLE live {ddl}; CREATE TABLE backlog {ddl}; CREATE TABLE steady {ddl};"
    ))
    .await
    .unwrap();

    // 1. Live: the pipeline streams while the load is written.
    let sink = TimedFile::default();
    let runtime = streaming(&pg, &db, "live", &sink, &dir.path().join("live.jsonl")).await;
    let t0 = Instant::now();
    insert_batches(&db, "live", 1, a.rows, 1000).await;
    let written_by_db = t0.elapsed();
    wait_written(&sink, a.rows as u64 + 1).await;
    let live = t0.elapsed();
    runtime.shutdown(Duration::from_secs(30)).await;

    // 2. Backlog: the load is in the WAL before the pipeline starts.
    db.execute(
        "SELECT pg_create_logical_replication_slot('backlog', 'pgoutput')",
        &[],
    )
    .await
    .unwrap();
    db.batch_execute("CREATE PUBLICATION backlog_pub FOR TABLE backlog")
        .await
        .unwrap();
    insert_batches(&db, "backlog", 1, a.rows, 1000).await;
    let sink_b = TimedFile::default();
    let t1 = Instant::now();
    let runtime = start(
        &pg,
        "backlog",
        SnapshotMode::Never,
        &sink_b,
        &dir.path().join("backlog.jsonl"),
    )
    .await;
    wait_written(&sink_b, a.rows as u64).await;
    let backlog = t1.elapsed();
    let backlog_events = sink_b.written.load(std::sync::atomic::Ordering::Relaxed);
    runtime.shutdown(Duration::from_secs(30)).await;

    // 3. Latency at a steady 5 000 rows/s.
    let sink_s = TimedFile::default();
    let runtime = streaming(
        &pg,
        &db,
        "steady",
        &sink_s,
        &dir.path().join("steady.jsonl"),
    )
    .await;
    sink_s.clear();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let ticks = a.seconds * 100;
    let begin = Instant::now();
    for t in 0..ticks as i64 {
        tick.tick().await;
        insert_batches(&db, "steady", 1 + t * 50, 50, 50).await;
    }
    let rate = (ticks * 50) as f64 / begin.elapsed().as_secs_f64();
    wait_written(&sink_s, ticks * 50 + 1).await;
    runtime.shutdown(Duration::from_secs(30)).await;
    let mut lat = sink_s.latencies_us();
    lat.sort_unstable();

    println!(
        "postgres-cdc → file ({} rows, PostgreSQL on this machine, same 2 cores)",
        a.rows
    );
    print_live(a.rows, live, written_by_db);
    println!(
        "  backlog  {:>9.0} changes/s ({} changes already in the WAL, pipeline start to last in {:.2} s)",
        backlog_events as f64 / backlog.as_secs_f64(),
        backlog_events,
        backlog.as_secs_f64()
    );
    println!(
        "  steady   {:.0} rows/s offered for {} s: commit → file p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} changes)",
        rate,
        a.seconds,
        percentile_ms(&lat, 0.50),
        percentile_ms(&lat, 0.99),
        percentile_ms(&lat, 1.0),
        lat.len()
    );
}
