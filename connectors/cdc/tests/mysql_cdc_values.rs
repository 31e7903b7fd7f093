//! Every MySQL/MariaDB type the source maps: the same JSON from the
//! snapshot (binary protocol) and the stream (row images), and the
//! expected JSON for each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/my.rs"]
mod my;

use mysql_async::prelude::Queryable;
use rivven_connect::runtime::MemoryOffsetStore;
use rivven_connect_testing::MockSink;
use serde_json::{json, Value};

const TABLE: &str = "CREATE TABLE v (
    id int PRIMARY KEY,
    ti tinyint, tiu tinyint unsigned, si smallint, siu smallint unsigned,
    mi mediumint, miu mediumint unsigned, i int, iu int unsigned, bi bigint, biu bigint unsigned,
    de decimal(30,10), dn decimal(5,2), f float, d double, b1 bit(1), b12 bit(12), b64 bit(64),
    e enum('small','medium','large'), s set('a','b','c'),
    y year, dt date, t time, t3 time(3), dtm datetime, dtm6 datetime(6), ts timestamp(2) NULL,
    j json, c char(5), vc varchar(300), tx text, lat varchar(10) CHARACTER SET latin1,
    bn binary(4), vb varbinary(8), bl blob, g geometry, n int
) ENGINE=InnoDB";

const ROW: &str = "-128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
    -9223372036854775808, 18446744073709551615,
    '-12345678901234567890.0123456789', 0.5, 1.1, 2.2250738585072014e-308, b'1', b'101010101010', b'1111111111111111111111111111111111111111111111111111111111111111',
    'medium', 'a,c',
    2024, '2024-02-29', '-838:59:59', '12:34:56.789', '1999-12-31 23:59:59', '2000-01-01 00:00:00.000001', '2038-01-19 03:14:07.99',
    '{\"k\": [1, 2.5, \"x\", null, true]}', 'ab', REPEAT('é', 300), 'text 𝄞', 'café',
    x'0102', x'00ff', x'deadbeef', ST_GeomFromText('POINT(1 2)'), NULL";

fn expected() -> Value {
    json!({
        "ti": -128, "tiu": 255, "si": -32768, "siu": 65535, "mi": -8388608, "miu": 16777215,
        "i": -2147483648_i64, "iu": 4294967295_u64, "bi": i64::MIN, "biu": u64::MAX,
        "de": "-12345678901234567890.0123456789", "dn": "0.50", "f": 1.1, "d": 2.2250738585072014e-308,
        "b1": 1, "b12": 0b101010101010, "b64": u64::MAX,
        "e": "medium", "s": "a,c",
        "y": 2024, "dt": "2024-02-29", "t": "-838:59:59", "t3": "12:34:56.789",
        "dtm": "1999-12-31T23:59:59", "dtm6": "2000-01-01T00:00:00.000001", "ts": "2038-01-19T03:14:07.99Z",
        "j": {"k": [1, 2.5, "x", null, true]}, "c": "ab", "vc": "é".repeat(300), "tx": "text 𝄞", "lat": "café",
        "bn": "AQIAAA==", "vb": "AP8=", "bl": "3q2+7w==",
        "g": "AQEAAAAAAAAAAADwPwAAAAAAAABA", "n": null,
    })
}

fn without_id(v: &Value) -> Value {
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove("id");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_has_the_same_json_from_snapshot_and_stream() {
    let (server, mut db) = my::server().await;
    db.query_drop("SET time_zone = '+00:00'").await.unwrap();
    db.query_drop(TABLE).await.unwrap();
    db.query_drop(format!("INSERT INTO v VALUES (1, {ROW})"))
        .await
        .unwrap();
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = my::run(my::config(&server), &sink, &store).await;
    my::wait_for(&sink, 1).await;
    db.query_drop(format!("INSERT INTO v VALUES (2, {ROW})"))
        .await
        .unwrap();
    db.query_drop(
        "INSERT INTO v (id, dt, dtm, ts) VALUES (3, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00')",
    )
    .await
    .unwrap();
    let events = my::wait_for(&sink, 3).await;
    let snap = &events[0].data;
    let stream = &events[1].data;
    assert_eq!(snap["op"], "r");
    assert_eq!(stream["op"], "c");
    for (k, v) in without_id(&snap["after"]).as_object().unwrap() {
        assert_eq!(&stream["after"][k], v, "stream vs snapshot, column {k}");
    }
    assert_eq!(without_id(&stream["after"]), without_id(&snap["after"]));
    let want = expected();
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&snap["after"][k], v, "column {k}");
    }
    let zero = &events[2].data["after"];
    assert_eq!(zero["dt"], "0000-00-00");
    assert_eq!(zero["dtm"], "0000-00-00T00:00:00");
    assert_eq!(zero["ts"], "0000-00-00T00:00:00.00Z");
    runtime.shutdown(std::time::Duration::from_secs(10)).await;
}

/// Fails before the fix: a valid MariaDB JSON document with a number beyond
/// `f64` (`1e400`) was a data error (a bad record), and an integer beyond
/// `u64` was rounded. Both are kept as their exact text, from the snapshot
/// and the stream alike, as `postgres-cdc` does for `jsonb`; a 4 MiB
/// document and a 4 MiB text value arrive whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_beyond_f64_and_huge_values_arrive_exactly() {
    let (server, mut db) = my::server().await;
    db.query_drop("CREATE TABLE h (id int PRIMARY KEY, j json, t longtext)")
        .await
        .unwrap();
    let big = format!("[{}1]", "1234567890,".repeat(400_000));
    let rows = |base: i32| {
        format!(
            "INSERT INTO h VALUES ({}, '{{\"a\": 1e400}}', NULL), ({}, '{{\"n\": 18446744073709551616}}', NULL), ({}, '{big}', REPEAT('x', 4194304))",
            base + 1,
            base + 2,
            base + 3
        )
    };
    db.query_drop("SET GLOBAL max_allowed_packet = 67108864")
        .await
        .unwrap();
    let mut db = my::connect(&server, "shop").await;
    db.query_drop(rows(0)).await.unwrap();
    let (sink, store) = (MockSink::new(), MemoryOffsetStore::new());
    let runtime = my::run(my::config(&server), &sink, &store).await;
    my::wait_for(&sink, 3).await;
    db.query_drop(rows(10)).await.unwrap();
    let events = my::wait_for(&sink, 6).await;
    for (i, e) in events.iter().enumerate() {
        let after = &e.data["after"];
        let (op, id) = (&e.data["op"], after["id"].as_i64().unwrap());
        assert_eq!(op, if i < 3 { "r" } else { "c" });
        match id % 10 {
            1 => assert_eq!(after["j"], json!(r#"{"a": 1e400}"#), "id {id}"),
            2 => assert_eq!(
                after["j"],
                json!(r#"{"n": 18446744073709551616}"#),
                "id {id}"
            ),
            _ => {
                assert_eq!(
                    after["j"].as_array().map(Vec::len),
                    Some(400_001),
                    "id {id}"
                );
                assert_eq!(
                    after["t"].as_str().map(str::len),
                    Some(4_194_304),
                    "id {id}"
                );
            }
        }
    }
    runtime.shutdown(std::time::Duration::from_secs(10)).await;
}
