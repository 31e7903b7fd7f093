#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn config_defaults_deserialize_from_empty_objects() {
    let config: CdcFeaturesConfig = serde_json::from_value(json!({})).unwrap();
    assert_eq!(config, CdcFeaturesConfig::default());
    assert!(!config.deduplication.enabled);
    assert_eq!(config.deduplication.ttl_seconds, 3600);
    assert_eq!(config.deduplication.max_entries, 100_000);
    assert!(!config.tombstones.enabled);
    assert!(config.tombstones.emit_tombstone_after_delete);
    let config: CdcFeaturesConfig =
        serde_json::from_value(json!({"deduplication": {}, "tombstones": {}})).unwrap();
    assert_eq!(config, CdcFeaturesConfig::default());
    assert!(config.validate().is_ok());
}

#[test]
fn seed_yaml_keys_deserialize() {
    let config: CdcFeaturesConfig = serde_json::from_value(json!({
        "deduplication": {"enabled": true, "ttl_seconds": 60, "max_entries": 5},
        "tombstones": {"enabled": true, "emit_tombstone_after_delete": false},
    }))
    .unwrap();
    assert!(config.deduplication.enabled);
    assert_eq!(config.deduplication.ttl_seconds, 60);
    assert_eq!(config.deduplication.max_entries, 5);
    assert!(config.tombstones.enabled);
    assert!(!config.tombstones.emit_tombstone_after_delete);
}

#[test]
fn encryption_and_other_unknown_keys_are_rejected() {
    let err = serde_json::from_value::<CdcFeaturesConfig>(json!({
        "encryption": {"enabled": true, "fields": ["ssn"]}
    }))
    .unwrap_err();
    assert!(err.to_string().contains("encryption"), "{err}");
    let schema = serde_json::to_value(schemars::schema_for!(CdcFeaturesConfig)).unwrap();
    assert!(schema["properties"].get("encryption").is_none(), "{schema}");
    assert_eq!(schema["additionalProperties"], json!(false));
    assert!(serde_json::from_value::<DeduplicationConfig>(json!({"ttl": 5})).is_err());
    assert!(serde_json::from_value::<TombstoneConfig>(json!({"emit": true})).is_err());
}

#[test]
fn nested_validation_enforces_ranges() {
    let bad = |dedup: Value| {
        let config: CdcFeaturesConfig =
            serde_json::from_value(json!({ "deduplication": dedup })).unwrap();
        config.validate().is_err()
    };
    assert!(bad(json!({"ttl_seconds": 0})));
    assert!(bad(json!({"max_entries": 0})));
    assert!(bad(json!({"max_entries": 10_000_001})));
    assert!(!bad(json!({"ttl_seconds": 1, "max_entries": 10_000_000})));
}

#[test]
fn tombstone_wanted_only_when_enabled_and_after_delete() {
    let t = |enabled, emit_tombstone_after_delete| TombstoneConfig {
        enabled,
        emit_tombstone_after_delete,
    };
    assert!(t(true, true).wants_tombstone());
    assert!(!t(true, false).wants_tombstone());
    assert!(!t(false, true).wants_tombstone());
    assert!(!TombstoneConfig::default().wants_tombstone());
}

#[test]
fn disabled_deduplication_builds_no_deduplicator() {
    assert!(DeduplicationConfig::default().deduplicator().is_none());
    let enabled = DeduplicationConfig {
        enabled: true,
        ..DeduplicationConfig::default()
    };
    assert!(enabled.deduplicator().is_some_and(|d| d.is_empty()));
}

#[test]
fn duplicate_within_ttl_is_detected() {
    let mut dedup = Deduplicator::with_limits(secs(10), 100);
    let t0 = Instant::now();
    assert!(!dedup.check_and_insert(1, t0));
    assert!(!dedup.check_and_insert(2, t0));
    assert!(dedup.check_and_insert(1, t0 + secs(9)));
    assert!(dedup.check_and_insert(2, t0 + secs(1)));
    assert_eq!(dedup.len(), 2);
}

