//! The `sql-sink` against sqlx in a hand-written loop, in one run, on a
//! private PostgreSQL (connect-testing): rows/s of upserts in batches of 1 000.
//!
//! * **upsert** — `SqlSink::write_borrowed` (mode `upsert`, each batch one
//!   `INSERT … SELECT … FROM json_populate_recordset($1) ON CONFLICT … DO
//!   UPDATE` in a transaction) vs sqlx running the same statement, built from
//!   the same rows, in a transaction per batch.
//! * **upsert, exactly_once** — the same with the position stored in
//!   `rivven_offsets` in each transaction (`write_with_position`), vs the
//!   loop adding the same `SELECT … FOR UPDATE` and position upsert.
//!
//! Each side writes its own table: first `--rows N` new rows, then the same
//! keys again (updates), so both inserts and conflicts are measured.
//!
//! ```sh
//! cargo run --release -p rivven-connect-benches --bin sql                 # 200 000 rows
//! cargo run -p rivven-connect-benches --bin sql -- --messages 20000       # CI size
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use rivven_connect::{Sink, SinkConfig, SourceEvent, State};
use rivven_connect_benches::messaging::{self, rate, BATCH};
use rivven_connect_sql::{SqlSink, SqlSinkConfig};
use rivven_connect_testing::services::Postgres;
use serde_json::{json, Map, Value};
use sqlx::Connection;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const COLUMNS: [&str; 7] = [
    "id",
    "customer_id",
    "email",
    "product",
    "quantity",
    "total",
    "status",
];

const PRODUCTS: [&str; 4] = ["keyboard", "mouse", "monitor", "laptop"];
const STATUSES: [&str; 3] = ["pending", "paid", "shipped"];

fn row(id: u64, round: u64) -> Map<String, Value> {
    let product = PRODUCTS[(id % 4) as usize];
    let status = STATUSES[((id + round) % 3) as usize];
    let v = json!({
        "id": id,
        "customer_id": (id * 7919 + round) % 10_000,
        "email": format!("customer{id}@example.com"),
        "product": product,
        "quantity": (id + round) % 5 + 1,
        "total": ((id * 31 + round) % 100_000) as f64 / 100.0,
        "status": status,
    });
    v.as_object().cloned().unwrap()
}

fn batches(n: usize, round: u64) -> Vec<Vec<Map<String, Value>>> {
    (0..n as u64)
        .map(|id| row(id, round))
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(<[_]>::to_vec)
        .collect()
}

fn create_table(name: &str) -> String {
    format!(
        "CREATE TABLE {name} (id BIGINT PRIMARY KEY, customer_id BIGINT, email TEXT, \
         product TEXT, quantity BIGINT, total DOUBLE PRECISION, status TEXT)"
    )
}

/// The sink's statement for `table`, written out by hand.
fn upsert_sql(table: &str) -> String {
    let cols: Vec<String> = COLUMNS.iter().map(|c| format!("\"{c}\"")).collect();
    let list = cols.join(", ");
    let set: Vec<String> = cols[1..]
        .iter()
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    format!(
        "INSERT INTO \"{table}\" ({list}) SELECT {list} FROM json_populate_recordset(NULL::\"{table}\", $1::json) \
         ON CONFLICT (\"id\") DO UPDATE SET {}",
        set.join(", ")
    )
}

