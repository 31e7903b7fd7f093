//! Exactly-once into SQL, proven with `kill -9`: the real `rivven-connect`
//! binary runs a YAML pipeline — `datagen` in `cdc_mode` (100 000 inserts,
//! updates and deletes of orders, seeded) → `sql-sink` in `cdc` mode with
//! `delivery: exactly_once` — into a private PostgreSQL and a private
//! MariaDB, and is killed with SIGKILL at 5 random points (seed printed).
//! After the last run the target table equals the state the change stream
//! describes, row for row (count and a checksum over all columns), and the
//! insert-only audit tables filled by triggers show that no row version and
//! no position was written twice.
//!
//! A second pair of runs rejects a fraction of the changes (a `CHECK` on the
//! order id refuses every insert and update of one order in `REJECT_EVERY`)
//! to a file dead-letter queue: after all the kills the table equals the
//! state without those orders, and the last change of every rejected order
//! that the stream leaves standing is in the dead-letter file at least once
//! (a kill between the dead-letter write and the sink's commit may write one
//! twice, never zero times).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "support/crash.rs"]
mod crash;

use crash::{spawn, Lcg};
use futures::StreamExt;
use mysql_async::prelude::Queryable;
use rivven_connect::builtin::{DatagenConfig, DatagenSource};
use rivven_connect::{ConfiguredCatalog, Source, SourceConfig};
use rivven_connect_testing::services::{MariaDb, Postgres};
use serde_json::{json, Value};

const EVENTS: u64 = 100_000;
const KILLS: usize = 5;
const SEED: u64 = 21;
/// With rejections: the orders whose id is a multiple of this are refused.
const REJECT_EVERY: i64 = 101;

/// The datagen source of both runs and of the expected state.
fn datagen() -> Value {
    json!({
        "pattern": "orders", "cdc_mode": true, "seed": SEED, "max_events": EVENTS,
        "events_per_second": 25_000, "include_sequence": true, "stream_name": "orders"
    })
}

