//! Retries, permanent refusals, auth, bad pages and the rate limit.

use std::time::{Duration, Instant};

use futures::StreamExt;
use rivven_connect::{ErrorKind, Source, SourceConfig};
use rivven_connect_http::rest::{RestSource, RestSourceConfig};
use rivven_connect_testing::run_source_with;
use serde_json::{json, Value};

use crate::support::*;

fn config(url: String, extra: Value) -> RestSourceConfig {
    let mut c = json!({
        "url": url,
        "interval_ms": 100000,
        "records_pointer": "/data",
        "pagination": {"type": "offset", "limit": 20},
        "cursor_field": "id",
        "retry": {"max_attempts": 4, "initial_backoff_ms": 10, "max_backoff_ms": 50},
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    RestSourceConfig::from_value(c).unwrap()
}

/// The first error of the source's stream.
async fn read_error(c: &RestSourceConfig) -> rivven_connect::ConnectorError {
    let source = RestSource::new();
    let catalog = source.discover(c).await.unwrap().configure_all();
    let mut stream = source.read(c, &catalog, None).await.unwrap();
    loop {
        match stream.next().await.unwrap() {
            Ok(_) => continue,
            Err(e) => return e,
        }
    }
}

#[tokio::test]
async fn bursts_of_503_and_a_429_with_retry_after_are_retried() {
    let api = Api::start(Options {
        fail: Box::new(|n| match n {
            2..=4 => Some((503, None)),
            6 => Some((429, Some("1"))),
            _ => None,
        }),
        ..Options::default()
    })
    .await;
    let c = config(api.url("offset"), json!({}));
    let (events, _) = run_source_with(&RestSource::new(), &c, None, Some(95))
        .await
        .unwrap();
    assert_eq!(ids(&events), (0..95).collect::<Vec<_>>());
    let hits = api.hits();
    assert_eq!(hits.len(), 1 + 5 + 3 + 1, "check, five pages, four retries");
    assert!(
        hits[7].at - hits[6].at >= Duration::from_millis(950),
        "Retry-After honoured"
    );
}

#[tokio::test]
async fn retries_stop_at_max_attempts() {
    let api = Api::start(Options {
        fail: Box::new(|n| (n >= 2).then_some((500, None))),
        ..Options::default()
    })
    .await;
    let c = config(api.url("offset"), json!({}));
    let err = read_error(&c).await;
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("4 attempt"), "{err}");
    assert_eq!(
        api.hits().len(),
        1 + 1 + 4,
        "check, the first page, four attempts at the second"
    );
}

#[tokio::test]
async fn a_404_is_permanent_and_a_page_that_is_not_json_is_a_data_error() {
    let api = Api::start(Options::default()).await;
    let err = read_error(&config(api.url("missing"), json!({}))).await;
    assert_eq!(err.kind(), ErrorKind::Data);
    assert!(
        err.to_string().contains("404") && err.to_string().contains("no such list"),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(api.hits().len(), 1, "not retried");
    let err = read_error(&config(api.url("broken"), json!({}))).await;
    assert!(err.to_string().contains("not JSON"), "{err}");
    let err = read_error(&config(
        api.url("offset"),
        json!({"records_pointer": "/data/0"}),
    ))
    .await;
    assert!(err.to_string().contains("not an array"), "{err}");
    let err = read_error(&config(api.url("offset"), json!({"cursor_field": "/nope"}))).await;
    assert!(err.to_string().contains("cursor_field"), "{err}");
}

#[tokio::test]
async fn a_bearer_token_is_sent_and_a_wrong_one_fails_check_and_read_as_auth() {
    let api = Api::start(Options {
        token: Some("api-t0ken"),
        ..Options::default()
    })
    .await;
    let good = config(
        api.url("offset"),
        json!({"auth": {"type": "bearer", "token": "api-t0ken"}}),
    );
    let (events, _) = run_source_with(&RestSource::new(), &good, None, Some(95))
        .await
        .unwrap();
    assert_eq!(events.len(), 95);
    let bad = config(
        api.url("offset"),
        json!({"auth": {"type": "bearer", "token": "wrong"}}),
    );
    let check = RestSource::new().check(&bad).await.unwrap();
    assert!(!check.is_success());
    assert!(check.summary().contains("401"), "{}", check.summary());
    let err = read_error(&bad).await;
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(!format!("{check:?}{err}").contains("api-t0ken"));
}

#[tokio::test]
async fn the_rate_limit_spaces_the_requests() {
    let api = Api::start(Options::default()).await;
    let c = config(api.url("offset"), json!({"rate_limit_per_sec": 2}));
    let started = Instant::now();
    let (events, _) = run_source_with(&RestSource::new(), &c, None, Some(95))
        .await
        .unwrap();
    assert_eq!(events.len(), 95);
    // check + 5 pages at 2/s with a burst of 2: at least 1.5 s.
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_api_fails_check_cleanly() {
    let c = config(closed_url(), json!({"timeout_secs": 2}));
    let check = RestSource::new().check(&c).await.unwrap();
    assert!(!check.is_success());
}

#[tokio::test]
async fn a_committed_cursor_of_another_type_is_an_error_not_a_skip() {
    let api = Api::start(Options::default()).await;
    let c = config(api.url("offset"), json!({}));
    let state = rivven_connect::State::builder()
        .stream_cursor("http", "id", json!("not-a-number"))
        .build();
    let source = RestSource::new();
    let catalog = source.discover(&c).await.unwrap().configure_all();
    let mut stream = source.read(&c, &catalog, Some(state)).await.unwrap();
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(err.to_string().contains("cannot be compared"), "{err}");
}

#[tokio::test]
async fn hostile_pages_are_data_errors_naming_the_problem_and_a_huge_record_is_read() {
    let api = Api::start(Options::default()).await;
    for (mode, why) in [
        ("beyond", "number out of range"),
        ("utf8", "not JSON"),
        ("deep", "recursion limit"),
    ] {
        let err = read_error(&config(api.url(mode), json!({}))).await;
        assert_eq!(err.kind(), ErrorKind::Data, "{mode}: {err}");
        assert!(err.to_string().contains(why), "{mode}: {err}");
    }
    let c = config(api.url("huge"), json!({"pagination": {"type": "none"}}));
    let (events, _) = run_source_with(&RestSource::new(), &c, None, Some(2))
        .await
        .unwrap();
    assert_eq!(
        events[0].data["v"].as_str().unwrap().len(),
        20 * 1024 * 1024
    );
    assert_eq!(ids(&events), vec![1, 2]);
}
