//! Hostile events round-trip sink → broker → source exactly.

use rivven_connect_broker::rivven::{RivvenSink, RivvenSource};
use rivven_connect_testing::run_source_with;
use serde_json::json;

use rivven_connect::SourceEvent;

use crate::support::*;

fn hostile_events() -> Vec<SourceEvent> {
    let mut deep = json!({"leaf": true});
    // 600 levels: beyond serde_json's default limit of 128.
    for _ in 0..300 {
        deep = json!({"d": [deep]});
    }
    let cases = vec![
        json!({"id": 0, "u64": u64::MAX, "i64": i64::MIN, "f64": f64::MAX, "tiny": 5e-324}),
        // A number beyond f64 reaches the SDK as its exact text.
        json!({"id": 1, "beyond_f64": "1e400", "document": r#"{"a": 1e400, "b": 18446744073709551616}"#}),
        json!({"id": 2, "deep": deep}),
        json!({"id": 3, "blob": "é".repeat(800 * 1024)}),
        json!({"id": 4, "replaced": String::from_utf8_lossy(b"ok \xff\xfe bytes"), "nul": "a\u{0}b", "emoji": "🦀", "quote": "\"]}"}),
        json!({"id": 5, "key_is_a_number": true}),
    ];
    cases
        .into_iter()
        .enumerate()
        .map(|(i, data)| {
            let mut event = SourceEvent::record("hostile", data);
            event.key = Some(match i {
                5 => json!(12345678901234567890u64),
                4 => json!({"composite": ["a", 1]}),
                _ => json!(format!("k{i}")),
            });
            event
        })
        .collect()
}

#[tokio::test]
async fn hostile_payloads_round_trip_exactly() {
    let broker = broker().await;
    let servers = broker.bootstrap_servers();
    let events = hostile_events();
    let size: usize = events
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap().len())
        .sum();
    assert!(
        size > 1024 * 1024,
        "the batch should hold a record over 1 MiB ({size})"
    );
    write_all(
        &RivvenSink::new(),
        &sink_config(&servers, "hostile"),
        &events,
    )
    .await;

    let config = source_config(&servers, "hostile", "hostile");
    let (read, _) = run_source_with(&RivvenSource::new(), &config, None, Some(events.len()))
        .await
        .unwrap();
    assert_eq!(read.len(), events.len());
    for mut got in read {
        got.metadata.state = None;
        let id = got.data["id"].as_u64().unwrap() as usize;
        assert!(
            got == events[id],
            "event {id} changed on its way through the broker"
        );
    }
}
