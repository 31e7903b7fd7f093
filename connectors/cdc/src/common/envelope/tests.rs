#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::common::features::ColumnFilter;
use serde_json::json;
use std::collections::BTreeMap;

/// A made-up binlog-style source: file, offset, a transaction id.
struct Toy {
    file: &'static str,
    pos: u64,
    tx: Option<u64>,
    committed: Option<DateTime<Utc>>,
    snapshot: bool,
}

impl SourceCoordinates for Toy {
    const CONNECTOR: &'static str = "toy-cdc";
    fn source_fields(&self, source: &mut Map<String, Value>) {
        source.insert("file".into(), json!(self.file));
        source.insert("pos".into(), json!(self.pos));
    }
    fn position(&self) -> Value {
        json!({"file": self.file, "pos": self.pos})
    }
    fn transaction_id(&self) -> Option<String> {
        self.tx.map(|t| t.to_string())
    }
    fn commit_time(&self) -> Option<DateTime<Utc>> {
        self.committed
    }
    fn is_snapshot(&self) -> bool {
        self.snapshot
    }
}

fn at(pos: u64) -> Toy {
    Toy {
        file: "bin.000001",
        pos,
        tx: Some(9),
        committed: DateTime::from_timestamp_millis(1_700_000_000_123),
        snapshot: false,
    }
}

fn row(v: Value) -> Option<Map<String, Value>> {
    v.as_object().cloned()
}

fn builder(filters: &[(&str, ColumnFilter)]) -> EnvelopeBuilder {
    let filters: BTreeMap<String, ColumnFilter> = filters
        .iter()
        .map(|(k, f)| (k.to_string(), f.clone()))
        .collect();
    EnvelopeBuilder::new(None, &NormalizationConfig::default(), &filters).unwrap()
}

#[test]
fn an_update_carries_the_debezium_envelope_and_the_coordinates() {
    let b = builder(&[]);
    let table = b.table(TableRef::new("shop", None, "orders"), vec!["id".into()]);
    let e = b.event(
        &table,
        EventType::Update,
        row(json!({"id": 1, "status": "new"})),
        row(json!({"id": 1, "status": "paid"})),
        &at(154),
    );
    assert_eq!(e.stream, "shop.orders");
    assert_eq!(e.namespace.as_deref(), Some("shop"));
    assert_eq!(e.data["op"], "u");
    assert_eq!(e.data["before"], json!({"id": 1, "status": "new"}));
    assert_eq!(e.data["after"], json!({"id": 1, "status": "paid"}));
    assert_eq!(
        e.data["source"],
        json!({
            "connector": "toy-cdc", "db": "shop", "table": "orders",
            "file": "bin.000001", "pos": 154,
            "ts_ms": 1_700_000_000_123_i64, "snapshot": false
        })
    );
    assert_eq!(e.metadata.source.as_ref(), Some(&e.data["source"]));
    assert_eq!(e.key, Some(json!({"id": 1})));
    assert_eq!(e.timestamp.timestamp_millis(), 1_700_000_000_123);
    assert_eq!(
        e.metadata.position,
        Some(json!({"file": "bin.000001", "pos": 154}))
    );
    assert_eq!(e.metadata.transaction_id.as_deref(), Some("9"));
}

