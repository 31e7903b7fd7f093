//! Bad input: exactly the bad records fail (to the dead-letter queue), each
//! naming what is wrong; the good ones are written; an unreachable database
//! fails `check` in one line.

use rivven_connect::runtime::{
    MemoryOffsetStore, OnError, Pipeline, PipelineSettings, PipelineState, Runtime,
};
use rivven_connect::{Sink, SourceEvent};
use rivven_connect_sql::SqlSink;
use rivven_connect_testing::prelude::*;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_column_and_a_wrong_type_fail_only_their_records() {
    for db in both().await {
        db.exec("CREATE TABLE strict_t (id BIGINT PRIMARY KEY, n INT, label VARCHAR(20))")
            .await;
        let config = db.config(json!({"table": "strict_t", "mode": "upsert"}));
        let sink = SqlSink::new();
        let mut events: Vec<SourceEvent> = (0..100)
            .map(|i| SourceEvent::record("s", json!({"id": i, "n": i, "label": "ok"})))
            .collect();
        events[10] = SourceEvent::record("s", json!({"id": 10, "n": 1, "colour": "red"}));
        events[20] = SourceEvent::record("s", json!({"id": 20, "n": "not a number"}));
        events[30] = SourceEvent::record("s", json!({"id": 30, "n": u64::MAX}));
        events[40] = SourceEvent::record("s", json!({"id": 40, "label": "x".repeat(100)}));
        events[50] = SourceEvent::record("s", json!([1, 2, 3]));
        let r = run_sink(&sink, &config, events).await.unwrap();
        let failed: Vec<(usize, String)> = r
            .record_failures()
            .map(|(i, f)| (i, f.error.clone()))
            .collect();
        let indices: Vec<usize> = failed.iter().map(|f| f.0).collect();
        assert_eq!(
            indices,
            vec![10, 20, 30, 40, 50],
            "{}: {failed:?}",
            db.name()
        );
        assert!(
            failed[0]
                .1
                .contains("column `colour` does not exist in table `strict_t`"),
            "{failed:?}"
        );
        assert_eq!(r.records_written, 95, "{}", db.name());
        let rows = db.rows("SELECT COUNT(*) FROM strict_t").await;
        assert_eq!(rows[0][0], "95", "{}", db.name());
        assert!(db
            .rows("SELECT id FROM strict_t WHERE id IN (10, 20, 30, 40, 50)")
            .await
            .is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_records_reach_the_dead_letter_queue_whole() {
    for db in both().await {
        db.exec("CREATE TABLE dl (id BIGINT PRIMARY KEY, n INT)")
            .await;
        let events: Vec<SourceEvent> = (0..500)
            .map(|i| {
                if i % 97 == 0 {
                    SourceEvent::record("dl", json!({"id": i, "n": format!("bad {i}")}))
                } else if i % 89 == 0 {
                    SourceEvent::record("dl", json!({"id": i, "n": 1, "missing": true}))
                } else {
                    SourceEvent::record("dl", json!({"id": i, "n": i}))
                }
            })
            .collect();
        let dlq = MockSink::new();
        let runtime = Runtime::builder()
            .offset_store(MemoryOffsetStore::new())
            .pipeline(
                Pipeline::builder("sql-dlq")
                    .source(MockSource::new().with_events(events), MockConfig::default())
                    .sink(
                        SqlSink::new(),
                        db.config(json!({"table": "dl", "mode": "upsert", "batch_size": 100})),
                    )
                    .dead_letter(dlq.clone(), MockConfig::default())
                    .settings(PipelineSettings::default().with_on_error(OnError::DeadLetter)),
            )
            .start()
            .await
            .unwrap();
        let status = runtime.wait().await;
        let p = status.pipeline("sql-dlq").unwrap().clone();
        assert_eq!(p.state, PipelineState::Completed, "{}: {p:?}", db.name());
        let mut dead: Vec<u64> = dlq
            .written_events()
            .iter()
            .map(|l| l.data["event"]["data"]["id"].as_u64().unwrap())
            .collect();
        dead.sort_unstable();
        let expected: Vec<u64> = (0..500).filter(|i| i % 97 == 0 || i % 89 == 0).collect();
        assert_eq!(dead, expected, "{}", db.name());
        for letter in dlq.written_events() {
            let id = letter.data["event"]["data"]["id"].as_u64().unwrap();
            let error = letter.data["error"].as_str().unwrap();
            if id % 97 != 0 {
                assert!(error.contains("column `missing`"), "{error}");
            }
            assert_eq!(letter.data["stage"], "sink");
        }
        let rows = db.rows("SELECT COUNT(*) FROM dl").await;
        assert_eq!(
            rows[0][0],
            (500 - expected.len()).to_string(),
            "{}",
            db.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_are_written_or_refused_alone() {
    for db in both().await {
        db.exec(match db {
            Server::Pg(_) => "CREATE TABLE hostile (id BIGINT PRIMARY KEY, body TEXT, doc JSONB)",
            Server::My(_) => {
                "CREATE TABLE hostile (id BIGINT PRIMARY KEY, body LONGTEXT, doc JSON)"
            }
        })
        .await;
        let config = db.config(json!({"table": "hostile", "mode": "upsert"}));
        let sink = SqlSink::new();
        let mut deep = json!(1);
        for _ in 0..300 {
            deep = json!([deep]);
        }
        let events = vec![
            // A 4 MiB value.
            SourceEvent::record("h", json!({"id": 1, "body": "x".repeat(4 << 20)})),
            // Nesting deeper than serde_json's default recursion limit.
            SourceEvent::record("h", json!({"id": 2, "doc": deep})),
            // Quotes, NUL-free control characters and non-ASCII text.
            SourceEvent::record(
                "h",
                json!({"id": 3, "body": "'); DROP TABLE hostile; -- \u{1F600} \t\"", "doc": {"a": "b"}}),
            ),
            // Beyond i64 into BIGINT.
            SourceEvent::record("h", json!({"id": u64::MAX, "body": "too big"})),
        ];
        let r = run_sink(&sink, &config, events).await.unwrap();
        let failed: Vec<usize> = r.record_failures().map(|(i, _)| i).collect();
        // MariaDB's JSON nesting limit is 32: the deep document is refused there.
        match db {
            Server::Pg(_) => assert_eq!(failed, vec![3], "{r:?}"),
            Server::My(_) => assert!(failed == vec![3] || failed == vec![1, 3], "{r:?}"),
        }
        let rows = db
            .rows("SELECT id, LENGTH(body) FROM hostile ORDER BY id")
            .await;
        assert_eq!(
            rows[0],
            vec!["1".to_string(), (4u64 << 20).to_string()],
            "{}",
            db.name()
        );
        let text = db.rows("SELECT body FROM hostile WHERE id = 3").await;
        assert_eq!(
            text[0][0],
            "'); DROP TABLE hostile; -- \u{1F600} \t\"",
            "{}",
            db.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_check_in_one_line() {
    for kind in ["postgres", "mysql"] {
        let config = <rivven_connect_sql::SqlSinkConfig as rivven_connect::SinkConfig>::from_value(
            json!({"url": closed_url(kind), "table": "t", "connect_timeout_ms": 2000}),
        )
        .unwrap();
        let result = SqlSink::new().check(&config).await.unwrap();
        assert!(!result.is_success(), "{kind}");
        let summary = result.summary();
        assert!(!summary.contains('\n'), "{summary}");
        assert!(summary.contains("127.0.0.1"), "{summary}");
    }
}
