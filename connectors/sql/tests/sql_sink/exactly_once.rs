//! `delivery: exactly_once`: the position is stored with the rows, read back
//! on start, and a batch whose position is already stored is not written again.

use rivven_connect::runtime::{
    MemoryOffsetStore, Pipeline, PipelineSettings, PipelineState, Runtime,
};
use rivven_connect::{Sink, SourceEvent, State};
use rivven_connect_sql::SqlSink;
use rivven_connect_testing::prelude::*;
use serde_json::json;

use crate::support::*;

fn position(n: u64) -> State {
    let mut state = State::default();
    state.set_global("sequence", json!(n));
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_stored_with_the_rows_and_replays_are_skipped() {
    for db in both().await {
        db.exec("CREATE TABLE eo (id BIGINT PRIMARY KEY, n BIGINT)")
            .await;
        let config = db.config(json!({"table": "eo", "delivery": "exactly_once"}));
        let sink = SqlSink::new();
        assert!(sink.stores_position(&config));
        assert_eq!(
            sink.committed_position(&config).await.unwrap(),
            None,
            "{}",
            db.name()
        );
        let batch = |from: u64| -> Vec<SourceEvent> {
            (from..from + 10)
                .map(|i| SourceEvent::record("s", json!({"id": i, "n": i})))
                .collect()
        };
        let r = sink
            .write_with_position(&config, &batch(0), &position(10))
            .await
            .unwrap();
        assert_eq!(r.records_written, 10);
        assert_eq!(
            sink.committed_position(&config).await.unwrap(),
            Some(position(10))
        );
        // The same batch again (a retry after a lost COMMIT answer): plain
        // inserts would collide on the key, but nothing is written.
        let again = sink
            .write_with_position(&config, &batch(0), &position(10))
            .await
            .unwrap();
        assert_eq!(again.records_failed(), 0, "{}: {again:?}", db.name());
        // Only the position moves.
        sink.write_with_position(&config, &[], &position(12))
            .await
            .unwrap();
        assert_eq!(
            sink.committed_position(&config).await.unwrap(),
            Some(position(12))
        );
        sink.write_with_position(&config, &batch(10), &position(20))
            .await
            .unwrap();
        let rows = db.rows("SELECT COUNT(*) FROM eo").await;
        assert_eq!(rows[0][0], "20", "{}", db.name());
        let offsets = db
            .rows("SELECT pipeline, position FROM rivven_offsets")
            .await;
        assert_eq!(offsets.len(), 1, "{offsets:?}");
        assert_eq!(offsets[0][0], "eo");
        let stored: State = serde_json::from_str(&offsets[0][1]).unwrap();
        assert_eq!(stored, position(20));
        // A fresh sink (a restarted process) reads the same position.
        assert_eq!(
            SqlSink::new().committed_position(&config).await.unwrap(),
            Some(position(20))
        );
    }
}

/// Through the runtime: a second run with a lost offset store resumes from
/// the position in the database, so the plain-insert table has no duplicate
/// (which would fail on its primary key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_resumes_from_the_databases_position() {
    for db in both().await {
        db.exec("CREATE TABLE eo_rt (id BIGINT PRIMARY KEY)").await;
        let config = || db.config(json!({"table": "eo_rt", "delivery": "exactly_once"}));
        for run in 0..2 {
            let source = MockSource::counting(2_000);
            let runtime = Runtime::builder()
                .offset_store(MemoryOffsetStore::new())
                .pipeline(
                    Pipeline::builder("eo")
                        .source(source.clone(), MockConfig::default())
                        .sink(SqlSink::new(), config())
                        .settings(PipelineSettings::default().with_batch_size(300)),
                )
                .start()
                .await
                .unwrap();
            let status = runtime.wait().await;
            let p = status.pipeline("eo").unwrap().clone();
            assert_eq!(
                p.state,
                PipelineState::Completed,
                "{} run {run}: {p:?}",
                db.name()
            );
            let start = source.reads()[0].as_ref().map_or(0, MockSource::position);
            assert_eq!(start, if run == 0 { 0 } else { 2_000 }, "{}", db.name());
        }
        let rows = db
            .rows("SELECT COUNT(*), COUNT(DISTINCT id) FROM eo_rt")
            .await;
        assert_eq!(
            rows[0],
            vec!["2000".to_string(), "2000".to_string()],
            "{}",
            db.name()
        );
    }
}
