//! Round trips: what the sink wrote, the `object-storage` source reads back —
//! every text format × compression — and a restarted read resumes after the
//! last committed row.

use rivven_connect::runtime::PipelineState;
use rivven_connect_storage::compression::Compression;
use rivven_connect_storage::format::Format;
use rivven_connect_storage::object_storage::{
    ObjectStorageSinkConfig, ObjectStorageSource, ObjectStorageSourceConfig,
};
use rivven_connect_testing::prelude::*;
use serde_json::Value;

use crate::support::{order, run_orders};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_and_compression_round_trips_through_sink_and_source() {
    let n = 500;
    let expected: Vec<Value> = (0..n).map(|i| order(i).data).collect();
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
                batch_size: 200,
                prefix: Some("rt".into()),
                ..ObjectStorageSinkConfig::local(dir.path(), "lake")
            };
            let (p, _) = run_orders(config, n).await;
            assert_eq!(p.state, PipelineState::Completed, "{p:?}");
            let source = ObjectStorageSourceConfig {
                prefix: Some("rt/".into()),
                ..ObjectStorageSourceConfig::local(dir.path(), "lake")
            };
            let harness = TestHarness::with_configs(
                ObjectStorageSource,
                source,
                MockSink::new(),
                MockConfig::default(),
            );
            let r = harness.run_pipeline().await.unwrap();
            assert!(r.success, "{format:?} {compression:?}: {r:?}");
            let back: Vec<Value> = harness
                .sink()
                .written_events()
                .into_iter()
                .map(|e| e.data)
                .collect();
            assert_eq!(back.len(), expected.len(), "{format:?} {compression:?}");
            assert_eq!(back, expected, "{format:?} {compression:?}");
            // The state names the last object and its last row.
            let state = r.committed_state.unwrap();
            let s = state.get_stream("objects").unwrap();
            assert_eq!(s.data["row"], serde_json::json!(100));
            assert!(s.data["object"].as_str().unwrap().starts_with("rt/part-"));
        }
    }
}

/// The reading pipeline fails once in the middle: the restart resumes after
/// the last committed row, so every event arrives, those before the resume
/// point exactly once; a later run with the final state reads nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_read_resumes_after_the_last_committed_row() {
    let dir = tempfile::tempdir().unwrap();
    let config = ObjectStorageSinkConfig {
        format: Format::Jsonl,
        compression: Compression::Zstd,
        batch_size: 300,
        ..ObjectStorageSinkConfig::local(dir.path(), "lake")
    };
    let n = 1_000;
    let (p, _) = run_orders(config, n).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let harness = TestHarness::with_configs(
        ObjectStorageSource,
        ObjectStorageSourceConfig::local(dir.path(), "lake"),
        MockSink::new().fail_after(450),
        MockConfig::default(),
    );
    let r = harness.run_pipeline().await.unwrap();
    assert!(r.success, "{r:?}");
    assert_eq!(r.restarts, 1);
    let ids: Vec<u64> = harness
        .sink()
        .written_events()
        .iter()
        .filter_map(|e| e.data["id"].as_u64())
        .collect();
    let distinct: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(distinct, (0..n).collect());
    assert!(
        ids.len() as u64 <= n + 450,
        "replayed too much: {}",
        ids.len()
    );
    // Everything is committed: one more run reads nothing.
    let again = harness.run_pipeline().await.unwrap();
    assert!(again.success, "{again:?}");
    assert_eq!(again.events_read, 0);
}

/// Parquet and Avro objects read back through the source (the values a
/// columnar/typed file can hold: explicit nulls for absent values).
#[cfg(all(feature = "parquet", feature = "avro"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_and_avro_round_trip_through_sink_and_source() {
    let n = 500;
    let expected: Vec<Value> = (0..n).map(|i| order(i).data).collect();
    for format in [Format::Parquet, Format::Avro] {
        let dir = tempfile::tempdir().unwrap();
        let config = ObjectStorageSinkConfig {
            format,
            batch_size: 200,
            ..ObjectStorageSinkConfig::local(dir.path(), "lake")
        };
        let (p, _) = run_orders(config, n).await;
        assert_eq!(p.state, PipelineState::Completed, "{p:?}");
        let harness = TestHarness::with_configs(
            ObjectStorageSource,
            ObjectStorageSourceConfig::local(dir.path(), "lake"),
            MockSink::new(),
            MockConfig::default(),
        );
        let r = harness.run_pipeline().await.unwrap();
        assert!(r.success, "{format:?}: {r:?}");
        let back: Vec<Value> = harness
            .sink()
            .written_events()
            .into_iter()
            .map(|e| e.data)
            .collect();
        assert_eq!(back.len(), expected.len(), "{format:?}");
        for (b, e) in back.iter().zip(&expected) {
            for key in ["id", "customer", "paid", "address", "items", "total"] {
                assert_eq!(b[key], e[key], "{format:?} {key}");
            }
            // A null coupon is an explicit null or (arrow-json) absent.
            assert_eq!(
                b.get("coupon").unwrap_or(&Value::Null),
                &e["coupon"],
                "{format:?}"
            );
        }
    }
}
