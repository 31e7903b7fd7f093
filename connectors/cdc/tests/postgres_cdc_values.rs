//! postgres-cdc against a private PostgreSQL: the JSON value of every column
//! type (snapshot and stream alike, unchanged TOAST included), DDL
//! mid-stream, tombstones, column filters, topic routing, deduplication,
//! discover and check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/pg.rs"]
mod pg;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rivven_connect::runtime::MemoryOffsetStore;
use rivven_connect::{CaseConversion, Source};
use rivven_connect_cdc::common::features::{fingerprint, ColumnFilter, Deduplicator};
use rivven_connect_cdc::postgres::PostgresCdcSource;
use rivven_connect_testing::MockSink;
use serde_json::{json, Map, Value};

/// The table of every type; `big` is TOASTed out of line, uncompressed.
const EVERY_TYPE_DDL: &str = "
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE DOMAIN posint AS int CHECK (VALUE > 0);
    CREATE TABLE t (
        id int PRIMARY KEY,
        i2 smallint, i4 integer, i8 bigint, num numeric(20,6), f4 real, f8 double precision,
        flag boolean, txt text, vc varchar(10), ch char(3), bin bytea, uid uuid,
        js json, jsb jsonb, d date, tm time, ttz timetz, ts timestamp, tstz timestamptz,
        iv interval, ints int[], texts text[], grid int[][], m mood, moods mood[],
        pos posint, tstzs timestamptz[], bins bytea[], nums numeric[], dinf date,
        tsbc timestamp, ivneg interval, big text
    );
    ALTER TABLE t ALTER COLUMN big SET STORAGE EXTERNAL;";

/// Columns of `t` other than `id`, in order.
const EVERY_TYPE_COLUMNS: [&str; 33] = [
    "i2", "i4", "i8", "num", "f4", "f8", "flag", "txt", "vc", "ch", "bin", "uid", "js", "jsb", "d",
    "tm", "ttz", "ts", "tstz", "iv", "ints", "texts", "grid", "m", "moods", "pos", "tstzs", "bins",
    "nums", "dinf", "tsbc", "ivneg", "big",
];

/// Five rows of `t` with ids `base + 1 ..= base + 5`: every type, all NULLs,
/// then NaN / ±Infinity floats and numerics at the edge of their scale.
fn every_type_rows(base: i32, big: &str) -> String {
    let id = |n: i32| base + n;
    format!(
        r#"INSERT INTO t VALUES ({}, -32768, 2147483647, -9223372036854775808, 12345678901234.567890,
            0.1, 3.141592653589793, true, E'héllo, "wörld"\n\ttab', 'abc', 'ab', '\x0a0bff',
            'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{{"b": [1, 2], "a": "x"}}',
            '{{"k": {{"n": 1.5, "s": null}}}}', '2024-02-29', '13:45:00.123456', '13:45:00+02',
            '2024-01-02 03:04:05.5', '2024-01-02 03:04:05.25+02',
            '1 year 2 months 3 days 4 hours 5 minutes 6 seconds', '{{1,NULL,3}}',
            ARRAY['a,b', 'say "hi"', E'back\\slash', 'NULL', '', ' sp ', 'x{{y}}'],
            '{{{{1,2}},{{3,4}}}}', 'happy', '{{happy,sad}}', 42,
            '{{"2024-01-02 03:04:05+00",NULL}}', ARRAY['\x0a0bff'::bytea, ''::bytea],
            ARRAY[1.50, 'NaN']::numeric[], 'infinity', '0044-03-15 12:00:00 BC',
            '-1 days -02:00:00', '{big}');
           INSERT INTO t (id) VALUES ({});
           INSERT INTO t (id, num, f4, f8) VALUES ({}, 'NaN', 'NaN', 'NaN');
           INSERT INTO t (id, num, f4, f8) VALUES ({}, -0.000001, '-Infinity', 'Infinity');
           INSERT INTO t (id, num, f4, f8) VALUES ({}, 0, 'Infinity', '-Infinity');"#,
        id(1),
        id(2),
        id(3),
        id(4),
        id(5),
    )
}

