//! What goes on the wire: methods, bodies of each format, gzip above the
//! threshold, idempotency keys that survive a replay, hostile records.

use rivven_connect::{Sink, SinkConfig, SourceEvent};
use rivven_connect_http::webhook::{WebhookSink, WebhookSinkConfig};
use serde_json::{json, Value};

use crate::support::*;

fn events(n: u64) -> Vec<SourceEvent> {
    (0..n)
        .map(|i| SourceEvent::record("orders", json!({"id": i})).with_position(json!({"lsn": i})))
        .collect()
}

async fn write(
    server: &Receiver,
    extra: Value,
    events: &[SourceEvent],
) -> rivven_connect::WriteResult {
    let mut c = json!({"url": server.url(), "retry": fast_retry(2)});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    let config = WebhookSinkConfig::from_value(c).unwrap();
    WebhookSink::new()
        .write_borrowed(&config, events)
        .await
        .unwrap()
}

#[tokio::test]
async fn batch_size_one_sends_each_event_s_data_alone() {
    let server = Receiver::start(|_, _| OK).await;
    let result = write(&server, json!({"method": "PUT"}), &events(3)).await;
    assert_eq!(result.records_written, 3);
    let got = server.received();
    assert_eq!(got.len(), 3);
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.method, "PUT");
        assert_eq!(r.json(), json!({"id": i}));
        assert_eq!(r.header("content-type").unwrap(), "application/json");
    }
}

#[tokio::test]
async fn batches_are_json_arrays_or_json_lines() {
    let server = Receiver::start(|_, _| OK).await;
    write(&server, json!({"batch_size": 4}), &events(10)).await;
    let sizes: Vec<usize> = server.received().iter().map(|r| r.ids().len()).collect();
    assert_eq!(sizes, vec![4, 4, 2]);

    let lines = Receiver::start(|_, _| OK).await;
    write(
        &lines,
        json!({"batch_size": 5, "format": "jsonl"}),
        &events(5),
    )
    .await;
    let got = lines.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("content-type").unwrap(),
        "application/x-ndjson"
    );
    let text = String::from_utf8(got[0].body.clone()).unwrap();
    let docs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs, (0..5).map(|i| json!({"id": i})).collect::<Vec<_>>());
}

#[tokio::test]
async fn bodies_above_the_threshold_are_gzipped() {
    let server = Receiver::start(|_, _| OK).await;
    let mut batch = vec![SourceEvent::record(
        "s",
        json!({"id": 0, "pad": "x".repeat(50_000)}),
    )];
    batch.push(SourceEvent::record("s", json!({"id": 1})));
    write(&server, json!({"gzip_min_bytes": 1024}), &batch).await;
    let got = server.received();
    assert_eq!(got[0].header("content-encoding").as_deref(), Some("gzip"));
    assert!(got[0].wire_len < 5_000, "compressed: {}", got[0].wire_len);
    assert_eq!(got[0].json()["pad"].as_str().unwrap().len(), 50_000);
    assert_eq!(
        got[1].header("content-encoding"),
        None,
        "small bodies go as they are"
    );
}

#[tokio::test]
async fn the_idempotency_key_is_the_same_for_a_replay_and_differs_between_requests() {
    let server = Receiver::start(|_, _| OK).await;
    let batch = events(6);
    write(&server, json!({"batch_size": 2}), &batch).await;
    write(&server, json!({"batch_size": 2}), &batch).await;
    let keys: Vec<String> = server
        .received()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap())
        .collect();
    assert_eq!(keys.len(), 6);
    assert_eq!(keys[..3], keys[3..], "a replay carries the same keys");
    assert!(keys[0] != keys[1] && keys[1] != keys[2]);

    let none = Receiver::start(|_, _| OK).await;
    write(&none, json!({"idempotency_header": null}), &events(1)).await;
    assert_eq!(none.received()[0].header("idempotency-key"), None);
}

#[tokio::test]
async fn the_receiver_verifies_the_signature_of_plain_and_gzipped_bodies() {
    let server = Receiver::start_signed(Some(b"shared-secret"), |_, _| OK).await;
    let config = WebhookSinkConfig::from_value(json!({
        "url": server.url(),
        "batch_size": 50,
        "gzip_min_bytes": 200,
        "signature": {"secret": "shared-secret"},
    }))
    .unwrap();
    let sink = WebhookSink::new();
    let result = sink.write_borrowed(&config, &events(60)).await.unwrap();
    assert!(result.is_success(), "{result:?}");
    let got = server.received();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.answered == 200), "signatures verified");
    assert_eq!(got[0].header("content-encoding").as_deref(), Some("gzip"));

    // The wrong secret: the receiver refuses (401) and the write fails as Auth.
    let wrong = WebhookSinkConfig::from_value(json!({
        "url": server.url(),
        "signature": {"secret": "not-the-secret"},
    }))
    .unwrap();
    let err = WebhookSink::new()
        .write_borrowed(&wrong, &events(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), rivven_connect::ErrorKind::Auth, "{err}");
}

#[tokio::test]
async fn hostile_records_are_sent_intact() {
    let server = Receiver::start(|_, _| OK).await;
    let mut deep = json!("bottom");
    for _ in 0..300 {
        deep = json!([deep]);
    }
    let huge = "é".repeat(4 * 1024 * 1024);
    let batch = vec![
        SourceEvent::record("s", json!({"deep": deep})),
        SourceEvent::record("s", json!({"huge": huge})),
        SourceEvent::record(
            "s",
            json!({"text": "\u{0000}\u{fffd}\"\\<script>", "n": u64::MAX, "f": f64::MAX}),
        ),
        // The source read 1e400 as text: it goes as text.
        SourceEvent::record("s", json!("{\"v\": 1e400}")),
    ];
    let result = write(&server, json!({"timeout_secs": 60}), &batch).await;
    assert_eq!(result.records_written, 4);
    let got = server.received();
    // Deeper than serde_json's default limit: compare the bytes.
    let expected = serde_json::to_vec(&batch[0].data).unwrap();
    assert_eq!(got[0].body, expected);
    assert_eq!(got[1].json()["huge"].as_str().unwrap().len(), huge.len());
    assert_eq!(got[2].json(), batch[2].data);
    assert_eq!(got[3].json(), json!("{\"v\": 1e400}"));
}
