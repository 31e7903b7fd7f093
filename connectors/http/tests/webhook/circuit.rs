//! The circuit breaker around the endpoint opens after the threshold, lets
//! one probe through once the open period has passed, and closes on success.

use std::time::Duration;

use rivven_connect::{CircuitState, Sink, SinkConfig, SourceEvent};
use rivven_connect_http::webhook::{WebhookSink, WebhookSinkConfig};
use serde_json::json;

use crate::support::*;

fn config(url: &str) -> WebhookSinkConfig {
    WebhookSinkConfig::from_value(json!({
        "url": url,
        "retry": {"max_attempts": 10, "initial_backoff_ms": 10, "max_backoff_ms": 20},
        "circuit_breaker": {"failure_threshold": 3, "success_threshold": 1, "open_ms": 700},
    }))
    .unwrap()
}

#[tokio::test]
async fn the_circuit_opens_after_three_failures_and_half_opens_for_a_probe() {
    // 503 four times: three open the circuit, the first probe fails and
    // opens it again, the second probe passes and closes it.
    let server = Receiver::start(|n, _| {
        if n < 4 {
            Reply::Status(503, "down")
        } else {
            OK
        }
    })
    .await;
    let sink = WebhookSink::new();
    let event = vec![SourceEvent::record("s", json!({"id": 1}))];
    let result = sink
        .write_borrowed(&config(&server.url()), &event)
        .await
        .unwrap();
    assert_eq!(result.records_written, 1);
    let got = server.received();
    assert_eq!(got.len(), 5);
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps[0] < Duration::from_millis(400) && gaps[1] < Duration::from_millis(400),
        "{gaps:?}"
    );
    assert!(
        gaps[2] >= Duration::from_millis(650),
        "open: no request for open_ms: {gaps:?}"
    );
    assert!(
        gaps[3] >= Duration::from_millis(650),
        "a failed probe opens it again: {gaps:?}"
    );
    let stats = sink.circuit().unwrap();
    assert_eq!(stats.times_opened, 2, "{stats:?}");
    assert_eq!(
        stats.state,
        CircuitState::Closed,
        "the passing probe closed it"
    );
}

#[tokio::test]
async fn the_circuit_spans_requests_and_writes() {
    // Two failures in one write and one in the next open it (consecutive
    // failures over the endpoint, not per request).
    let server = Receiver::start(|n, _| match n {
        0 | 1 => Reply::Status(502, "bad gateway"),
        2 => OK,
        3..=5 => Reply::Status(500, "oops"),
        _ => OK,
    })
    .await;
    let sink = WebhookSink::new();
    let c = config(&server.url());
    let e = vec![SourceEvent::record("s", json!({"id": 1}))];
    sink.write_borrowed(&c, &e).await.unwrap();
    assert_eq!(
        sink.circuit().unwrap().times_opened,
        0,
        "a success resets the count"
    );
    sink.write_borrowed(&c, &e).await.unwrap();
    let stats = sink.circuit().unwrap();
    assert_eq!(stats.times_opened, 1, "{stats:?}");
    let got = server.received();
    assert_eq!(got.len(), 7);
    assert!(got[6].at - got[5].at >= Duration::from_millis(650));
}
