//! `delivery: exactly_once` with rejected records: a batch with a failed
//! record stores nothing (rows and position roll back), the runtime disposes
//! of the failures by `on_error` first and writes the rest with the position.

use rivven_connect::runtime::{
    MemoryOffsetStore, OnError, Pipeline, PipelineSettings, PipelineState, PipelineStatus, Runtime,
};
use rivven_connect::{Sink, SourceEvent, State};
use rivven_connect_sql::{SqlSink, SqlSinkConfig};
use rivven_connect_testing::prelude::*;
use serde_json::json;

use crate::support::*;

fn position(n: u64) -> State {
    let mut state = State::default();
    state.set_global("sequence", json!(n));
    state
}

/// Rows `{"id": i, "n": i}`; id 37 has a column the table lacks, id 140 a
/// value of the wrong type, id 141 a value out of range.
fn events(n: u64) -> Vec<SourceEvent> {
    (0..n)
        .map(|i| match i {
            37 => SourceEvent::record("t", json!({"id": i, "n": i, "colour": "red"})),
            140 => SourceEvent::record("t", json!({"id": i, "n": "not a number"})),
            141 => SourceEvent::record("t", json!({"id": i, "n": u64::MAX})),
            _ => SourceEvent::record("t", json!({"id": i, "n": i})),
        })
        .collect()
}

const BAD: [u64; 3] = [37, 140, 141];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_a_rejected_record_stores_nothing() {
    for db in both().await {
        db.exec("CREATE TABLE eo_rej (id BIGINT PRIMARY KEY, n INT)")
            .await;
        let config = db.config(json!({"table": "eo_rej", "delivery": "exactly_once"}));
        let sink = SqlSink::new();
        let all = events(200);
        // A column the table lacks (found before the transaction).
        let r = sink
            .write_with_position(&config, &all[0..100], &position(100))
            .await
            .unwrap();
        let failed: Vec<usize> = r.record_failures().map(|(i, _)| i).collect();
        assert_eq!(failed, [37], "{}: {r:?}", db.name());
        assert!(r.failures[0].error.contains("column `colour`"), "{r:?}");
        assert_eq!(r.records_written, 0, "{}", db.name());
        // Values the server refuses (found inside the transaction).
        let r = sink
            .write_with_position(&config, &all[100..200], &position(200))
            .await
            .unwrap();
        let failed: Vec<usize> = r.record_failures().map(|(i, _)| i).collect();
        assert_eq!(failed, [40, 41], "{}: {r:?}", db.name());
        assert_eq!(r.records_written, 0, "{}", db.name());
        assert_eq!(db.rows("SELECT COUNT(*) FROM eo_rej").await[0][0], "0");
        assert_eq!(
            sink.committed_position(&config).await.unwrap(),
            None,
            "{}: the position rolled back with the rows",
            db.name()
        );
        // The rest is stored with the position.
        let rest: Vec<SourceEvent> = all[100..200]
            .iter()
            .filter(|e| !BAD.contains(&e.data["id"].as_u64().unwrap_or_default()))
            .cloned()
            .collect();
        let r = sink
            .write_with_position(&config, &rest, &position(200))
            .await
            .unwrap();
        assert!(r.is_success(), "{}: {r:?}", db.name());
        assert_eq!(r.records_written, 98);
        assert_eq!(db.rows("SELECT COUNT(*) FROM eo_rej").await[0][0], "98");
        assert_eq!(
            sink.committed_position(&config).await.unwrap(),
            Some(position(200))
        );
    }
}

async fn run(
    db: &Server,
    table: &str,
    n: u64,
    on_error: OnError,
    dlq: &MockSink,
) -> (PipelineStatus, SqlSinkConfig) {
    db.exec(&format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, n INT)"
    ))
    .await;
    let config = db.config(json!({"table": table, "delivery": "exactly_once", "batch_size": 100}));
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("eo-dlq")
                .source(
                    MockSource::new().with_events(events(n)),
                    MockConfig::default(),
                )
                .sink(SqlSink::new(), config.clone())
                .dead_letter(dlq.clone(), MockConfig::default())
                .settings(
                    PipelineSettings::default()
                        .with_batch_size(50)
                        .with_on_error(on_error),
                ),
        )
        .start()
        .await
        .unwrap();
    let status = runtime.wait().await;
    let p = status.pipeline("eo-dlq").unwrap().clone();
    (p, config)
}

/// The stored position (the index of the next event).
async fn stored(config: &SqlSinkConfig) -> u64 {
    SqlSink::new()
        .committed_position(config)
        .await
        .unwrap()
        .as_ref()
        .map_or(0, MockSource::position)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_records_reach_the_dead_letter_queue_and_the_rest_is_stored_once() {
    for db in both().await {
        let n = 400;
        let dlq = MockSink::new();
        let (p, config) = run(&db, "eo_dlq", n, OnError::DeadLetter, &dlq).await;
        assert_eq!(p.state, PipelineState::Completed, "{}: {p:?}", db.name());
        let letters = dlq.written_events();
        let dead: Vec<u64> = letters
            .iter()
            .map(|l| l.data["event"]["data"]["id"].as_u64().unwrap())
            .collect();
        assert_eq!(dead, BAD, "{}", db.name());
        let originals = events(n);
        for letter in &letters {
            let id = letter.data["event"]["data"]["id"].as_u64().unwrap() as usize;
            assert_eq!(
                letter.data["event"]["data"],
                originals[id].data,
                "{}: the whole record",
                db.name()
            );
            assert_eq!(letter.data["stage"], "sink");
            assert_eq!(letter.data["connector"], "sql-sink");
        }
        assert!(letters[0].data["error"]
            .as_str()
            .unwrap()
            .contains("column `colour`"));
        let rows = db
            .rows("SELECT COUNT(*), COUNT(DISTINCT id), SUM(n) FROM eo_dlq")
            .await;
        let good: Vec<u64> = (0..n).filter(|i| !BAD.contains(i)).collect();
        let sum: u64 = good.iter().sum();
        assert_eq!(
            rows[0],
            [
                good.len().to_string(),
                good.len().to_string(),
                sum.to_string()
            ],
            "{}",
            db.name()
        );
        assert!(db
            .rows("SELECT id FROM eo_dlq WHERE id IN (37, 140, 141)")
            .await
            .is_empty());
        assert_eq!(stored(&config).await, n, "{}", db.name());
        assert_eq!(p.events_written, good.len() as u64);
        assert_eq!(p.events_dead_lettered, BAD.len() as u64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_leaves_the_position_before_the_rejected_record() {
    for db in both().await {
        let dlq = MockSink::new();
        let (p, config) = run(&db, "eo_stop", 400, OnError::Stop, &dlq).await;
        assert_eq!(p.state, PipelineState::Failed, "{}: {p:?}", db.name());
        let err = p.last_error.clone().unwrap_or_default();
        assert!(err.contains("column `colour`"), "{err}");
        let at = stored(&config).await;
        assert!(
            at <= 37,
            "{}: position {at} passes the rejected record",
            db.name()
        );
        let rows = db.rows("SELECT COUNT(*) FROM eo_stop").await;
        assert_eq!(
            rows[0][0],
            at.to_string(),
            "{}: rows up to the position",
            db.name()
        );
        assert!(db
            .rows("SELECT id FROM eo_stop WHERE id >= 37")
            .await
            .is_empty());
        assert!(dlq.written_events().is_empty());
    }
}
