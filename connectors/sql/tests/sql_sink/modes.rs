//! `insert`, `upsert` and `cdc` write what they should, read back independently.

use rivven_connect::SourceEvent;
use rivven_connect_sql::SqlSink;
use rivven_connect_testing::prelude::*;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_land_in_an_existing_table() {
    for db in both().await {
        db.exec("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, price DOUBLE PRECISION, ok BOOLEAN)")
            .await;
        let config = db.config(json!({"table": "items"}));
        let sink = SqlSink::new();
        let events: Vec<SourceEvent> = (0..2_500)
            .map(|i| {
                SourceEvent::record(
                    "items",
                    json!({"id": i, "name": format!("item {i}"), "price": i as f64 / 4.0, "ok": i % 2 == 0}),
                )
            })
            .collect();
        let result = run_sink(&sink, &config, events).await.unwrap();
        assert_eq!(result.records_written, 2_500, "{}", db.name());
        assert_eq!(result.records_failed(), 0);
        let rows = db
            .rows("SELECT COUNT(*), SUM(id), MIN(name), SUM(price) FROM items")
            .await;
        assert_eq!(rows[0][0], "2500", "{}", db.name());
        assert_eq!(rows[0][1], (0..2_500u64).sum::<u64>().to_string());
        assert_eq!(rows[0][2], "item 0");
        let ok = db
            .rows("SELECT name FROM items WHERE id = 7 AND NOT ok")
            .await;
        assert_eq!(ok, vec![vec!["item 7".to_string()]], "{}", db.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_update_on_the_primary_key_within_and_across_batches() {
    for db in both().await {
        db.exec("CREATE TABLE kv (k VARCHAR(64) PRIMARY KEY, v BIGINT, note TEXT)")
            .await;
        let config = db.config(json!({"table": "kv", "mode": "upsert"}));
        let sink = SqlSink::new();
        // The same key several times in one batch: the last one wins.
        let first: Vec<SourceEvent> = (0..300)
            .map(|i| {
                SourceEvent::record(
                    "kv",
                    json!({"k": format!("k{}", i % 100), "v": i, "note": "first"}),
                )
            })
            .collect();
        let r = run_sink(&sink, &config, first).await.unwrap();
        assert_eq!(r.records_written, 300, "{}", db.name());
        // A second batch updates half of them, with fewer columns: `note` stays.
        let second: Vec<SourceEvent> = (0..50)
            .map(|i| SourceEvent::record("kv", json!({"k": format!("k{i}"), "v": -i})))
            .collect();
        run_sink(&sink, &config, second).await.unwrap();
        let rows = db.rows("SELECT COUNT(*), SUM(v) FROM kv").await;
        let expected: i64 = (0..50).map(|i: i64| -i).sum::<i64>() + (250..300).sum::<i64>();
        assert_eq!(
            rows[0],
            vec!["100".to_string(), expected.to_string()],
            "{}",
            db.name()
        );
        let note = db.rows("SELECT note FROM kv WHERE k = 'k3'").await;
        assert_eq!(note[0][0], "first", "{}", db.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdc_mode_applies_inserts_updates_and_deletes() {
    for db in both().await {
        db.exec("CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT, version BIGINT)")
            .await;
        let config = db.config(json!({"table_routing": "{stream}", "mode": "cdc"}));
        let sink = SqlSink::new();
        let row =
            |id: i64, v: i64| json!({"id": id, "name": format!("user {id} v{v}"), "version": v});
        let mut events = Vec::new();
        for id in 0..200 {
            events.push(SourceEvent::cdc_insert("users", row(id, 0)));
        }
        for id in (0..200).step_by(2) {
            events.push(SourceEvent::cdc_update("users", row(id, 0), row(id, 1)));
        }
        for id in (0..200).step_by(5) {
            events.push(SourceEvent::cdc_delete("users", row(id, 1)));
        }
        // A deleted row inserted again, in the same batch.
        events.push(SourceEvent::cdc_insert("users", row(5, 9)));
        let r = run_sink(&sink, &config, events).await.unwrap();
        assert_eq!(r.records_failed(), 0, "{}: {r:?}", db.name());
        let live: Vec<i64> = (0..200).filter(|id| id % 5 != 0).chain([5]).collect();
        let rows = db
            .rows("SELECT COUNT(*), SUM(id), SUM(version) FROM users")
            .await;
        let versions: i64 = live
            .iter()
            .map(|id| {
                if *id == 5 {
                    9
                } else if id % 2 == 0 {
                    1
                } else {
                    0
                }
            })
            .sum();
        assert_eq!(
            rows[0],
            vec![
                live.len().to_string(),
                live.iter().sum::<i64>().to_string(),
                versions.to_string()
            ],
            "{}",
            db.name()
        );
        // Deleted in a later batch.
        let r = run_sink(
            &sink,
            &config,
            vec![SourceEvent::cdc_delete("users", row(5, 9))],
        )
        .await
        .unwrap();
        assert_eq!(r.records_written, 1);
        assert!(db
            .rows("SELECT id FROM users WHERE id = 5")
            .await
            .is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_are_created_and_columns_added_when_asked() {
    for db in both().await {
        let config = db.config(json!({
            "table_routing": "auto_{stream}", "mode": "upsert", "key_columns": ["id"],
            "auto_create_table": true, "schema_evolution": "add_columns"
        }));
        let sink = SqlSink::new();
        let first = vec![SourceEvent::record(
            "t",
            json!({"id": 1, "name": "a", "score": 1.5, "tags": ["x"]}),
        )];
        let r = run_sink(&sink, &config, first).await.unwrap();
        assert_eq!(r.records_written, 1, "{}: {r:?}", db.name());
        let second = vec![
            SourceEvent::record("t", json!({"id": 2, "name": "b", "extra": null})),
            SourceEvent::record("t", json!({"id": 3, "extra": 42, "flag": true})),
        ];
        let r = run_sink(&sink, &config, second).await.unwrap();
        assert_eq!(r.records_written, 2, "{}: {r:?}", db.name());
        let rows = db
            .rows("SELECT id, name, extra, flag FROM auto_t ORDER BY id")
            .await;
        assert_eq!(rows.len(), 3, "{}", db.name());
        assert_eq!(rows[2][0], "3");
        assert_eq!(rows[2][2], "42", "{}: {rows:?}", db.name());
        assert_eq!(rows[1][2], "NULL");
        assert_eq!(rows[0][1], "a");
    }
}
