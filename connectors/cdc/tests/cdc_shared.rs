//! The behaviours `postgres-cdc` and `mysql-cdc` share, each test body
//! written once and run against a private PostgreSQL and a private MariaDB:
//! deletes, tombstones, deduplication, table selection, column filters,
//! topic routing and the envelope's shape. Where the two differ by nature
//! (the `source` block's coordinates, the default namespace, how tables are
//! listed) the difference is asserted explicitly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Both support modules include the shared `support/events.rs` (as each
// single-database test does); here it is compiled twice, harmlessly.
#![allow(clippy::duplicate_mod)]

#[path = "support/my.rs"]
mod my;
#[path = "support/pg.rs"]
mod pg;

use std::collections::BTreeSet;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use rivven_connect::runtime::{MemoryOffsetStore, PipelineSettings, Runtime};
use rivven_connect::SourceEvent;
use rivven_connect_cdc::common::features::{CdcFeaturesConfig, ColumnFilter, ColumnFilterConfig};
use rivven_connect_testing::services::{MariaDb, Postgres};
use rivven_connect_testing::MockSink;
use serde_json::{json, Value};

/// Which database a test body runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Db {
    Postgres,
    MariaDb,
}

/// A private server of either kind and a SQL client to it.
enum Server {
    Postgres(Box<Postgres>, tokio_postgres::Client),
    MariaDb(MariaDb, mysql_async::Conn),
}

/// The config keys both sources share (`tables`: the captured tables, which
/// `postgres-cdc` calls `publication_tables` and `mysql-cdc` `tables`).
#[derive(Debug, Clone, Default)]
struct Shared {
    tables: Vec<String>,
    column_filters: ColumnFilterConfig,
    cdc_features: CdcFeaturesConfig,
    topic_routing: Option<String>,
}

impl Server {
    async fn start(db: Db) -> Self {
        match db {
            Db::Postgres => {
                let (s, c) = pg::server().await;
                Server::Postgres(Box::new(s), c)
            }
            Db::MariaDb => {
                let (s, c) = my::server().await;
                Server::MariaDb(s, c)
            }
        }
    }

    /// Runs `sql` (statements separated by `;`).
    async fn sql(&mut self, sql: &str) {
        match self {
            Server::Postgres(_, c) => c.batch_execute(sql).await.unwrap(),
            Server::MariaDb(_, c) => c.query_drop(sql).await.unwrap(),
        }
    }

    /// `CREATE TABLE name (columns)`, with whole before images on both
    /// (PostgreSQL: `REPLICA IDENTITY FULL`; MariaDB logs them with
    /// `binlog_row_image=FULL`, which `check` requires).
    async fn create(&mut self, name: &str, columns: &str) {
        self.sql(&format!("CREATE TABLE {name} ({columns})")).await;
        if let Server::Postgres(..) = self {
            self.sql(&format!("ALTER TABLE {name} REPLICA IDENTITY FULL"))
                .await;
        }
    }

    /// `source.db` and `{database}` in `topic_routing`.
    fn database(&self) -> String {
        match self {
            Server::Postgres(s, _) => s.database().to_string(),
            Server::MariaDb(..) => "shop".to_string(),
        }
    }

    /// The namespace of a table (PostgreSQL: its schema; MySQL has no
    /// schemas, there it is the database): the first half of the default
    /// stream name and of a qualified `column_filters` entry.
    fn namespace(&self) -> &'static str {
        match self {
            Server::Postgres(..) => "public",
            Server::MariaDb(..) => "shop",
        }
    }

    /// The pipeline's name in the runtime's status.
    fn pipeline(&self) -> &'static str {
        match self {
            Server::Postgres(..) => "pg",
            Server::MariaDb(..) => "my",
        }
    }

    /// Start the source with `shared` → `sink`.
    async fn run(&self, shared: Shared, sink: &MockSink) -> Runtime {
        self.run_with(shared, sink, &MemoryOffsetStore::new(), my::settings())
            .await
    }

    async fn run_with(
        &self,
        shared: Shared,
        sink: &MockSink,
        store: &MemoryOffsetStore,
        settings: PipelineSettings,
    ) -> Runtime {
        match self {
            Server::Postgres(s, _) => {
                let mut c = pg::config(s, "shared_slot");
                c.publication_tables = shared.tables;
                c.column_filters = shared.column_filters;
                c.cdc_features = shared.cdc_features;
                c.topic_routing = shared.topic_routing;
                pg::run_with(c, sink, store, settings).await
            }
            Server::MariaDb(s, _) => {
                let mut c = my::config(s);
                c.tables = shared.tables;
                c.column_filters = shared.column_filters;
                c.cdc_features = shared.cdc_features;
                c.topic_routing = shared.topic_routing;
                my::run_with(c, sink, store, settings).await
            }
        }
    }
}

