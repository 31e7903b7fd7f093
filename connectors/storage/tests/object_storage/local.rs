//! The local provider: exact object sizes, every text format × compression
//! through independent readers, Hive-style partitions, size limits, schema
//! changes.

use rivven_connect::runtime::PipelineState;
use rivven_connect_storage::compression::Compression;
use rivven_connect_storage::format::Format;
use rivven_connect_storage::object_storage::{ObjectStorageSinkConfig, Partitioning};
use rivven_connect_testing::prelude::*;
use serde_json::json;

use crate::support::{assert_exactly, read_back, run_orders, run_source, settings, sizes};

fn local(dir: &std::path::Path) -> ObjectStorageSinkConfig {
    ObjectStorageSinkConfig::local(dir, "lake")
}

/// A fast source and `batch_size: 10000`: objects of exactly 10 000 events
/// (but the last), not one per runtime batch (256 events here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_size_10000_gives_objects_of_exactly_10000_events() {
    let dir = tempfile::tempdir().unwrap();
    let config = ObjectStorageSinkConfig {
        format: Format::Jsonl,
        batch_size: 10_000,
        ..local(dir.path())
    };
    let n = 25_000;
    let (p, store) = run_orders(config, n).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let seen = read_back(
        &["local", &dir.path().join("lake").display().to_string()],
        &[],
    );
    assert_eq!(sizes(&seen), [10_000, 10_000, 5_000]);
    assert_exactly(&seen, n);
    assert_eq!(
        MockSource::position(&store.get("orders-to-storage").unwrap()),
        n
    );
}

/// json, jsonl and csv, each uncompressed and with gzip, zstd, snappy and
/// lz4: the readers see every event once, in objects of `batch_size`, with
/// the extensions of the format and compression.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_text_format_and_compression_reads_back_independently() {
    let n = 1_000;
    for format in [Format::Json, Format::Jsonl, Format::Csv] {
        for compression in [
            Compression::None,
            Compression::Gzip,
            Compression::Zstd,
            Compression::Snappy,
            Compression::Lz4,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let config = ObjectStorageSinkConfig {
                format,
                compression,
                batch_size: 300,
                prefix: Some("/events/".into()),
                ..local(dir.path())
            };
            let extension = config.extension();
            let (p, _) = run_orders(config, n).await;
            assert_eq!(
                p.state,
                PipelineState::Completed,
                "{format:?} {compression:?}: {p:?}"
            );
            let seen = read_back(
                &["local", &dir.path().join("lake").display().to_string()],
                &[],
            );
            assert_eq!(
                sizes(&seen),
                [300, 300, 300, 100],
                "{format:?} {compression:?}"
            );
            assert_exactly(&seen, n);
            for o in seen["objects"].as_array().unwrap() {
                let name = o["name"].as_str().unwrap();
                assert!(
                    name.starts_with("events/part-") && name.ends_with(&format!(".{extension}")),
                    "{name}"
                );
            }
            let first = &seen["objects"][0]["first"];
            if format == Format::Csv {
                // Nested values are JSON strings; text with delimiters,
                // quotes and newlines survives; nulls are NULL → None.
                assert_eq!(
                    seen["objects"][0]["columns"],
                    json!(["address", "coupon", "customer", "id", "items", "paid", "total"])
                );
                assert_eq!(first["address"], json!(r#"{"city":"Zürich","zip":0}"#));
                assert_eq!(first["items"], json!("[0,0]"));
                assert_eq!(first["coupon"], json!(null));
            } else {
                assert_eq!(first["address"], json!({"city": "Zürich", "zip": 0}));
            }
            assert_eq!(first["customer"], json!("c0, \"quoted\"\nnext line ü"));
        }
    }
}

/// `partitioning: hour` by event time: Hive-style `year=/month=/day=/hour=`
/// directories, the day changing at midnight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hour_partitions_are_hive_style_from_event_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = ObjectStorageSinkConfig {
        format: Format::Jsonl,
        partitioning: Partitioning::Hour,
        batch_size: 1000,
        ..local(dir.path())
    };
    let (p, _) = run_orders(config, 200).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let seen = read_back(
        &["local", &dir.path().join("lake").display().to_string()],
        &[],
    );
    let parts: Vec<(String, u64)> = seen["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let name = o["name"].as_str().unwrap();
            (
                name[..name.rfind('/').unwrap()].to_string(),
                o["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            ("year=2026/month=01/day=01/hour=22".to_string(), 60),
            ("year=2026/month=01/day=01/hour=23".to_string(), 60),
            ("year=2026/month=01/day=02/hour=00".to_string(), 60),
            ("year=2026/month=01/day=02/hour=01".to_string(), 20),
        ]
    );
    assert_exactly(&seen, 200);
}

/// `max_file_bytes` finishes objects before `batch_size`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_file_bytes_finishes_objects_early() {
    let dir = tempfile::tempdir().unwrap();
    let config = ObjectStorageSinkConfig {
        format: Format::Jsonl,
        batch_size: 100_000,
        max_file_bytes: 20_000,
        ..local(dir.path())
    };
    let (p, _) = run_orders(config, 1_000).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let seen = read_back(
        &["local", &dir.path().join("lake").display().to_string()],
        &[],
    );
    let s = sizes(&seen);
    assert!(s.len() > 5, "{s:?}");
    assert_exactly(&seen, 1_000);
    for entry in walk(&dir.path().join("lake")) {
        let len = std::fs::metadata(&entry).unwrap().len();
        // Finished at the event that reached the limit: at most one event over.
        assert!(len < 20_000 + 400, "{} is {len} bytes", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A new column mid-stream closes the CSV file and starts one with the
/// wider header: no column is dropped and the pipeline does not fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_csv_column_starts_a_file_with_the_wider_header() {
    let dir = tempfile::tempdir().unwrap();
    let config = ObjectStorageSinkConfig {
        format: Format::Csv,
        batch_size: 1000,
        csv: rivven_connect_storage::csv::CsvOptions {
            delimiter: ";".into(),
            ..Default::default()
        },
        ..local(dir.path())
    };
    let source = MockSource::new().with_generator(100, |i| {
        let data = if i < 40 {
            json!({"id": i, "a": i})
        } else {
            json!({"id": i, "a": i, "b": format!("b;{i}")})
        };
        rivven_connect::SourceEvent::record("s", data)
    });
    let (p, _) = run_source(source, config, settings()).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let seen = read_back(
        &["local", &dir.path().join("lake").display().to_string(), ";"],
        &[],
    );
    assert_eq!(sizes(&seen), [40, 60]);
    assert_eq!(seen["objects"][0]["columns"], json!(["a", "id"]));
    assert_eq!(seen["objects"][1]["columns"], json!(["a", "b", "id"]));
    assert_eq!(seen["objects"][1]["first"]["b"], json!("b;40"));
    assert_exactly(&seen, 100);
}
