//! Incremental reads with ties in the cursor, restarts, full refreshes,
//! types, and the SDK's compliance checks.

use futures::StreamExt;
use rivven_connect::runtime::{
    MemoryOffsetStore, Pipeline, PipelineSettings, PipelineState, Runtime,
};
use rivven_connect::{ConfiguredCatalog, Source, SourceConfig, SourceEvent, State};
use rivven_connect_sql::{SqlSource, SqlSourceConfig};
use rivven_connect_testing::prelude::*;
use rivven_connect_testing::{assert_source_compliance, Resume, SourceCompliance};
use serde_json::{json, Value};

use crate::support::*;

fn source_config(db: &Server, extra: Value) -> SqlSourceConfig {
    let mut v = json!({"url": db.url(), "table": "src", "poll_interval_ms": 20});
    for (k, x) in extra.as_object().cloned().unwrap_or_default() {
        v[k] = x;
    }
    SqlSourceConfig::from_value(v).unwrap()
}

/// `n` rows whose cursor `version` takes only `n / 25` distinct values: ties everywhere.
async fn fill(db: &Server, from: i64, to: i64, version: impl Fn(i64) -> i64) {
    let mut values = Vec::new();
    for id in from..to {
        values.push(format!("({id}, {}, 'row {id}')", version(id)));
    }
    for chunk in values.chunks(500) {
        db.exec(&format!(
            "INSERT INTO src (id, version, name) VALUES {}",
            chunk.join(", ")
        ))
        .await;
    }
}

async fn read_all(config: &SqlSourceConfig, state: Option<State>) -> Vec<SourceEvent> {
    let stream = SqlSource::new()
        .read(config, &ConfiguredCatalog::default(), state)
        .await
        .unwrap();
    stream.map(|e| e.unwrap()).collect().await
}

