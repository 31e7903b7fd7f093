//! `format: avro` (feature `avro`): fastavro reads every codec and sees the
//! inferred schema; a given schema is used as it is; the wire format is read
//! record by record by fastavro and back through the source.

use rivven_connect::runtime::PipelineState;
use rivven_connect_storage::avro::{AvroCompression, AvroOptions};
use rivven_connect_storage::format::Format;
use rivven_connect_storage::object_storage::ObjectStorageSinkConfig;
use serde_json::json;

use crate::support::{assert_exactly, read_back, run_orders, sizes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fastavro_reads_every_codec_with_the_inferred_schema() {
    for (codec, name) in [
        // No codec entry in the header means `null` (uncompressed).
        (AvroCompression::None, json!(null)),
        (AvroCompression::Deflate, json!("deflate")),
        (AvroCompression::Snappy, json!("snappy")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = ObjectStorageSinkConfig {
            format: Format::Avro,
            batch_size: 300,
            avro: AvroOptions {
                compression: codec,
                ..Default::default()
            },
            ..ObjectStorageSinkConfig::local(dir.path(), "lake")
        };
        let (p, _) = run_orders(config, 1_000).await;
        assert_eq!(p.state, PipelineState::Completed, "{codec:?}: {p:?}");
        let seen = read_back(
            &["local", &dir.path().join("lake").display().to_string()],
            &[],
        );
        assert_eq!(sizes(&seen), [300, 300, 300, 100], "{codec:?}");
        assert_exactly(&seen, 1_000);
        let first = &seen["objects"][0];
        assert_eq!(first["codec"], name);
        let schema = &first["avro_schema"];
        assert_eq!(schema["name"], json!("rivven.events.Event"), "{schema}");
        let fields: Vec<(String, serde_json::Value)> = schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["name"].as_str().unwrap().to_string(), f["type"].clone()))
            .collect();
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["address", "coupon", "customer", "id", "items", "paid", "total"]
        );
        let ty = |n: &str| {
            fields
                .iter()
                .find(|(f, _)| f == n)
                .map(|(_, t)| t.clone())
                .unwrap()
        };
        assert_eq!(ty("id"), json!("long"));
        assert_eq!(ty("total"), json!("double"));
        assert_eq!(ty("paid"), json!("boolean"));
        assert_eq!(ty("coupon"), json!(["null", "string"]));
        assert_eq!(ty("items"), json!({"type": "array", "items": "long"}));
        assert_eq!(
            first["first"]["address"],
            json!({"city": "Zürich", "zip": 0})
        );
        assert_eq!(
            first["first"]["customer"],
            json!("c0, \"quoted\"\nnext line ü")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_schema_is_written_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let schema = json!({
        "type": "record", "name": "Order", "namespace": "shop",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "total", "type": "double"},
            {"name": "paid", "type": "boolean"},
        ]
    });
    let config = ObjectStorageSinkConfig {
        format: Format::Avro,
        batch_size: 500,
        avro: AvroOptions {
            schema: Some(schema.to_string()),
            compression: AvroCompression::Deflate,
            ..Default::default()
        },
        ..ObjectStorageSinkConfig::local(dir.path(), "lake")
    };
    let source = rivven_connect_testing::prelude::MockSource::new().with_generator(1_000, |i| {
        rivven_connect::SourceEvent::record(
            "s",
            json!({"id": i, "total": i as f64 / 4.0, "paid": i.is_multiple_of(2)}),
        )
    });
    let (p, _) = crate::support::run_source(source, config, crate::support::settings()).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let seen = read_back(
        &["local", &dir.path().join("lake").display().to_string()],
        &[],
    );
    assert_exactly(&seen, 1_000);
    assert_eq!(
        seen["objects"][0]["avro_schema"]["name"],
        json!("shop.Order")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wire_format_is_read_by_fastavro_and_by_the_source() {
    use rivven_connect_storage::avro::AvroReadOptions;
    use rivven_connect_storage::object_storage::{ObjectStorageSource, ObjectStorageSourceConfig};
    use rivven_connect_testing::prelude::*;

    let dir = tempfile::tempdir().unwrap();
    let schema = json!({
        "type": "record", "name": "Order", "namespace": "shop",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "note", "type": ["null", "string"], "default": null},
        ]
    })
    .to_string();
    let config = ObjectStorageSinkConfig {
        format: Format::Avro,
        batch_size: 400,
        avro: AvroOptions {
            schema: Some(schema.clone()),
            wire_format: true,
            schema_id: Some(4242),
            ..Default::default()
        },
        ..ObjectStorageSinkConfig::local(dir.path(), "lake")
    };
    let note = |i: u64| (!i.is_multiple_of(3)).then(|| format!("note ü {i}"));
    let source = MockSource::new().with_generator(1_000, move |i| {
        rivven_connect::SourceEvent::record("s", json!({"id": i, "note": note(i)}))
    });
    let (p, _) = crate::support::run_source(source, config, crate::support::settings()).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let seen = read_back(
        &["local", &dir.path().join("lake").display().to_string()],
        &[("RIVVEN_AVRO_SCHEMA".to_string(), schema.clone())],
    );
    assert_eq!(sizes(&seen), [400, 400, 200]);
    assert_exactly(&seen, 1_000);
    assert_eq!(seen["objects"][0]["schema_ids"], json!([4242]));
    assert_eq!(seen["objects"][0]["first"], json!({"id": 0, "note": null}));

    // The source reads them back with the schema; without it, it says what is missing.
    let read = |avro: AvroReadOptions| {
        TestHarness::with_configs(
            ObjectStorageSource,
            ObjectStorageSourceConfig {
                avro,
                ..ObjectStorageSourceConfig::local(dir.path(), "lake")
            },
            MockSink::new(),
            MockConfig::default(),
        )
    };
    let harness = read(AvroReadOptions {
        schema: Some(schema),
    });
    let r = harness.run_pipeline().await.unwrap();
    assert!(r.success, "{r:?}");
    let back: Vec<serde_json::Value> = harness
        .sink()
        .written_events()
        .into_iter()
        .map(|e| e.data)
        .collect();
    let expected: Vec<serde_json::Value> = (0..1_000)
        .map(|i| json!({"id": i, "note": note(i)}))
        .collect();
    assert_eq!(back, expected);
    let r = read(AvroReadOptions::default())
        .run_pipeline()
        .await
        .unwrap();
    assert!(!r.success);
    let error = r.error.unwrap_or_default();
    assert!(
        error.contains("wire-format Avro object") && error.contains("set avro.schema"),
        "{error}"
    );
}
