//! `format: parquet` (feature `parquet`): pyarrow reads every codec, sees the
//! schema of the promotion rules and the row groups; a new column starts a
//! file with the wider schema; CDC envelopes flatten.

use rivven_connect::runtime::PipelineState;
use rivven_connect::SourceEvent;
use rivven_connect_storage::format::Format;
use rivven_connect_storage::object_storage::ObjectStorageSinkConfig;
use rivven_connect_storage::parquet::{CdcLayout, ParquetCompression, ParquetOptions};
use rivven_connect_testing::prelude::*;
use serde_json::json;

use crate::support::{assert_exactly, read_back, run_orders, run_source, settings, sizes};

fn parquet(dir: &std::path::Path, options: ParquetOptions) -> ObjectStorageSinkConfig {
    ObjectStorageSinkConfig {
        format: Format::Parquet,
        batch_size: 300,
        parquet: options,
        ..ObjectStorageSinkConfig::local(dir, "lake")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_reads_every_codec_with_the_inferred_schema_and_row_groups() {
    for (codec, name) in [
        (ParquetCompression::Snappy, "SNAPPY"),
        (ParquetCompression::Zstd, "ZSTD"),
        (ParquetCompression::Lz4, "LZ4"),
        (ParquetCompression::Gzip, "GZIP"),
        (ParquetCompression::None, "UNCOMPRESSED"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = parquet(
            dir.path(),
            ParquetOptions {
                compression: codec,
                row_group_size: 100,
                ..Default::default()
            },
        );
        let (p, _) = run_orders(config, 1_000).await;
        assert_eq!(p.state, PipelineState::Completed, "{codec:?}: {p:?}");
        let seen = read_back(
            &["local", &dir.path().join("lake").display().to_string()],
            &[],
        );
        assert_eq!(sizes(&seen), [300, 300, 300, 100], "{codec:?}");
        assert_exactly(&seen, 1_000);
        let first = &seen["objects"][0];
        assert_eq!(first["row_groups"], json!(3), "{codec:?}");
        assert_eq!(first["codec"], json!(name));
        assert_eq!(
            first["types"],
            json!({
                "address": "struct<city: string, zip: int64>",
                "coupon": "string",
                "customer": "string",
                "id": "int64",
                "items": "list<item: int64>",
                "paid": "bool",
                "total": "double",
            }),
            "{codec:?}"
        );
        assert_eq!(
            first["first"]["customer"],
            json!("c0, \"quoted\"\nnext line ü")
        );
        assert_eq!(
            first["first"]["address"],
            json!({"city": "Zürich", "zip": 0})
        );
    }
}

/// Ints then a float in one column: `double`; a new column later: a new file
/// with the wider schema, nothing dropped, the pipeline fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_and_a_new_column_mid_stream() {
    let dir = tempfile::tempdir().unwrap();
    let config = ObjectStorageSinkConfig {
        batch_size: 1_000,
        ..parquet(
            dir.path(),
            ParquetOptions {
                row_group_size: 50,
                ..Default::default()
            },
        )
    };
    let source = MockSource::new().with_generator(200, |i| {
        let data = match i {
            0..=48 => json!({"id": i, "amount": i}),
            49..=119 => json!({"id": i, "amount": i as f64 + 0.5, "note": null}),
            _ => json!({"id": i, "amount": 1.5, "note": null, "region": format!("r{i}")}),
        };
        SourceEvent::record("s", data)
    });
    let (p, _) = run_source(source, config, settings()).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let seen = read_back(
        &["local", &dir.path().join("lake").display().to_string()],
        &[],
    );
    assert_exactly(&seen, 200);
    let objects = seen["objects"].as_array().unwrap();
    // The first row group (0..50) has ints and one float: double.
    assert_eq!(objects[0]["types"]["amount"], json!("double"));
    let last = objects.last().unwrap();
    assert_eq!(last["types"]["region"], json!("string"), "{seen:#}");
    assert!(objects.len() >= 2, "{seen:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdc_envelopes_flatten_to_row_columns() {
    let dir = tempfile::tempdir().unwrap();
    let config = parquet(
        dir.path(),
        ParquetOptions {
            cdc: CdcLayout::Flatten,
            ..Default::default()
        },
    );
    let source = MockSource::new().with_generator(100, |i| {
        let data = if i % 10 == 9 {
            json!({"op": "d", "before": {"id": i, "name": "x"}, "after": null, "ts_ms": 1000 + i, "source": {"table": "t"}})
        } else {
            json!({"op": "c", "before": null, "after": {"id": i, "name": format!("n{i}")}, "ts_ms": 1000 + i, "source": {"table": "t"}})
        };
        SourceEvent::record("t", data)
    });
    let (p, _) = run_source(source, config, settings()).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let seen = read_back(
        &["local", &dir.path().join("lake").display().to_string()],
        &[],
    );
    assert_exactly(&seen, 100);
    assert_eq!(
        seen["objects"][0]["types"],
        json!({"_op": "string", "_ts_ms": "int64", "id": "int64", "name": "string"})
    );
}

/// A given schema: pyarrow sees exactly its types in every file; an event
/// that does not fit is a per-record failure (`on_error: skip` here), the
/// rest are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_schema_is_every_files_and_a_misfit_is_a_record_failure() {
    let dir = tempfile::tempdir().unwrap();
    let schema = serde_json::from_value(json!([
        {"name": "id", "type": "int64"},
        {"name": "qty", "type": "int32"},
        {"name": "price", "type": "float64"},
        {"name": "at", "type": "timestamp_ms"},
        {"name": "day", "type": "date"},
        {"name": "extra", "type": "json"},
        {"name": "tags", "type": "list<string>"},
    ]))
    .unwrap();
    let config = parquet(
        dir.path(),
        ParquetOptions {
            schema: Some(schema),
            ..Default::default()
        },
    );
    let source = MockSource::new().with_generator(1_000, |i| {
        // Every 100th event has a quantity beyond int32: rejected.
        let qty = if i % 100 == 99 { 1u64 << 40 } else { i % 7 };
        SourceEvent::record(
            "s",
            json!({"id": i, "qty": qty, "price": i as f64 / 8.0,
                "at": "2026-12-07T10:00:00.250Z", "day": "2026-12-07",
                "extra": {"n": i, "deep": [{"x": null}]}, "tags": ["a", i.to_string()]}),
        )
    });
    let settings = settings().with_on_error(rivven_connect::runtime::OnError::Skip);
    let (p, _) = run_source(source, config, settings).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    assert_eq!(p.events_failed, 10, "{p:?}");
    let seen = read_back(
        &["local", &dir.path().join("lake").display().to_string()],
        &[],
    );
    assert_eq!(seen["count"], json!(990));
    assert_eq!(seen["distinct"], json!(990));
    for object in seen["objects"].as_array().unwrap() {
        assert_eq!(
            object["types"],
            json!({"id": "int64", "qty": "int32", "price": "double",
                "at": "timestamp[ms, tz=+00:00]", "day": "date32[day]", "extra": "string",
                "tags": "list<item: string>"}),
            "{object}"
        );
    }
    let first = &seen["objects"][0]["first"];
    assert_eq!(first["extra"], json!(r#"{"deep":[{"x":null}],"n":0}"#));
    assert_eq!(first["tags"], json!(["a", "0"]));
}
