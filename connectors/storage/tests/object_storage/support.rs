//! Shared helpers: order events with hostile text, the pipeline runner, the
//! independent Python reader and the expected checksums.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::TimeZone;
use rivven_connect::runtime::{
    MemoryOffsetStore, Pipeline, PipelineSettings, PipelineStatus, Runtime,
};
use rivven_connect::SourceEvent;
use rivven_connect_storage::object_storage::{ObjectStorageSink, ObjectStorageSinkConfig};
use rivven_connect_testing::prelude::*;
use rivven_connect_testing::services::test_python;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Order `i`: text with delimiters, quotes, newlines and non-ASCII, a nested
/// object and an array (CSV writes both as JSON), a null now and then; the
/// event time moves one minute per order from 2026-01-01T22:00Z (so orders
/// 0..120 fall in two hours, and days change at 120).
pub fn order(i: u64) -> SourceEvent {
    let mut e = SourceEvent::record(
        "orders",
        json!({
            "id": i,
            "customer": format!("c{}, \"quoted\"\nnext line ü", i % 97),
            "total": (i as f64) * 1.25,
            "paid": i.is_multiple_of(3),
            "coupon": if i.is_multiple_of(5) { Value::Null } else { json!(format!("K{i}")) },
            "address": {"city": "Zürich", "zip": i % 1000},
            "items": [i % 7, i % 11],
        }),
    );
    e.timestamp = chrono::Utc
        .with_ymd_and_hms(2026, 1, 1, 22, 0, 0)
        .single()
        .unwrap_or_default()
        + chrono::Duration::minutes(i as i64);
    e
}

/// Pipeline settings of the tests: small source batches, commits at once.
pub fn settings() -> PipelineSettings {
    PipelineSettings::default()
        .with_batch_size(256)
        .with_linger(Duration::from_millis(5))
        .with_max_in_flight_batches(4)
        .with_checkpoint_interval(Duration::ZERO)
}

/// Runs orders `0..n` into the sink through a real runtime (registered as a
/// batch sink, as YAML does) until the source ends.
pub async fn run_orders(
    config: ObjectStorageSinkConfig,
    n: u64,
) -> (PipelineStatus, MemoryOffsetStore) {
    run_source(
        MockSource::counting(n).with_generator(n, order),
        config,
        settings(),
    )
    .await
}

/// Runs `source` into the sink until it ends.
pub async fn run_source(
    source: MockSource,
    config: ObjectStorageSinkConfig,
    settings: PipelineSettings,
) -> (PipelineStatus, MemoryOffsetStore) {
    let store = MemoryOffsetStore::new();
    let runtime = Runtime::builder()
        .offset_store(store.clone())
        .pipeline(
            Pipeline::builder("orders-to-storage")
                .source(source, MockConfig::default())
                .batch_sink(ObjectStorageSink::new(), config)
                .settings(settings),
        )
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = tokio::time::timeout(Duration::from_secs(120), runtime.wait())
        .await
        .unwrap_or_else(|_| panic!("the pipeline did not finish in 120 s"));
    let p = status
        .pipelines
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no pipeline"));
    (p, store)
}

/// What the independent reader saw.
pub fn read_back(args: &[&str], env: &[(String, String)]) -> Value {
    let python = test_python(&["pyarrow", "fastavro", "zstandard", "snappy", "lz4", "boto3"])
        .unwrap_or_else(|e| panic!("{e}"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/object_storage/read_objects.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .unwrap_or_else(|e| panic!("running the reader: {e}"));
    assert!(
        out.status.success(),
        "reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The sum and SHA-256 the reader computes for `ids`.
pub fn checksum(ids: impl IntoIterator<Item = u64>) -> (u64, String) {
    let mut ids: Vec<u64> = ids.into_iter().collect();
    ids.sort_unstable();
    let text = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let hash = Sha256::digest(text.as_bytes());
    (
        ids.iter().sum(),
        hash.iter().map(|b| format!("{b:02x}")).collect(),
    )
}

/// Asserts the reader saw exactly ids `0..n`, each once.
pub fn assert_exactly(seen: &Value, n: u64) {
    let (sum, sha) = checksum(0..n);
    assert_eq!(seen["count"], json!(n), "{seen:#}");
    assert_eq!(seen["distinct"], json!(n));
    assert_eq!(seen["sum"], json!(sum));
    assert_eq!(seen["sha256"], json!(sha));
}

/// Object sizes (rows) in name order.
pub fn sizes(seen: &Value) -> Vec<u64> {
    seen["objects"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["count"].as_u64()).collect())
        .unwrap_or_default()
}

/// `n` events of ~2 KiB each (`id` and a padding of 2 000–2 012 bytes): about
/// 12 MiB for 6 000, enough for a three-part upload of 5 MiB parts.
pub fn padded_events(n: u64) -> MockSource {
    MockSource::new().with_generator(n, |i| {
        rivven_connect::SourceEvent::record(
            "s",
            serde_json::json!({"id": i, "pad": "x".repeat(2_000 + (i % 13) as usize)}),
        )
    })
}