/// A row of `t` with every column NULL but `id`, then `set` applied.
fn row(id: i64, set: Value) -> Value {
    let mut row = Map::new();
    row.insert("id".into(), json!(id));
    for column in EVERY_TYPE_COLUMNS {
        row.insert(column.into(), Value::Null);
    }
    for (k, v) in set.as_object().unwrap() {
        assert!(row.contains_key(k), "no column {k}");
        row.insert(k.clone(), v.clone());
    }
    Value::Object(row)
}

/// The JSON of `every_type_rows(base, big)`.
fn every_type_expected(base: i64, big: &str) -> Vec<Value> {
    vec![
        row(
            base + 1,
            json!({
                "i2": -32768, "i4": 2147483647, "i8": i64::MIN,
                "num": "12345678901234.567890",
                "f4": 0.1, "f8": std::f64::consts::PI,
                "flag": true,
                "txt": "héllo, \"wörld\"\n\ttab",
                "vc": "abc",
                "ch": "ab ",
                "bin": "Cgv/",
                "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "js": {"b": [1, 2], "a": "x"},
                "jsb": {"k": {"n": 1.5, "s": null}},
                "d": "2024-02-29",
                "tm": "13:45:00.123456",
                "ttz": "13:45:00+02:00",
                "ts": "2024-01-02T03:04:05.5",
                "tstz": "2024-01-02T01:04:05.25Z",
                "iv": "P1Y2M3DT4H5M6S",
                "ints": [1, null, 3],
                "texts": ["a,b", "say \"hi\"", "back\\slash", "NULL", "", " sp ", "x{y}"],
                "grid": [[1, 2], [3, 4]],
                "m": "happy",
                "moods": ["happy", "sad"],
                "pos": 42,
                "tstzs": ["2024-01-02T03:04:05Z", null],
                "bins": ["Cgv/", ""],
                "nums": ["1.50", "NaN"],
                "dinf": "infinity",
                "tsbc": "0044-03-15T12:00:00 BC",
                "ivneg": "P-1DT-2H",
                "big": big,
            }),
        ),
        row(base + 2, json!({})),
        row(base + 3, json!({"num": "NaN", "f4": "NaN", "f8": "NaN"})),
        row(
            base + 4,
            json!({"num": "-0.000001", "f4": "-Infinity", "f8": "Infinity"}),
        ),
        row(
            base + 5,
            json!({"num": "0.000000", "f4": "Infinity", "f8": "-Infinity"}),
        ),
    ]
}

/// Asserts `got == want` column by column, quoting at most 80 characters
/// of a value (`big` is 12.8 kB).
#[track_caller]
fn assert_row(got: &Value, want: &Value, what: &str) {
    let brief = |v: Option<&Value>| {
        let text = v.map_or_else(|| "<missing>".to_string(), Value::to_string);
        text.chars().take(80).collect::<String>()
    };
    let (g, w) = (got.as_object().unwrap(), want.as_object().unwrap());
    let mut columns: Vec<&String> = g.keys().chain(w.keys()).collect();
    columns.sort();
    columns.dedup();
    let wrong: Vec<String> = columns
        .into_iter()
        .filter(|c| g.get(*c) != w.get(*c))
        .map(|c| format!("{c}: got {}, want {}", brief(g.get(c)), brief(w.get(c))))
        .collect();
    assert!(wrong.is_empty(), "{what}:\n  {}", wrong.join("\n  "));
}