/// The final state the stream describes — order_id → the row's columns as
/// text, in the table's column order — and the `sequence` of the last change
/// of each order the stream leaves standing.
async fn final_changes() -> (BTreeMap<i64, Vec<String>>, BTreeMap<i64, u64>) {
    let mut config = datagen();
    config["events_per_second"] = json!(0);
    let config = DatagenConfig::from_value(config).unwrap();
    let mut events = DatagenSource
        .read(&config, &ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    let mut state = BTreeMap::new();
    let mut last = BTreeMap::new();
    let mut n = 0;
    while let Some(event) = events.next().await {
        let event = event.unwrap();
        if !event.is_data() {
            continue;
        }
        n += 1;
        let data = &event.data;
        match data["op"].as_str().unwrap() {
            "d" => {
                let id = data["before"]["order_id"].as_i64().unwrap();
                state.remove(&id);
                last.remove(&id);
            }
            _ => {
                let after = &data["after"];
                let id = after["order_id"].as_i64().unwrap();
                state.insert(id, columns(after));
                last.insert(id, after["sequence"].as_u64().unwrap());
            }
        }
    }
    assert_eq!(n, EVENTS);
    (state, last)
}

/// A row's columns as the database prints them.
fn columns(row: &Value) -> Vec<String> {
    vec![
        row["order_id"].to_string(),
        row["customer_id"].to_string(),
        row["customer_email"].as_str().unwrap().to_string(),
        row["product"].as_str().unwrap().to_string(),
        row["quantity"].to_string(),
        format!("{:.2}", row["total"].as_f64().unwrap()),
        row["status"].as_str().unwrap().to_string(),
        row["sequence"].to_string(),
    ]
}

const SELECT_ROWS: &str = "SELECT order_id, customer_id, customer_email, product, quantity, \
                           total, status, sequence FROM orders ORDER BY order_id";

/// An order-independent checksum over every column of every row.
fn checksum(rows: &BTreeMap<i64, Vec<String>>) -> u64 {
    let mut sum = 0u64;
    for cols in rows.values() {
        let mut h = crc32fast::Hasher::new();
        h.update(cols.join("\u{1f}").as_bytes());
        sum = sum.wrapping_add(u64::from(h.finalize()));
    }
    sum
}

/// The private server and the independent client for one database kind.
enum Db {
    Pg(Postgres),
    My(MariaDb),
}

impl Db {
    fn url(&self) -> String {
        match self {
            Db::Pg(pg) => pg.url_for("app"),
            Db::My(my) => format!("mysql://root@127.0.0.1:{}/app", my.port()),
        }
    }

    async fn exec(&self, sql: &str, in_app: bool) {
        match self {
            Db::Pg(pg) => {
                let db = if in_app { "app" } else { "postgres" };
                let (client, conn) = tokio_postgres::connect(
                    &format!(
                        "host=127.0.0.1 port={} user=postgres dbname={db}",
                        pg.port()
                    ),
                    tokio_postgres::NoTls,
                )
                .await
                .unwrap();
                tokio::spawn(conn);
                client.batch_execute(sql).await.unwrap();
            }
            Db::My(my) => {
                let url = if in_app { self.url() } else { my.url() };
                let mut c = mysql_async::Conn::from_url(url).await.unwrap();
                c.query_drop(sql).await.unwrap();
                c.disconnect().await.unwrap();
            }
        }
    }

    async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self {
            Db::Pg(pg) => {
                let (client, conn) = tokio_postgres::connect(
                    &format!("host=127.0.0.1 port={} user=postgres dbname=app", pg.port()),
                    tokio_postgres::NoTls,
                )
                .await
                .unwrap();
                tokio::spawn(conn);
                client
                    .simple_query(sql)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                            (0..r.len())
                                .map(|i| r.get(i).unwrap_or("NULL").to_string())
                                .collect(),
                        ),
                        _ => None,
                    })
                    .collect()
            }
            Db::My(_) => {
                let mut c = mysql_async::Conn::from_url(self.url()).await.unwrap();
                let rows: Vec<mysql_async::Row> = c.query(sql).await.unwrap();
                c.disconnect().await.unwrap();
                rows.into_iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| match r.as_ref(i) {
                                Some(mysql_async::Value::Bytes(b)) => {
                                    String::from_utf8_lossy(b).into_owned()
                                }
                                Some(mysql_async::Value::NULL) | None => "NULL".into(),
                                Some(v) => v.as_sql(true),
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }

    /// The target table, the offsets table (as the sink would create it),
    /// and triggers that copy every row version and every stored position
    /// into insert-only audit tables.
    async fn prepare(&self, rejects: bool) {
        self.exec("CREATE DATABASE app", false).await;
        let table = "CREATE TABLE orders (order_id BIGINT PRIMARY KEY, customer_id BIGINT, \
                     customer_email VARCHAR(200), product VARCHAR(200), quantity BIGINT, \
                     total DECIMAL(12,2), status VARCHAR(50), sequence BIGINT NOT NULL)";
        self.exec(table, true).await;
        if rejects {
            let check = format!(
                "ALTER TABLE orders ADD CONSTRAINT refused_orders \
                 CHECK (MOD(order_id, {REJECT_EVERY}) <> 0)"
            );
            self.exec(&check, true).await;
        }
        self.exec("CREATE TABLE row_audit (sequence BIGINT NOT NULL)", true)
            .await;
        self.exec("CREATE TABLE position_audit (position TEXT NOT NULL)", true)
            .await;
        match self {
            Db::Pg(_) => {
                self.exec(
                    "CREATE TABLE rivven_offsets (pipeline VARCHAR(255) PRIMARY KEY, \
                     position TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
                     CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS
                       $$ BEGIN INSERT INTO row_audit VALUES (NEW.sequence); RETURN NEW; END $$;
                     CREATE FUNCTION audit_position() RETURNS trigger LANGUAGE plpgsql AS
                       $$ BEGIN INSERT INTO position_audit VALUES (NEW.position); RETURN NEW; END $$;
                     CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE ON orders
                       FOR EACH ROW EXECUTE FUNCTION audit_row();
                     CREATE TRIGGER offsets_audit AFTER INSERT OR UPDATE ON rivven_offsets
                       FOR EACH ROW EXECUTE FUNCTION audit_position();",
                    true,
                )
                .await;
            }
            Db::My(_) => {
                for sql in [
                    "CREATE TABLE rivven_offsets (pipeline VARCHAR(255) PRIMARY KEY, \
                     position LONGTEXT NOT NULL, updated_at TIMESTAMP(6) NOT NULL \
                     DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))",
                    "CREATE TRIGGER orders_ai AFTER INSERT ON orders FOR EACH ROW \
                     INSERT INTO row_audit VALUES (NEW.sequence)",
                    "CREATE TRIGGER orders_au AFTER UPDATE ON orders FOR EACH ROW \
                     INSERT INTO row_audit VALUES (NEW.sequence)",
                    "CREATE TRIGGER offsets_ai AFTER INSERT ON rivven_offsets FOR EACH ROW \
                     INSERT INTO position_audit VALUES (NEW.position)",
                    "CREATE TRIGGER offsets_au AFTER UPDATE ON rivven_offsets FOR EACH ROW \
                     INSERT INTO position_audit VALUES (NEW.position)",
                ] {
                    self.exec(sql, true).await;
                }
            }
        }
    }

    /// The datagen sequence of the position the sink stored (0 before any).
    async fn stored_sequence(&self) -> u64 {
        let rows = self.rows("SELECT position FROM rivven_offsets").await;
        rows.first()
            .and_then(|r| serde_json::from_str::<Value>(r[0].trim_matches('\'')).ok())
            .and_then(|s| s["streams"]["orders"]["data"]["sequence"].as_u64())
            .unwrap_or(0)
    }

    async fn count(&self, sql: &str) -> u64 {
        self.rows(sql).await[0][0]
            .trim_matches('\'')
            .parse()
            .unwrap()
    }
}