#[test]
fn entries_expire_after_ttl() {
    let mut dedup = Deduplicator::with_limits(secs(10), 100);
    let t0 = Instant::now();
    assert!(!dedup.check_and_insert(1, t0));
    assert!(!dedup.check_and_insert(2, t0 + secs(5)));
    // At t0+10 the first has expired (and is purged), the second has not.
    assert!(!dedup.check_and_insert(1, t0 + secs(10)));
    assert!(dedup.check_and_insert(2, t0 + secs(10)));
    dedup.purge_expired(t0 + secs(100));
    assert!(dedup.is_empty());
    assert!(dedup.order.is_empty());
}

#[test]
fn a_duplicate_refreshes_its_ttl() {
    let mut dedup = Deduplicator::with_limits(secs(10), 100);
    let t0 = Instant::now();
    assert!(!dedup.check_and_insert(7, t0));
    assert!(dedup.check_and_insert(7, t0 + secs(8)));
    assert!(dedup.check_and_insert(7, t0 + secs(16)));
    assert!(!dedup.check_and_insert(7, t0 + secs(30)));
}

#[test]
fn least_recently_seen_is_evicted_at_max_entries() {
    let mut dedup = Deduplicator::with_limits(secs(3600), 3);
    let t0 = Instant::now();
    for fp in [1, 2, 3] {
        assert!(!dedup.check_and_insert(fp, t0));
    }
    // Seeing 1 again makes 2 the least recently seen.
    assert!(dedup.check_and_insert(1, t0));
    assert!(!dedup.check_and_insert(4, t0));
    assert_eq!(dedup.len(), 3);
    assert!(dedup.check_and_insert(1, t0));
    assert!(dedup.check_and_insert(3, t0));
    assert!(dedup.check_and_insert(4, t0));
    assert!(!dedup.check_and_insert(2, t0), "2 was evicted");
}

#[test]
fn memory_stays_bounded_under_a_million_distinct_events() {
    let mut dedup = Deduplicator::with_limits(secs(3600), 1_000);
    let t0 = Instant::now();
    for fp in 0..1_000_000u64 {
        assert!(!dedup.check_and_insert(fp, t0));
        assert!(dedup.len() <= 1_000);
        assert!(dedup.order.len() <= 2_000);
    }
    assert_eq!(dedup.len(), 1_000);
    // The newest thousand are remembered.
    assert!(dedup.check_and_insert(999_999, t0));
    assert!(dedup.check_and_insert(999_000, t0));
}

#[test]
fn queue_is_compacted_under_repeated_duplicates() {
    let mut dedup = Deduplicator::with_limits(secs(3600), 1_000);
    let t0 = Instant::now();
    for fp in 0..1_000u64 {
        dedup.check_and_insert(fp, t0);
    }
    // Refreshing one old entry over and over leaves outdated queue slots behind.
    for i in 0..100_000u64 {
        assert!(dedup.check_and_insert(i % 10, t0));
        assert!(dedup.order.len() <= 2_000);
    }
    assert_eq!(dedup.len(), 1_000);
    assert!(dedup.check_and_insert(500, t0));
    dedup.clear();
    assert!(dedup.is_empty() && dedup.order.is_empty());
}

#[test]
fn zero_limits_are_clamped_rather_than_panicking() {
    let mut dedup = Deduplicator::new(&DeduplicationConfig {
        enabled: true,
        ttl_seconds: 0,
        max_entries: 0,
    });
    let t0 = Instant::now();
    assert!(!dedup.check_and_insert(1, t0));
    assert!(
        !dedup.check_and_insert(1, t0),
        "a zero TTL remembers nothing"
    );
    assert!(dedup.len() <= 1);
}