fn ids(events: &[SourceEvent]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e.data["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ties_in_the_cursor_are_read_once_across_chunks_and_restarts() {
    for db in both().await {
        db.exec("CREATE TABLE src (id BIGINT PRIMARY KEY, version BIGINT, name TEXT)")
            .await;
        // Ids in reverse order of versions, so the key alone would mislead.
        fill(&db, 0, 1_000, |id| (999 - id) / 25).await;
        db.exec("INSERT INTO src (id, version, name) VALUES (5000, NULL, 'no cursor')")
            .await;
        // Chunks of 7 end in the middle of groups of 25 equal versions.
        let config = source_config(
            &db,
            json!({"incremental_column": "version", "chunk_size": 7, "max_polls": 1}),
        );
        let events = read_all(&config, None).await;
        let got = ids(&events);
        assert_eq!(
            got.len(),
            1_000,
            "{}: every row with a cursor once",
            db.name()
        );
        let mut sorted = got.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 1_000, "{}: no row twice", db.name());
        // In (version, id) order.
        let order: Vec<(i64, i64)> = events
            .iter()
            .map(|e| {
                (
                    e.data["version"].as_i64().unwrap(),
                    e.data["id"].as_i64().unwrap(),
                )
            })
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", db.name());

        // Resume from the state after event 500 (in the middle of a tie
        // group): exactly the rest, then the rows added since — including one
        // that ties with the last version read.
        let mut state = State::default();
        for e in &events[..=500] {
            state.merge_stream_update("src", e.metadata.state.clone().unwrap());
        }
        let last_version = order[500].0;
        db.exec(&format!(
            "INSERT INTO src (id, version, name) VALUES (9000, {last_version}, 'late tie'), (9001, 1000, 'new')"
        ))
        .await;
        let rest = ids(&read_all(&config, Some(state)).await);
        let mut want: Vec<(i64, i64)> = order[501..].to_vec();
        want.push((last_version, 9000));
        want.push((1000, 9001));
        want.sort_unstable();
        let want: Vec<i64> = want.into_iter().map(|(_, id)| id).collect();
        assert_eq!(rest, want, "{}", db.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_resumes_after_a_restart_without_duplicates() {
    for db in both().await {
        db.exec("CREATE TABLE src (id BIGINT PRIMARY KEY, version BIGINT, name TEXT)")
            .await;
        fill(&db, 0, 3_000, |id| id / 10).await;
        let store = MemoryOffsetStore::new();
        let sink = MockSink::new();
        let config = || {
            source_config(
                &db,
                json!({"incremental_column": "version", "chunk_size": 100, "max_polls": 1}),
            )
        };
        let run = |sink: MockSink| {
            let store = store.clone();
            let config = config();
            async move {
                let runtime = Runtime::builder()
                    .offset_store(store)
                    .pipeline(
                        Pipeline::builder("read")
                            .source(SqlSource::new(), config)
                            .sink(sink, MockConfig::default())
                            .settings(PipelineSettings::default().with_batch_size(250)),
                    )
                    .start()
                    .await
                    .unwrap();
                let status = runtime.wait().await;
                status.pipeline("read").unwrap().clone()
            }
        };
        let p = run(sink.clone()).await;
        assert_eq!(p.state, PipelineState::Completed, "{}: {p:?}", db.name());
        assert_eq!(sink.written_count(), 3_000);
        // New rows, then a second run from the committed state: only those.
        fill(&db, 3_000, 3_500, |id| id / 10).await;
        let second = MockSink::new();
        let p = run(second.clone()).await;
        assert_eq!(p.state, PipelineState::Completed, "{}: {p:?}", db.name());
        let got = ids(&second.written_events());
        assert_eq!(got, (3_000..3_500).collect::<Vec<_>>(), "{}", db.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_refresh_reads_the_whole_table_each_poll_and_types_survive() {
    for db in both().await {
        db.exec(match db {
            Server::Pg(_) => "CREATE TABLE src (id BIGINT PRIMARY KEY, version BIGINT, name TEXT, \
                              price NUMERIC(10,2), ok BOOLEAN, at TIMESTAMP, doc JSONB, score DOUBLE PRECISION)",
            Server::My(_) => "CREATE TABLE src (id BIGINT PRIMARY KEY, version BIGINT, name TEXT, \
                              price DECIMAL(10,2), ok BOOLEAN, at DATETIME, doc JSON, score DOUBLE)",
        })
        .await;
        db.exec(
            "INSERT INTO src VALUES (1, 1, 'a', 12.50, TRUE, '2024-05-06 07:08:09', '{\"k\": [1, 2]}', 0.25), \
             (2, 1, NULL, NULL, FALSE, NULL, NULL, NULL)",
        )
        .await;
        let config = source_config(&db, json!({"mode": "full_refresh", "max_polls": 2}));
        let events = read_all(&config, None).await;
        assert_eq!(ids(&events), vec![1, 2, 1, 2], "{}", db.name());
        let row = &events[0].data;
        assert_eq!(row["name"], "a");
        assert_eq!(row["price"], "12.50", "{}: {row}", db.name());
        assert_eq!(row["score"], 0.25);
        assert_eq!(
            row["at"].as_str().map(|s| s.starts_with("2024-05-06")),
            Some(true),
            "{row}"
        );
        match db {
            Server::Pg(_) => {
                assert_eq!(row["ok"], true);
                assert_eq!(row["doc"], json!({"k": [1, 2]}));
            }
            // MariaDB: BOOLEAN is TINYINT(1) (read as a boolean), JSON is LONGTEXT.
            Server::My(_) => {
                assert_eq!(row["ok"], true, "{row}");
                assert_eq!(row["doc"], "{\"k\": [1, 2]}", "{row}");
            }
        }
        assert_eq!(events[1].data["name"], Value::Null);
        assert_eq!(events[0].key, Some(json!({"id": 1})));
        // A full refresh keeps no position.
        assert!(events.iter().all(|e| e.metadata.state.is_none()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tables_and_columns_are_named() {
    for db in both().await {
        db.exec("CREATE TABLE nokey (a BIGINT)").await;
        db.exec("CREATE TABLE src (id BIGINT PRIMARY KEY, version BIGINT, name TEXT)")
            .await;
        let check =
            |config: SqlSourceConfig| async move { SqlSource::new().check(&config).await.unwrap() };
        let missing = check(source_config(
            &db,
            json!({"table": "nope", "mode": "full_refresh"}),
        ))
        .await;
        assert!(
            missing.summary().contains("`nope` does not exist"),
            "{}",
            missing.summary()
        );
        let nokey = check(source_config(
            &db,
            json!({"table": "nokey", "mode": "full_refresh"}),
        ))
        .await;
        assert!(
            nokey.summary().contains("key_columns"),
            "{}",
            nokey.summary()
        );
        let column = check(source_config(&db, json!({"incremental_column": "updated"}))).await;
        assert!(
            column.summary().contains("column `updated`"),
            "{}",
            column.summary()
        );
        let ok = check(source_config(&db, json!({"incremental_column": "version"}))).await;
        assert!(ok.is_success(), "{}", ok.summary());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_passes_the_compliance_checks() {
    for db in both().await {
        db.exec("CREATE TABLE src (id BIGINT PRIMARY KEY, version BIGINT, name TEXT)")
            .await;
        fill(&db, 0, 100, |id| id / 3).await;
        let kind = db.name();
        let config = json!({"url": db.url(), "table": "src", "incremental_column": "version", "chunk_size": 8});
        let unreachable = json!({
            "url": closed_url(if kind == "postgres" { "postgres" } else { "mysql" }),
            "table": "src", "incremental_column": "version", "connect_timeout_ms": 2000,
            "password": "pw-s3cret"
        });
        let compliance = SourceCompliance::new(SqlSource::new(), config)
            .unreachable(unreachable)
            .secret("pw-s3cret")
            .resume(Resume::Deterministic);
        assert_source_compliance(compliance).await;
    }
}
