//! `format: avro` (feature `avro`): fastavro reads every codec and sees the
//! inferred schema; a given schema is used as it is.

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