#[test]
fn the_source_block_keeps_its_field_order() {
    let b = builder(&[]);
    let table = b.table(TableRef::new("db", Some("public"), "t"), Vec::new());
    let e = b.event(
        &table,
        EventType::Insert,
        None,
        row(json!({"a": 1})),
        &at(1),
    );
    let keys: Vec<&str> = e.data["source"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected = [
        "connector",
        "db",
        "schema",
        "table",
        "file",
        "pos",
        "ts_ms",
        "snapshot",
    ];
    // The insertion order, where serde_json keeps it (`preserve_order`);
    // otherwise the keys come sorted.
    let mut probe = Map::new();
    probe.insert("b".into(), Value::Null);
    probe.insert("a".into(), Value::Null);
    if probe.keys().next().map(String::as_str) == Some("b") {
        assert_eq!(keys, expected);
    } else {
        let mut sorted = expected.to_vec();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
    }
    assert_eq!(
        e.namespace.as_deref(),
        Some("public"),
        "the schema, not the database"
    );
    assert_eq!(e.stream, "public.t");
    assert_eq!(e.key, None, "a table without key has keyless events");
}

#[test]
fn a_snapshot_row_without_commit_time_is_stamped_now() {
    let b = builder(&[]);
    let table = b.table(TableRef::new("d", None, "t"), vec!["id".into()]);
    let before = Utc::now();
    let snap = Toy {
        committed: None,
        snapshot: true,
        tx: None,
        ..at(0)
    };
    let e = b.event(
        &table,
        EventType::Snapshot,
        None,
        row(json!({"id": 2})),
        &snap,
    );
    assert_eq!(e.data["op"], "r");
    assert_eq!(e.data["source"]["snapshot"], true);
    assert!(e.timestamp >= before);
    assert_eq!(e.data["source"]["ts_ms"], e.timestamp.timestamp_millis());
    assert_eq!(e.metadata.transaction_id, None);
}

#[test]
fn column_filters_apply_to_both_images_but_the_key_survives() {
    let b = builder(&[("shop.users", ColumnFilter::including(["name"]))]);
    let table = b.table(TableRef::new("shop", None, "users"), vec!["id".into()]);
    assert!(table.decodes("id"), "key columns are always decoded");
    assert!(table.decodes("name"));
    assert!(!table.decodes("password"));
    let e = b.event(
        &table,
        EventType::Update,
        row(json!({"id": 1, "name": "a", "password": "x"})),
        row(json!({"id": 1, "name": "b", "password": "y"})),
        &at(5),
    );
    assert_eq!(e.data["before"], json!({"name": "a"}));
    assert_eq!(e.data["after"], json!({"name": "b"}));
    assert_eq!(
        e.key,
        Some(json!({"id": 1})),
        "the key is taken before filtering"
    );
    // A bare table name matches in any namespace.
    let b = builder(&[("users", ColumnFilter::excluding(["password"]))]);
    let table = b.table(TableRef::new("other", None, "users"), vec!["id".into()]);
    assert!(!table.decodes("password"));
}

#[test]
fn a_delete_keys_on_the_before_image_and_its_tombstone_keeps_the_key() {
    let b = builder(&[]);
    let table = b.table(
        TableRef::new("d", Some("s"), "t"),
        vec!["b".into(), "a".into()],
    );
    let delete = b.event(
        &table,
        EventType::Delete,
        row(json!({"a": 1, "b": 2, "c": 3})),
        None,
        &at(8),
    );
    assert_eq!(delete.data["op"], "d");
    assert_eq!(delete.data["after"], Value::Null);
    assert_eq!(delete.key, Some(json!({"b": 2, "a": 1})));
    let tombstone = EnvelopeBuilder::tombstone(&delete);
    assert_eq!(tombstone.data, Value::Null);
    assert_eq!(tombstone.key, delete.key);
    assert_eq!(tombstone.stream, delete.stream);
    assert_eq!(tombstone.metadata.position, delete.metadata.position);
    assert_eq!(tombstone.metadata.extra["tombstone"], true);
    assert_eq!(
        table.key_only(row(json!({"a": 1, "b": 2, "c": 3})).unwrap()),
        row(json!({"a": 1, "b": 2})).unwrap()
    );
    let partial = table.key_of(&row(json!({"a": 1})).unwrap());
    assert_eq!(partial, Some(json!({"b": null, "a": 1})));
}

#[test]
fn a_truncate_has_no_key_and_no_images() {
    let b = builder(&[]);
    let table = b.table(TableRef::new("d", None, "t"), vec!["id".into()]);
    let e = b.truncate(&table, &at(3));
    assert_eq!(e.data["op"], "t");
    assert_eq!(e.key, None);
    assert_eq!(e.data["before"], Value::Null);
    assert_eq!(e.data["after"], Value::Null);
    assert_eq!(e.data["source"]["pos"], 3);
}

#[test]
fn topic_routing_resolves_the_stream_name() {
    let b = EnvelopeBuilder::new(
        Some("cdc.{database}.{schema}.{table}"),
        &NormalizationConfig::default(),
        &BTreeMap::new(),
    )
    .unwrap();
    let pg = TableRef::new("shop", Some("sales"), "orders");
    assert_eq!(b.stream_name(&pg), "cdc.shop.sales.orders");
    // Without schemas, `{schema}` is the database.
    let my = TableRef::new("shop", None, "orders");
    assert_eq!(b.stream_name(&my), "cdc.shop.shop.orders");
    assert_eq!(b.table(my, Vec::new()).stream, "cdc.shop.shop.orders");
}

#[test]
fn a_bad_topic_template_is_an_error_naming_topic_routing() {
    let err = EnvelopeBuilder::new(
        Some("cdc.{nope}"),
        &NormalizationConfig::default(),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("topic_routing"), "{err}");
}