/// The run's YAML; with `dlq`, rejected records go to that JSON Lines file.
fn write_config(dir: &Path, db: &Db, dlq: Option<&Path>) -> PathBuf {
    let config = dir.join("sql.yaml");
    let (dlq_sink, settings) = match dlq {
        Some(path) => (
            format!(
                "  dlq:\n    connector: file\n    config: {{ path: \"{}\", format: event }}\n",
                path.display()
            ),
            "    settings: { on_error: dead_letter, dead_letter: dlq }\n",
        ),
        None => (String::new(), ""),
    };
    std::fs::write(
        &config,
        format!(
            "sources:\n  gen:\n    connector: datagen\n    config: {}\n\
             sinks:\n  db:\n    connector: sql-sink\n    config:\n      url: {}\n      \
             table: orders\n      mode: cdc\n      delivery: exactly_once\n      batch_size: 1000\n\
             {dlq_sink}\
             pipelines:\n  replicate:\n    source: gen\n    sink: db\n{settings}\
             data_dir: {}\n",
            datagen(),
            db.url(),
            dir.join("data").display()
        ),
    )
    .unwrap();
    config
}

/// `(order_id, sequence)` of each dead letter in the file (duplicates kept);
/// a torn last line (never acknowledged) is ignored.
fn dead_letters(path: &Path) -> Vec<(i64, u64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |at| &text[..=at]);
    complete
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let letter = &v["data"];
            assert_eq!(letter["stage"], "sink", "{l:.300}");
            assert_eq!(letter["stream"], "orders", "{l:.300}");
            let after = &letter["event"]["data"]["after"];
            (
                after["order_id"].as_i64().unwrap(),
                after["sequence"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `rejects`: the table refuses the orders of `REJECT_EVERY`, which go to a
/// file dead-letter queue.
async fn kill_nine_at_random_points(db: Db, rejects: bool) {
    let dir = tempfile::tempdir().unwrap();
    db.prepare(rejects).await;
    let dlq = dir.path().join("dead-letters.jsonl");
    let config = write_config(dir.path(), &db, rejects.then_some(dlq.as_path()));
    let log = dir.path().join("rivven-connect.log");
    let (mut expected, mut last_changes) = final_changes().await;
    if rejects {
        // The refused orders never have a row; the last change of each that
        // the stream leaves standing was refused in whatever batch it came.
        expected.retain(|id, _| id % REJECT_EVERY != 0);
        last_changes.retain(|id, _| id % REJECT_EVERY == 0);
        assert!(!last_changes.is_empty(), "no order is rejected");
    }
    let mut rng = Lcg::from_clock();
    let dump_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // Kill points: 5 positions spread over the stream, sorted.
    let mut points: Vec<u64> = (0..KILLS)
        .map(|_| rng.next(1_000, EVENTS - 2_000))
        .collect();
    points.sort_unstable();
    for (kill, point) in points.into_iter().enumerate() {
        let mut child = spawn(&config, &log);
        // Run until the stored position passes the kill point (plus a
        // random few milliseconds: anywhere inside a batch's transaction).
        // Generous: with a rejected record in nearly every batch (the
        // dead-letter variant) each batch is written up to three times, and
        // beside two other test binaries on 2 cores that ran at ~300 rows/s.
        let deadline = Instant::now() + Duration::from_secs(400);
        while db.stored_sequence().await < point {
            assert!(
                Instant::now() < deadline,
                "no progress to {point}:\n{}",
                dump_log()
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "exited early:\n{}",
                dump_log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let wait = rng.next(0, 40);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if child.try_wait().unwrap().is_some() {
            println!("kill {kill}: the run had already finished");
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        println!(
            "kill {kill}: SIGKILL {wait} ms after position {point} (stored: {})",
            db.stored_sequence().await
        );
    }
    // The last run goes to the end of the bounded stream and exits 0.
    let mut child = spawn(&config, &log);
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the last run did not finish:\n{}",
            dump_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        status.success(),
        "the last run exited with {status}:\n{}",
        dump_log()
    );

    // The table equals the stream's final state: count and checksum.
    let mut actual = BTreeMap::new();
    for row in db.rows(SELECT_ROWS).await {
        let cols: Vec<String> = row
            .into_iter()
            .map(|c| c.trim_matches('\'').to_string())
            .collect();
        actual.insert(cols[0].parse::<i64>().unwrap(), cols);
    }
    println!(
        "rows: expected {} (checksum {}), table {} (checksum {})",
        expected.len(),
        checksum(&expected),
        actual.len(),
        checksum(&actual)
    );
    assert_eq!(actual.len(), expected.len(), "row count");
    if let Some((id, cols)) = expected
        .iter()
        .find(|(id, cols)| actual.get(id) != Some(cols))
    {
        panic!(
            "order {id}: expected {cols:?}, table has {:?}",
            actual.get(id)
        );
    }
    assert_eq!(checksum(&actual), checksum(&expected));

    // No row version written twice (a replayed batch would write its
    // sequences again), and no position stored twice.
    let mut versions: HashMap<u64, u32> = HashMap::new();
    for row in db.rows("SELECT sequence FROM row_audit").await {
        *versions
            .entry(row[0].trim_matches('\'').parse().unwrap())
            .or_default() += 1;
    }
    let twice: Vec<_> = versions.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(
        twice.is_empty(),
        "row versions written more than once: {twice:?}"
    );
    let positions = db.count("SELECT COUNT(*) FROM position_audit").await;
    let distinct = db
        .count("SELECT COUNT(DISTINCT position) FROM position_audit")
        .await;
    assert_eq!(positions, distinct, "a position was stored twice");
    let stored = db.rows("SELECT position FROM rivven_offsets").await;
    assert_eq!(stored.len(), 1);
    let state: Value = serde_json::from_str(stored[0][0].trim_matches('\'')).unwrap();
    assert_eq!(
        state["streams"]["orders"]["data"]["sequence"],
        json!(EVENTS),
        "{state}"
    );
    println!(
        "{} row versions, {positions} positions, each once",
        versions.len()
    );
    if rejects {
        let letters = dead_letters(&dlq);
        assert!(
            letters.iter().all(|(id, _)| id % REJECT_EVERY == 0),
            "a dead letter of an order the table takes"
        );
        let lettered: std::collections::HashSet<u64> =
            letters.iter().map(|(_, seq)| *seq).collect();
        let missing: Vec<_> = last_changes
            .iter()
            .filter(|(_, seq)| !lettered.contains(seq))
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "rejected changes (order, sequence) not in the dead-letter file: {missing:?}"
        );
        println!(
            "{} dead letters ({} distinct changes); the last change of all {} rejected orders among them",
            letters.len(),
            lettered.len(),
            last_changes.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_into_postgres_is_exactly_once() {
    let pg = Postgres::start()
        .await
        .expect("PostgreSQL (Debian package `postgresql`)");
    kill_nine_at_random_points(Db::Pg(pg), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_into_mariadb_is_exactly_once() {
    let my = MariaDb::start()
        .await
        .expect("MariaDB (Debian package `mariadb-server`)");
    kill_nine_at_random_points(Db::My(my), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_into_postgres_dead_letters_every_rejected_change() {
    let pg = Postgres::start()
        .await
        .expect("PostgreSQL (Debian package `postgresql`)");
    kill_nine_at_random_points(Db::Pg(pg), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_into_mariadb_dead_letters_every_rejected_change() {
    let my = MariaDb::start()
        .await
        .expect("MariaDB (Debian package `mariadb-server`)");
    kill_nine_at_random_points(Db::My(my), true).await;
}