#[test]
fn fingerprints_are_stable_and_discriminating() {
    let key = json!({"id": 1, "tenant": "a"});
    let pos = json!({"lsn": "0/16B3748", "tx": 7});
    let fp = fingerprint("public.users", &key, &pos, "c");
    assert_eq!(fp, fingerprint("public.users", &key, &pos, "c"));
    let reordered = serde_json::from_str::<Value>(r#"{"tenant": "a", "id": 1}"#).unwrap();
    assert_eq!(fp, fingerprint("public.users", &reordered, &pos, "c"));
    assert_ne!(fp, fingerprint("public.users", &key, &pos, "u"));
    assert_ne!(fp, fingerprint("public.orders", &key, &pos, "c"));
    assert_ne!(
        fp,
        fingerprint("public.users", &json!({"id": 2, "tenant": "a"}), &pos, "c")
    );
    assert_ne!(
        fp,
        fingerprint(
            "public.users",
            &key,
            &json!({"lsn": "0/16B3749", "tx": 7}),
            "c"
        )
    );
    assert_ne!(
        fingerprint("ab", &Value::Null, &Value::Null, "c"),
        fingerprint("a", &Value::Null, &Value::Null, "bc")
    );
    assert_ne!(
        fingerprint("s", &json!(1), &Value::Null, "c"),
        fingerprint("s", &json!("1"), &Value::Null, "c")
    );
    assert_ne!(
        fingerprint("s", &json!([1, 2]), &Value::Null, "c"),
        fingerprint("s", &json!([2, 1]), &Value::Null, "c")
    );
}

fn row() -> Map<String, Value> {
    json!({"id": 1, "email": "a@b.c", "password_hash": "x", "name": "Ann"})
        .as_object()
        .cloned()
        .unwrap()
}

fn columns(row: &Map<String, Value>) -> Vec<&str> {
    row.keys().map(String::as_str).collect()
}

#[test]
fn column_filter_include_keeps_only_listed_columns() {
    let mut r = row();
    ColumnFilter::including(["id", "name", "missing"]).apply(&mut r);
    assert_eq!(columns(&r), ["id", "name"]);
    assert_eq!(r["name"], json!("Ann"));
}

#[test]
fn column_filter_exclude_drops_listed_columns() {
    let mut r = row();
    ColumnFilter::excluding(["password_hash", "email"]).apply(&mut r);
    assert_eq!(columns(&r), ["id", "name"]);
    let mut r = row();
    ColumnFilter::default().apply(&mut r);
    assert_eq!(r, row());
}

#[test]
fn column_filter_with_both_lists_is_rejected_naming_the_table() {
    let filters: ColumnFilterConfig = serde_json::from_value(json!({
        "orders": {"include": ["id"]},
        "public.users": {"include": ["id"], "exclude": ["email"]},
    }))
    .unwrap();
    let err = validate_column_filters(&filters).unwrap_err();
    let message = err.message.unwrap_or_default();
    assert!(message.contains("public.users"), "{message}");
    assert!(message.contains("not both"), "{message}");
    let both = &filters["public.users"];
    assert!(both.validate().is_err());
    let err = both.check("public.users").unwrap_err();
    assert_eq!(err.kind(), rivven_connect::ErrorKind::Config);
    assert!(err.to_string().contains("public.users"), "{err}");
    assert!(filters["orders"].validate().is_ok());
    assert!(validate_column_filters(&ColumnFilterConfig::new()).is_ok());
}

#[test]
fn column_filter_rejects_unknown_keys() {
    let err = serde_json::from_value::<ColumnFilter>(json!({"columns": ["id"]})).unwrap_err();
    assert!(err.to_string().contains("columns"), "{err}");
}

#[test]
fn filter_for_prefers_schema_qualified_then_bare_table() {
    let mut filters = ColumnFilterConfig::new();
    filters.insert("public.users".into(), ColumnFilter::excluding(["email"]));
    filters.insert("users".into(), ColumnFilter::excluding(["name"]));
    filters.insert("orders".into(), ColumnFilter::including(["id"]));
    let exclude = |f: Option<&ColumnFilter>| f.map(|f| f.exclude.clone());
    assert_eq!(
        exclude(filter_for(&filters, "public", "users")),
        Some(vec!["email".to_string()])
    );
    assert_eq!(
        exclude(filter_for(&filters, "audit", "users")),
        Some(vec!["name".to_string()])
    );
    assert!(filter_for(&filters, "sales", "orders").is_some_and(|f| f.keeps("id")));
    assert!(filter_for(&filters, "public", "items").is_none());
    assert!(filter_for(&ColumnFilterConfig::new(), "public", "users").is_none());
}