/// Runs `body` against `db`.
macro_rules! both {
    ($body:ident: $pg:ident, $my:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $pg() {
            $body(Db::Postgres).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $my() {
            $body(Db::MariaDb).await;
        }
    };
}

/// The `(op, id)` of each event (`~` for a tombstone).
fn ops(events: &[SourceEvent]) -> Vec<(String, Value)> {
    events
        .iter()
        .map(|e| {
            if e.data.is_null() {
                (
                    "~".to_string(),
                    e.key.clone().unwrap_or_default()["id"].clone(),
                )
            } else {
                let (op, _, id) = my::summary(std::slice::from_ref(e)).remove(0);
                (op, id)
            }
        })
        .collect()
}

fn want(list: &[(&str, i64)]) -> Vec<(String, Value)> {
    list.iter()
        .map(|(o, i)| (o.to_string(), json!(i)))
        .collect()
}

async fn deletes_and_tombstones(db: Db) {
    let mut server = Server::start(db).await;
    server
        .create("users", "id int PRIMARY KEY, name text")
        .await;
    server.sql("INSERT INTO users VALUES (0, 'snap')").await;
    let mut shared = Shared::default();
    shared.cdc_features.tombstones.enabled = true;
    let sink = MockSink::new();
    let runtime = server.run(shared, &sink).await;
    my::wait_for(&sink, 1).await;
    server
        .sql(
            "INSERT INTO users VALUES (1, 'ann');
             UPDATE users SET name = 'anne' WHERE id = 1;
             DELETE FROM users WHERE id = 1;
             DELETE FROM users WHERE id = 0;",
        )
        .await;
    let events = my::wait_for(&sink, 7).await;
    assert_eq!(
        ops(&events),
        want(&[
            ("r", 0),
            ("c", 1),
            ("u", 1),
            ("d", 1),
            ("~", 1),
            ("d", 0),
            ("~", 0)
        ])
    );
    let (delete, tombstone) = (&events[3], &events[4]);
    assert_eq!(delete.data["before"], json!({"id": 1, "name": "anne"}));
    assert_eq!(delete.data["after"], Value::Null);
    assert_eq!(delete.key, Some(json!({"id": 1})));
    assert_eq!(tombstone.data, Value::Null, "a tombstone has no value");
    assert_eq!(tombstone.key, delete.key, "the delete's key");
    assert_eq!(tombstone.stream, delete.stream, "the delete's stream");
    assert_eq!(
        tombstone.metadata.extra.get("tombstone"),
        Some(&json!(true))
    );
    // The snapshot row's delete: the snapshot's image as before.
    assert_eq!(events[5].data["before"], json!({"id": 0, "name": "snap"}));
    runtime.shutdown(Duration::from_secs(10)).await;
}
both!(deletes_and_tombstones: deletes_and_tombstones_postgres, deletes_and_tombstones_mariadb);

async fn deduplication_keeps_distinct_changes_and_what_a_restart_resends(db: Db) {
    let mut server = Server::start(db).await;
    server.create("r", "id int PRIMARY KEY, v int").await;
    server.sql("INSERT INTO r VALUES (-1, 0)").await;
    let mut shared = Shared::default();
    shared.cdc_features.deduplication.enabled = true;
    // The sink fails once after 50 events: the pipeline restarts from its
    // committed position and reads again what was read but not written.
    // Deduplication starts afresh with every read, so it lets them through.
    let sink = MockSink::new().fail_after(50);
    let store = MemoryOffsetStore::new();
    let runtime = server.run_with(shared, &sink, &store, my::settings()).await;
    // The snapshot row: streaming from here.
    my::wait_for(&sink, 1).await;
    // Identical-looking changes in separate transactions are distinct
    // changes: none is dropped.
    for _ in 0..2 {
        server
            .sql("INSERT INTO r VALUES (0, 1); DELETE FROM r WHERE id = 0;")
            .await;
    }
    let events = my::wait_for(&sink, 5).await;
    assert_eq!(
        ops(&events),
        want(&[("r", -1), ("c", 0), ("d", 0), ("c", 0), ("d", 0)])
    );
    for i in 1..=45 {
        server.sql(&format!("INSERT INTO r VALUES ({i}, 0)")).await;
    }
    my::wait_for(&sink, 50).await;
    for i in 46..=200 {
        server.sql(&format!("INSERT INTO r VALUES ({i}, 0)")).await;
    }
    let ok = rivven_connect_testing::eventually(
        || {
            let ids: BTreeSet<i64> = sink
                .written_events()
                .iter()
                .filter_map(|e| e.data["after"]["id"].as_i64())
                .collect();
            ids.len() == 202
        },
        Duration::from_secs(60),
    )
    .await;
    let status = runtime.status().await;
    let p = status.pipeline(server.pipeline()).unwrap().clone();
    runtime.shutdown(Duration::from_secs(10)).await;
    assert!(p.restarts >= 1, "the injected failure restarted: {p:?}");
    assert!(
        ok,
        "changes read before the failure were lost on the restart: {} written",
        sink.written_count()
    );
    // Written at most twice: once before the failure, once after it (the
    // replay from the committed position is at-least-once, never more).
    let mut counts = std::collections::BTreeMap::new();
    for e in sink.written_events().iter().filter(|e| e.data["op"] == "c") {
        *counts
            .entry(e.data["after"]["id"].as_i64().unwrap())
            .or_insert(0) += 1;
    }
    let expected = |id: i64| if id == 0 { 2 } else { 1 };
    let over: Vec<_> = counts
        .iter()
        .filter(|(id, n)| **n > 2 * expected(**id))
        .collect();
    assert!(over.is_empty(), "written more than twice: {over:?}");
}
both!(
    deduplication_keeps_distinct_changes_and_what_a_restart_resends:
    deduplication_postgres,
    deduplication_mariadb
);

async fn column_filters_include_and_exclude(db: Db) {
    let mut server = Server::start(db).await;
    server
        .create("users", "id int PRIMARY KEY, name text, secret text")
        .await;
    server
        .create("accounts", "id int PRIMARY KEY, name text, note text")
        .await;
    server
        .sql("INSERT INTO users VALUES (1, 'u1', 'pw1'); INSERT INTO accounts VALUES (1, 'a1', 'n1');")
        .await;
    let mut shared = Shared::default();
    // A bare table name, and one qualified by its namespace.
    shared
        .column_filters
        .insert("users".into(), ColumnFilter::excluding(["secret"]));
    shared.column_filters.insert(
        format!("{}.accounts", server.namespace()),
        ColumnFilter::including(["id", "name"]),
    );
    let sink = MockSink::new();
    let runtime = server.run(shared, &sink).await;
    my::wait_for(&sink, 2).await;
    server
        .sql(
            "INSERT INTO users VALUES (2, 'u2', 'pw2');
             UPDATE users SET name = 'u2b', secret = 'pw2b' WHERE id = 2;
             DELETE FROM users WHERE id = 2;
             INSERT INTO accounts VALUES (2, 'a2', 'n2');
             UPDATE accounts SET note = 'n2b', name = 'a2b' WHERE id = 2;
             DELETE FROM accounts WHERE id = 2;",
        )
        .await;
    let events = my::wait_for(&sink, 8).await;
    // Both filters keep `id` and `name`, in every image; the key is whole.
    for (e, (_, id)) in events.iter().zip(ops(&events)) {
        for image in ["before", "after"] {
            let row = &e.data[image];
            if row.is_null() {
                continue;
            }
            let names: BTreeSet<&str> = row
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(names, ["id", "name"].into(), "{image}: {}", e.data);
        }
        assert_eq!(e.key, Some(json!({ "id": id })));
    }
    let text = format!("{events:?}");
    for hidden in ["pw1", "pw2", "pw2b", "n1", "n2", "n2b"] {
        assert!(!text.contains(&format!("\"{hidden}\"")), "{hidden} leaked");
    }
    let update = events
        .iter()
        .find(|e| e.data["op"] == "u" && e.data["source"]["table"] == "accounts")
        .unwrap();
    assert_eq!(update.data["before"], json!({"id": 2, "name": "a2"}));
    assert_eq!(update.data["after"], json!({"id": 2, "name": "a2b"}));
    runtime.shutdown(Duration::from_secs(10)).await;
}
both!(
    column_filters_include_and_exclude:
    column_filters_postgres,
    column_filters_mariadb
);

async fn listed_tables_only_and_topic_routing(db: Db) {
    let mut server = Server::start(db).await;
    server.create("a", "id int PRIMARY KEY").await;
    server.create("b", "id int PRIMARY KEY").await;
    server
        .sql("INSERT INTO a VALUES (1); INSERT INTO b VALUES (1);")
        .await;
    let shared = Shared {
        tables: vec!["a".into()],
        topic_routing: Some("cdc.{database}.{table}".into()),
        ..Shared::default()
    };
    let sink = MockSink::new();
    let runtime = server.run(shared, &sink).await;
    my::wait_for(&sink, 1).await;
    server
        .sql("INSERT INTO b VALUES (2); INSERT INTO a VALUES (2); INSERT INTO b VALUES (3); INSERT INTO a VALUES (3);")
        .await;
    let events = my::wait_for(&sink, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events_now = sink.written_events();
    assert_eq!(
        events_now.len(),
        events.len(),
        "only table a: {events_now:#?}"
    );
    assert_eq!(ops(&events_now), want(&[("r", 1), ("c", 2), ("c", 3)]));
    let stream = format!("cdc.{}.a", server.database());
    assert!(
        events_now.iter().all(|e| e.stream == stream),
        "{stream}: {events_now:#?}"
    );
    runtime.shutdown(Duration::from_secs(10)).await;
}
both!(
    listed_tables_only_and_topic_routing:
    listed_tables_and_topic_routing_postgres,
    listed_tables_and_topic_routing_mariadb
);

async fn envelope_shape(db: Db) {
    let mut server = Server::start(db).await;
    server.create("items", "id int PRIMARY KEY, v text").await;
    server.sql("INSERT INTO items VALUES (1, 'snap')").await;
    let sink = MockSink::new();
    let runtime = server.run(Shared::default(), &sink).await;
    my::wait_for(&sink, 1).await;
    server
        .sql(
            "INSERT INTO items VALUES (2, 'x');
             UPDATE items SET v = 'y' WHERE id = 2;
             DELETE FROM items WHERE id = 2;",
        )
        .await;
    let events = my::wait_for(&sink, 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.written_count(), 4, "no tombstone unless asked for");
    assert_eq!(
        ops(&events),
        want(&[("r", 1), ("c", 2), ("u", 2), ("d", 2)])
    );
    let (connector, coordinates): (&str, &[&str]) = match db {
        Db::Postgres => ("postgres-cdc", &["schema", "lsn", "commit_lsn", "txId"]),
        Db::MariaDb => ("mysql-cdc", &["file", "pos", "row", "gtid", "server_id"]),
    };
    let mut source_keys: BTreeSet<&str> = ["connector", "db", "table", "ts_ms", "snapshot"].into();
    source_keys.extend(coordinates);
    for (i, e) in events.iter().enumerate() {
        let keys: BTreeSet<&str> = e
            .data
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["after", "before", "op", "source", "ts_ms"].into(),
            "{}",
            e.data
        );
        let source = &e.data["source"];
        let keys: BTreeSet<&str> = source
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, source_keys, "{source}");
        assert_eq!(source["connector"], connector);
        assert_eq!(source["db"], server.database());
        assert_eq!(source["table"], "items");
        assert_eq!(
            source["snapshot"],
            i == 0,
            "source.snapshot: only the snapshot row"
        );
        assert!(e.data["ts_ms"].is_i64(), "{}", e.data);
        assert_eq!(e.stream, format!("{}.items", server.namespace()));
        assert_eq!(e.namespace.as_deref(), Some(server.namespace()));
        let id = if i == 0 { 1 } else { 2 };
        assert_eq!(e.key, Some(json!({"id": id})));
        if i > 0 {
            assert!(
                e.metadata.transaction_id.is_some(),
                "a change's transaction: {e:?}"
            );
        }
        assert!(e.metadata.position.is_some(), "{e:?}");
    }
    if db == Db::Postgres {
        assert_eq!(events[1].data["source"]["schema"], "public");
    }
    assert_eq!(events[0].data["before"], Value::Null);
    assert_eq!(events[0].data["after"], json!({"id": 1, "v": "snap"}));
    assert_eq!(events[1].data["before"], Value::Null);
    assert_eq!(events[1].data["after"], json!({"id": 2, "v": "x"}));
    assert_eq!(events[2].data["before"], json!({"id": 2, "v": "x"}));
    assert_eq!(events[2].data["after"], json!({"id": 2, "v": "y"}));
    assert_eq!(events[3].data["before"], json!({"id": 2, "v": "y"}));
    assert_eq!(events[3].data["after"], Value::Null);
    runtime.shutdown(Duration::from_secs(10)).await;
}
both!(envelope_shape: envelope_shape_postgres, envelope_shape_mariadb);
