//! The in-place transform path (`Transform::transform_in_place`) keeps the
//! order of the kept events, counts drops, hands rejected events to
//! `on_error` (whole, with `keep_originals`), and gives a batch back untouched
//! to the async path when the transform has no in-place form.

use rivven_connect::runtime::TransformedBatch;
use rivven_connect::ConnectorError;
use rivven_connect_testing::prelude::*;
use serde_json::json;

fn batch(n: u64) -> Vec<SourceEvent> {
    (0..n)
        .map(|i| SourceEvent::record("s", json!({ "id": i })))
        .collect()
}

fn id(e: &SourceEvent) -> u64 {
    e.data["id"].as_u64().unwrap()
}

#[test]
fn kept_events_stay_in_order_drops_and_failures_are_counted() {
    let out = TransformedBatch::in_place(batch(10), true, |e| {
        let i = id(e);
        e.data["seen"] = json!(true);
        Some(match i {
            5 => Err(ConnectorError::data("five is rejected")),
            i => Ok(i % 3 != 0), // drop 0, 3, 6, 9
        })
    })
    .unwrap();
    assert_eq!(
        out.events.iter().map(id).collect::<Vec<_>>(),
        [1, 2, 4, 7, 8]
    );
    assert!(out.events.iter().all(|e| e.data["seen"] == json!(true)));
    assert_eq!(out.dropped, 4);
    assert_eq!(out.failures.len(), 1);
    let (error, original) = &out.failures[0];
    assert!(error.to_string().contains("five is rejected"), "{error}");
    // The original is the event as it arrived, before the transform touched it.
    assert_eq!(
        original.as_ref().map(|e| e.data.clone()),
        Some(json!({ "id": 5 }))
    );
}

#[test]
fn no_in_place_form_gives_the_batch_back_untouched() {
    let events = batch(3);
    let back = TransformedBatch::in_place(events.clone(), false, |_| None).unwrap_err();
    assert_eq!(back, events);
}

#[test]
fn a_missing_answer_after_the_first_event_rejects_that_event_whole() {
    let out =
        TransformedBatch::in_place(batch(3), false, |e| (id(e) != 1).then_some(Ok(true))).unwrap();
    assert_eq!(out.events.iter().map(id).collect::<Vec<_>>(), [0, 2]);
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].1.as_ref().map(id), Some(1));
}

/// Through the runtime: the built-in `filter` and `mask_field` take the
/// in-place path; the events written are those the async path writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_filter_and_mask_in_place_write_what_the_async_path_writes() {
    let registry = rivven_connect::registry::Registry::builtin();
    let filter = registry
        .transform("filter")
        .unwrap()
        .build(json!({"condition": "parity == 'even'"}))
        .unwrap();
    let mask = registry
        .transform("mask_field")
        .unwrap()
        .build(json!({"fields": ["secret"], "replacement": "***"}))
        .unwrap();
    let events: Vec<SourceEvent> = (0..50u64)
        .map(|i| SourceEvent::record("s", json!({ "id": i, "parity": if i % 2 == 0 { "even" } else { "odd" }, "secret": format!("s{i}") })))
        .collect();
    // One event at a time through `transform` (the async path)...
    let mut expected = Vec::new();
    for e in events.clone() {
        if let TransformOutput::Emit(e) = filter.transform(e).await.unwrap() {
            if let TransformOutput::Emit(e) = mask.transform(e).await.unwrap() {
                expected.push(e);
            }
        }
    }
    // ...and as batches (the in-place path).
    let once = filter.transform_batch(events, false).await;
    assert_eq!(once.dropped, 25);
    let twice = mask.transform_batch(once.events, false).await;
    assert_eq!(twice.events, expected);
    assert_eq!(twice.events.len(), 25);
    assert!(twice.events.iter().all(|e| e.data["secret"] == "***"));
}