/// sqlx by hand: per batch a transaction with the upsert (and, exactly-once,
/// the position's lock and upsert).
async fn sqlx_loop(
    conn: &mut sqlx::PgConnection,
    table: &str,
    rounds: &[Vec<Vec<Map<String, Value>>>],
    exactly_once: bool,
) -> Duration {
    let sql = upsert_sql(table);
    let started = Instant::now();
    let mut seq = 0u64;
    for batches in rounds {
        for batch in batches {
            seq += batch.len() as u64;
            let mut tx = conn.begin().await.unwrap();
            if exactly_once {
                sqlx::query("SELECT position FROM raw_offsets WHERE pipeline = $1 FOR UPDATE")
                    .bind(table)
                    .fetch_optional(&mut *tx)
                    .await
                    .unwrap();
            }
            // The rows' columns, borrowed, as one JSON array.
            let rows: Vec<std::collections::BTreeMap<&str, &Value>> = batch
                .iter()
                .map(|r| COLUMNS.iter().map(|c| (*c, &r[*c])).collect())
                .collect();
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(serde_json::to_string(&rows).unwrap())
                .execute(&mut *tx)
                .await
                .unwrap();
            if exactly_once {
                let position =
                    json!({"streams": {"bench": {"data": {"sequence": seq}}}, "global": {}});
                sqlx::query(
                    "INSERT INTO raw_offsets (pipeline, position) VALUES ($1, $2) \
                     ON CONFLICT (pipeline) DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
                )
                .bind(table)
                .bind(position.to_string())
                .execute(&mut *tx)
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
        }
    }
    started.elapsed()
}

async fn sink_run(
    config: &SqlSinkConfig,
    rounds: &[Vec<Vec<Map<String, Value>>>],
    exactly_once: bool,
) -> Duration {
    let sink = SqlSink::new();
    let events: Vec<Vec<Vec<SourceEvent>>> = rounds
        .iter()
        .map(|batches| {
            batches
                .iter()
                .map(|b| {
                    b.iter()
                        .map(|r| SourceEvent::record("bench", Value::Object(r.clone())))
                        .collect()
                })
                .collect()
        })
        .collect();
    // Connect (and read the table) before the clock starts, as the loop does.
    assert!(sink.check(config).await.unwrap().is_success());
    let started = Instant::now();
    let mut seq = 0u64;
    for batches in &events {
        for batch in batches {
            seq += batch.len() as u64;
            let result = if exactly_once {
                let mut position = State::default();
                position.merge_stream_update(
                    "bench",
                    json!({"sequence": seq}).as_object().cloned().unwrap(),
                );
                sink.write_with_position(config, batch, &position)
                    .await
                    .unwrap()
            } else {
                sink.write_borrowed(config, batch).await.unwrap()
            };
            assert!(result.is_success(), "{result:?}");
        }
    }
    started.elapsed()
}

async fn bench(n: usize) -> Vec<(String, f64, f64)> {
    let pg = Postgres::start().await.unwrap();
    let mut conn = sqlx::PgConnection::connect(&pg.url()).await.unwrap();
    for t in ["sink_upsert", "raw_upsert", "sink_eo", "raw_eo"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(create_table(t)))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::raw_sql(
        "CREATE TABLE raw_offsets (pipeline VARCHAR(255) PRIMARY KEY, position TEXT NOT NULL, \
         updated_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let m = n / BATCH * BATCH;
    // New rows, then the same keys again: inserts and conflicts.
    let rounds = vec![batches(m, 0), batches(m, 1)];
    let rows_written = 2 * m;
    let mut out = Vec::new();
    for (name, exactly_once) in [("upsert", false), ("upsert, exactly_once", true)] {
        let suffix = if exactly_once { "eo" } else { "upsert" };
        let mut config = json!({
            "url": pg.url(), "table": format!("sink_{suffix}"), "mode": "upsert",
            "batch_size": BATCH
        });
        if exactly_once {
            config["delivery"] = json!("exactly_once");
        }
        let config = SqlSinkConfig::from_value(config).unwrap();
        // Alternate the order between the two kinds to spread warm-up effects.
        let (sink, raw) = if exactly_once {
            let raw = sqlx_loop(&mut conn, &format!("raw_{suffix}"), &rounds, true).await;
            (sink_run(&config, &rounds, true).await, raw)
        } else {
            let sink = sink_run(&config, &rounds, false).await;
            (
                sink,
                sqlx_loop(&mut conn, &format!("raw_{suffix}"), &rounds, false).await,
            )
        };
        out.push((
            format!("sql-sink {name}"),
            rate(rows_written, sink),
            rate(rows_written, raw),
        ));
    }
    // Both sides wrote the same rows.
    let count: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sink_upsert JOIN raw_upsert USING (id, customer_id, email, product, quantity, total, status)")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(count.0 as usize, m);
    out
}

#[tokio::main]
async fn main() {
    let n = messaging::messages_arg(200_000);
    let rows = bench(n).await;
    println!(
        "PostgreSQL upserts, batches of {BATCH}, {} rows per side\n",
        2 * (n / BATCH * BATCH)
    );
    println!("| path | sql-sink rows/s | sqlx loop rows/s | ratio |");
    println!("|---|---:|---:|---:|");
    for (name, sink, raw) in rows {
        println!("| {name} | {sink:.0} | {raw:.0} | {:.2} |", sink / raw);
    }
}
