//! Retryable answers are retried as configured; permanent ones are not.

use std::time::{Duration, Instant};

use rivven_connect::{ErrorKind, Sink, SinkConfig, SourceEvent};
use rivven_connect_http::webhook::{WebhookSink, WebhookSinkConfig};
use serde_json::json;

use crate::support::*;

fn events(n: u64) -> Vec<SourceEvent> {
    (0..n)
        .map(|i| SourceEvent::record("orders", json!({"id": i})).with_position(json!(i)))
        .collect()
}

fn config(url: &str, extra: serde_json::Value) -> WebhookSinkConfig {
    let mut c = json!({"url": url, "retry": fast_retry(5)});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    WebhookSinkConfig::from_value(c).unwrap()
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_sent_again_with_the_same_key() {
    let server = Receiver::start(|n, _| {
        if n == 0 {
            Reply::RetryAfter(429, "1")
        } else {
            OK
        }
    })
    .await;
    let sink = WebhookSink::new();
    let result = sink
        .write_borrowed(&config(&server.url(), json!({})), &events(1))
        .await
        .unwrap();
    assert!(
        result.is_success() && result.records_written == 1,
        "{result:?}"
    );
    let got = server.received();
    assert_eq!(got.len(), 2);
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After: 1 honoured, waited {gap:?}"
    );
    let key = got[0].header("idempotency-key").unwrap();
    assert_eq!(
        got[1].header("idempotency-key").unwrap(),
        key,
        "a retry is a replay"
    );
}

#[tokio::test]
async fn a_burst_of_503_is_retried_until_it_passes() {
    let server = Receiver::start(|n, _| {
        if n < 3 {
            Reply::Status(503, "busy")
        } else {
            OK
        }
    })
    .await;
    let sink = WebhookSink::new();
    let result = sink
        .write_borrowed(
            &config(&server.url(), json!({"batch_size": 10})),
            &events(10),
        )
        .await
        .unwrap();
    assert_eq!(result.records_written, 10, "{result:?}");
    let got = server.received();
    assert_eq!(got.len(), 4, "three 503s, then the accepted attempt");
    assert!(got.iter().all(|r| r.ids() == (0..10).collect::<Vec<_>>()));
}

#[tokio::test]
async fn retries_stop_at_max_attempts_with_a_non_retryable_error() {
    let server = Receiver::start(|_, _| Reply::Status(503, "down for maintenance")).await;
    let sink = WebhookSink::new();
    let c = config(&server.url(), json!({"retry": fast_retry(3)}));
    let err = sink.write_borrowed(&c, &events(1)).await.unwrap_err();
    assert_eq!(server.received().len(), 3, "exactly max_attempts requests");
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert!(
        !err.is_retryable(),
        "the runtime must not multiply the attempts: {err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("503") && text.contains("down for maintenance"),
        "{text}"
    );
    assert!(text.contains("3 attempt"), "{text}");
}

#[tokio::test]
async fn a_hanging_answer_times_out_and_the_retry_succeeds() {
    let server = Receiver::start(|n, _| {
        if n == 0 {
            Reply::Hang(Duration::from_secs(10))
        } else {
            OK
        }
    })
    .await;
    let sink = WebhookSink::new();
    let started = Instant::now();
    let result = sink
        .write_borrowed(
            &config(&server.url(), json!({"timeout_secs": 1})),
            &events(1),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(result.records_written, 1);
    assert_eq!(server.received().len(), 2);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_hanging_answer_every_time_is_a_timeout_error() {
    let server = Receiver::start(|_, _| Reply::Hang(Duration::from_secs(10))).await;
    let sink = WebhookSink::new();
    let c = config(
        &server.url(),
        json!({"timeout_secs": 1, "retry": fast_retry(2)}),
    );
    let err = sink.write_borrowed(&c, &events(1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(server.received().len(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_a_connection_error() {
    let sink = WebhookSink::new();
    let c = config(&closed_url(), json!({"retry": fast_retry(2)}));
    let err = sink.write_borrowed(&c, &events(1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("2 attempt"), "{err}");
}

#[tokio::test]
async fn a_400_is_not_retried_and_fails_exactly_that_request_s_events() {
    let server = Receiver::start(|_, r| {
        if r.ids().contains(&7) {
            Reply::Status(400, "{\"error\":\"field total is required\"}")
        } else {
            OK
        }
    })
    .await;
    let sink = WebhookSink::new();
    let c = config(&server.url(), json!({"batch_size": 5}));
    let result = sink.write_borrowed(&c, &events(15)).await.unwrap();
    assert_eq!(server.received().len(), 3, "no retry of the 400");
    assert_eq!(result.records_written, 10);
    let failed: Vec<usize> = result.record_failures().map(|(i, _)| i).collect();
    assert_eq!(failed, vec![5, 6, 7, 8, 9]);
    let (_, failure) = result.record_failures().next().unwrap();
    assert_eq!(failure.kind, ErrorKind::Data);
    assert!(failure.error.contains("400"), "{}", failure.error);
    assert!(
        failure.error.contains("field total is required"),
        "{}",
        failure.error
    );
}

#[tokio::test]
async fn a_401_fails_the_write_as_auth_without_dead_lettering_the_events() {
    let server = Receiver::start(|_, _| Reply::Status(401, "who are you")).await;
    let sink = WebhookSink::new();
    let err = sink
        .write_borrowed(&config(&server.url(), json!({})), &events(2))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!err.is_retryable());
    assert_eq!(server.received().len(), 1);
}