/// `after` without its `id`.
fn without_id(after: &Value) -> Value {
    let mut after = after.as_object().unwrap().clone();
    after.remove("id");
    Value::Object(after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_round_trips() {
    let (server, db) = pg::server().await;
    db.batch_execute(EVERY_TYPE_DDL).await.unwrap();
    // Incompressible and far over the 2 kB TOAST threshold.
    let big: String = db
        .query_one(
            "SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 400)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(big.len(), 12_800);
    db.batch_execute(&every_type_rows(0, &big)).await.unwrap();
    let toast_bytes: i64 = db
        .query_one(
            "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 't'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(toast_bytes > 0, "`big` is not stored out of line");

    let sink = MockSink::new();
    let store = MemoryOffsetStore::new();
    let runtime = pg::run(pg::config(&server, "types_slot"), &sink, &store).await;
    let snapshot = pg::wait_for(&sink, 5).await;
    let expected = every_type_expected(0, &big);
    for want in &expected {
        let id = want["id"].as_i64().unwrap();
        let event = pg::find(&snapshot, "r", id);
        assert_row(&event.data["after"], want, &format!("snapshot row {id}"));
        assert_eq!(event.data["source"]["snapshot"], true);
        assert!(!event.metadata.extra.contains_key("unchanged_toast"));
    }

    // The same rows through the stream, then an update that leaves `big` alone.
    db.batch_execute(&every_type_rows(100, &big)).await.unwrap();
    db.batch_execute("UPDATE t SET i4 = 7 WHERE id = 101")
        .await
        .unwrap();
    let events = pg::wait_for(&sink, 11).await;
    for (snapshotted, want) in expected.iter().zip(every_type_expected(100, &big)) {
        let id = want["id"].as_i64().unwrap();
        let event = pg::find(&events, "c", id);
        assert_row(&event.data["after"], &want, &format!("streamed row {id}"));
        assert!(!event.metadata.extra.contains_key("unchanged_toast"));
        // Snapshot and stream agree value for value.
        assert_row(
            &without_id(&event.data["after"]),
            &without_id(snapshotted),
            &format!("streamed row {id} against snapshot row {}", id - 100),
        );
    }
    let update = pg::find(&events, "u", 101);
    let mut want = every_type_expected(100, &big).remove(0);
    want["i4"] = json!(7);
    want["big"] = json!("__rivven_unavailable_value");
    assert_row(&update.data["after"], &want, "update of row 101");
    assert_eq!(update.metadata.extra["unchanged_toast"], json!(["big"]));
    runtime.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_mid_stream_adds_a_column() {
    let (server, db) = pg::server().await;
    db.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, name text);
         INSERT INTO items VALUES (1, 'seed');",
    )
    .await
    .unwrap();
    let sink = MockSink::new();
    let store = MemoryOffsetStore::new();
    let runtime = pg::run(pg::config(&server, "ddl_slot"), &sink, &store).await;
    pg::wait_for(&sink, 1).await;

    db.batch_execute(
        "INSERT INTO items VALUES (2, 'a');
         INSERT INTO items VALUES (3, 'b');
         ALTER TABLE items ADD COLUMN note text DEFAULT 'x';
         INSERT INTO items (id, name) VALUES (4, 'c');
         INSERT INTO items VALUES (5, 'd', 'y');
         UPDATE items SET name = 'aa' WHERE id = 2;
         ALTER TABLE items DROP COLUMN note;
         INSERT INTO items VALUES (6, 'e');
         UPDATE items SET name = 'bb' WHERE id = 3;",
    )
    .await
    .unwrap();
    let events = pg::wait_for(&sink, 8).await;
    let after: Vec<Value> = events.iter().map(|e| e.data["after"].clone()).collect();
    assert_eq!(
        after,
        vec![
            json!({"id": 1, "name": "seed"}),
            json!({"id": 2, "name": "a"}),
            json!({"id": 3, "name": "b"}),
            json!({"id": 4, "name": "c", "note": "x"}),
            json!({"id": 5, "name": "d", "note": "y"}),
            // A row written before the DDL gets the column's default.
            json!({"id": 2, "name": "aa", "note": "x"}),
            json!({"id": 6, "name": "e"}),
            json!({"id": 3, "name": "bb"}),
        ]
    );
    let ops: Vec<&str> = events
        .iter()
        .map(|e| e.data["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["r", "c", "c", "c", "c", "u", "c", "u"]);
    runtime.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tombstones_filters_and_topic_routing() {
    let (server, db) = pg::server().await;
    db.batch_execute(
        r#"CREATE TABLE accounts (id int PRIMARY KEY, name text, secret text);
           CREATE TABLE people (id int PRIMARY KEY, name text, email text, age int);
           ALTER TABLE people REPLICA IDENTITY FULL;
           CREATE TABLE "UserProfiles" (id int PRIMARY KEY, display text);
           INSERT INTO accounts VALUES (1, 'ann', 's3cr3t');
           INSERT INTO people VALUES (1, 'bob', 'bob@example.com', 30);
           INSERT INTO "UserProfiles" VALUES (1, 'Carol');"#,
    )
    .await
    .unwrap();
    let mut config = pg::config(&server, "route_slot");
    config.cdc_features.tombstones.enabled = true;
    config.column_filters = BTreeMap::from([
        ("accounts".to_string(), ColumnFilter::excluding(["secret"])),
        (
            "public.people".to_string(),
            ColumnFilter::including(["id", "name"]),
        ),
    ]);
    config.topic_routing = Some("cdc.{schema}.{table}".to_string());
    config.normalization.case_conversion = CaseConversion::SnakeCase;
    let sink = MockSink::new();
    let store = MemoryOffsetStore::new();
    let runtime = pg::run(config, &sink, &store).await;

    let snapshot = pg::wait_for(&sink, 3).await;
    let mut by_stream: Vec<(String, Value)> = snapshot
        .iter()
        .map(|e| (e.stream.clone(), e.data["after"].clone()))
        .collect();
    by_stream.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        by_stream,
        vec![
            (
                "cdc.public.accounts".to_string(),
                json!({"id": 1, "name": "ann"})
            ),
            (
                "cdc.public.people".to_string(),
                json!({"id": 1, "name": "bob"})
            ),
            (
                "cdc.public.user_profiles".to_string(),
                json!({"id": 1, "display": "Carol"})
            ),
        ]
    );
    let profile = snapshot
        .iter()
        .find(|e| e.stream == "cdc.public.user_profiles")
        .unwrap();
    assert_eq!(profile.data["source"]["table"], "UserProfiles");
    assert_eq!(profile.namespace.as_deref(), Some("public"));

    db.batch_execute(
        r#"INSERT INTO accounts VALUES (2, 'dan', 'hunter2');
           UPDATE people SET name = 'bobby', email = 'new@example.com' WHERE id = 1;
           DELETE FROM accounts WHERE id = 2;
           DELETE FROM "UserProfiles" WHERE id = 1;"#,
    )
    .await
    .unwrap();
    let events = pg::wait_for(&sink, 9).await;
    let events = &events[3..];
    let got: Vec<(&str, Value, Value)> = events
        .iter()
        .map(|e| {
            (
                e.stream.as_str(),
                e.data.clone(),
                e.key.clone().unwrap_or_default(),
            )
        })
        .map(|(s, d, k)| {
            let d = if d.is_null() {
                d
            } else {
                json!({"op": d["op"], "before": d["before"], "after": d["after"]})
            };
            (s, d, k)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "cdc.public.accounts",
                json!({"op": "c", "before": null, "after": {"id": 2, "name": "dan"}}),
                json!({"id": 2}),
            ),
            (
                "cdc.public.people",
                json!({"op": "u", "before": {"id": 1, "name": "bob"}, "after": {"id": 1, "name": "bobby"}}),
                json!({"id": 1}),
            ),
            (
                "cdc.public.accounts",
                json!({"op": "d", "before": {"id": 2}, "after": null}),
                json!({"id": 2}),
            ),
            ("cdc.public.accounts", Value::Null, json!({"id": 2})),
            (
                "cdc.public.user_profiles",
                json!({"op": "d", "before": {"id": 1}, "after": null}),
                json!({"id": 1}),
            ),
            ("cdc.public.user_profiles", Value::Null, json!({"id": 1})),
        ]
    );
    for (i, e) in events.iter().enumerate() {
        let tombstone = e.data.is_null();
        assert_eq!(
            e.metadata.extra.get("tombstone"),
            tombstone.then_some(&Value::Bool(true)),
            "event {i}"
        );
    }
    runtime.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deduplication_keeps_every_distinct_change() {
    // Deduplication is per replication session (a restart must re-emit
    // everything past the committed position: see
    // postgres_cdc.rs `deduplication_never_drops_what_a_restart_must_resend`),
    // and a session never resends: this checks that it never drops changes
    // that merely look alike (same key, op and values).
    let (server, db) = pg::server().await;
    db.batch_execute(
        "CREATE TABLE d (id int PRIMARY KEY, v text);
         INSERT INTO d VALUES (1, 'seed');",
    )
    .await
    .unwrap();
    let mut config = pg::config(&server, "dedup_slot");
    config.cdc_features.deduplication.enabled = true;
    let sink = MockSink::new();
    let store = MemoryOffsetStore::new();
    let runtime = pg::run(config, &sink, &store).await;
    pg::wait_for(&sink, 1).await;

    db.batch_execute(
        "UPDATE d SET v = 'same' WHERE id = 1;
         UPDATE d SET v = 'same' WHERE id = 1;
         UPDATE d SET v = 'same' WHERE id = 1;
         BEGIN;
           UPDATE d SET v = 'same' WHERE id = 1;
           UPDATE d SET v = 'same' WHERE id = 1;
         COMMIT;
         INSERT INTO d VALUES (2, 'two');
         DELETE FROM d WHERE id = 2;
         INSERT INTO d VALUES (2, 'two');
         INSERT INTO d VALUES (99, 'end');",
    )
    .await
    .unwrap();
    let events = pg::wait_for_event(&sink, |e| e.data["after"]["id"] == 99).await;
    let want = [
        ("r", 1),
        ("u", 1),
        ("u", 1),
        ("u", 1),
        ("u", 1),
        ("u", 1),
        ("c", 2),
        ("d", 2),
        ("c", 2),
        ("c", 99),
    ];
    let want: Vec<_> = want
        .into_iter()
        .map(|(op, id)| (op.to_string(), "d".to_string(), json!(id)))
        .collect();
    assert_eq!(pg::summary(&events), want);
    runtime.shutdown(Duration::from_secs(10)).await;
}

#[test]
fn deduplicator_drops_a_replayed_fingerprint() {
    let position = json!(["0/16B3748", "0/16B3700"]);
    let fp = fingerprint("public.d", &json!({"a": 1, "b": 2}), &position, "u");
    // Key order does not matter; stream, key, position and op do.
    assert_eq!(
        fp,
        fingerprint("public.d", &json!({"b": 2, "a": 1}), &position, "u")
    );
    let others = [
        fingerprint("public.e", &json!({"a": 1, "b": 2}), &position, "u"),
        fingerprint("public.d", &json!({"a": 1, "b": 3}), &position, "u"),
        fingerprint(
            "public.d",
            &json!({"a": 1, "b": 2}),
            &json!(["0/16B3748", "0/16B3701"]),
            "u",
        ),
        fingerprint("public.d", &json!({"a": 1, "b": 2}), &position, "d"),
    ];
    assert!(others.iter().all(|o| *o != fp));

    let now = Instant::now();
    let mut dedup = Deduplicator::with_limits(Duration::from_secs(60), 2);
    assert!(!dedup.check_and_insert(fp, now));
    assert!(dedup.check_and_insert(fp, now), "a replay is a duplicate");
    // Forgotten after the TTL.
    assert!(!dedup.check_and_insert(fp, now + Duration::from_secs(61)));
    // Bounded: a third fingerprint evicts the least recently seen.
    let later = now + Duration::from_secs(62);
    assert!(!dedup.check_and_insert(others[0], later));
    assert!(!dedup.check_and_insert(others[1], later));
    assert_eq!(dedup.len(), 2);
    assert!(
        !dedup.check_and_insert(fp, later),
        "evicted, so not a duplicate"
    );
    assert!(dedup.check_and_insert(others[1], later));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_lists_tables_with_schema_and_keys() {
    let (server, db) = pg::server().await;
    db.batch_execute(
        "CREATE TABLE accounts (id bigint PRIMARY KEY, balance numeric(12,2) NOT NULL,
                                label text, opened timestamptz, tags text[]);
         CREATE TABLE line_items (order_id int, line smallint, sku varchar(20) NOT NULL,
                                  PRIMARY KEY (line, order_id));
         CREATE TABLE audit (at timestamp, what jsonb);",
    )
    .await
    .unwrap();
    let config = pg::config(&server, "discover_slot");
    let catalog = PostgresCdcSource::default()
        .discover(&config)
        .await
        .unwrap();
    let names: Vec<&str> = catalog.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["public.accounts", "public.audit", "public.line_items"]
    );
    for s in &catalog.streams {
        assert_eq!(s.namespace.as_deref(), Some("public"), "{}", s.name);
    }
    let nullable = |schema: Value| json!({"anyOf": [schema, {"type": "null"}]});
    let accounts = &catalog.streams[0];
    assert_eq!(
        accounts.source_defined_primary_key,
        vec![vec!["id".to_string()]]
    );
    assert_eq!(
        accounts.json_schema["properties"],
        json!({
            "id": {"type": "integer"},
            "balance": {"type": "string", "format": "decimal"},
            "label": nullable(json!({"type": "string"})),
            "opened": nullable(json!({"type": "string", "format": "date-time"})),
            "tags": nullable(json!({"type": "array", "items": {"type": "string"}})),
        })
    );
    assert_eq!(accounts.json_schema["type"], "object");
    assert_eq!(accounts.json_schema["required"], json!(["id", "balance"]));
    let audit = &catalog.streams[1];
    assert!(audit.source_defined_primary_key.is_empty());
    assert_eq!(
        audit.json_schema["properties"],
        json!({
            "at": nullable(json!({"type": "string", "format": "local-date-time"})),
            "what": nullable(json!({})),
        })
    );
    let line_items = &catalog.streams[2];
    // The key's own order, not the columns'.
    assert_eq!(
        line_items.source_defined_primary_key,
        vec![vec!["line".to_string()], vec!["order_id".to_string()]]
    );
    assert_eq!(
        line_items.json_schema["properties"]["line"],
        json!({"type": "integer"})
    );
    assert_eq!(
        line_items.json_schema["properties"]["sku"],
        json!({"type": "string"})
    );

    // With the publication in place, discover lists its tables only.
    db.batch_execute("CREATE PUBLICATION discover_slot_pub FOR TABLE line_items")
        .await
        .unwrap();
    let catalog = PostgresCdcSource::default()
        .discover(&config)
        .await
        .unwrap();
    let names: Vec<&str> = catalog.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["public.line_items"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_on_a_good_server() {
    let (server, db) = pg::server().await;
    let mut config = pg::config(&server, "check_slot");
    let source = PostgresCdcSource::default();
    let result = source.check(&config).await.unwrap();
    assert!(result.is_success(), "{result:?}");
    // A check changes nothing on the server.
    let count = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT count(*) FROM pg_replication_slots").await, 0);
    assert_eq!(count("SELECT count(*) FROM pg_publication").await, 0);

    config.auto_create_publication = false;
    let result = source.check(&config).await.unwrap();
    assert!(!result.is_success());
    let message = result.message.clone().unwrap_or_default();
    assert!(message.contains("publication"), "{message}");
    assert!(message.contains("check_slot_pub"), "{message}");
    assert!(!message.contains('\n'), "not one line: {message:?}");
    let failed: Vec<&str> = result.failed_checks().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, ["publication"]);
}
