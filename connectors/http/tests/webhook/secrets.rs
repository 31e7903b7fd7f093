//! Secrets (header values, the signing secret, a token in the URL's query)
//! appear in no log line, error, dead letter or Debug output — while the
//! receiver gets them and verifies the signature.

use std::io::Write;
use std::sync::{Arc, Mutex};

use rivven_connect::runtime::OnError;
use rivven_connect::{Sink, SinkConfig};
use rivven_connect_http::webhook::{WebhookSink, WebhookSinkConfig};
use rivven_connect_testing::{MockConfig, MockSink, MockSource, TestHarness};
use serde_json::json;

use crate::dead_letter::settings;
use crate::support::*;

const TOKEN: &str = "tok-S3CRET-bearer";
const HMAC: &str = "hm-S3CRET-signing";
const QUERY: &str = "q-S3CRET-query";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_clean(what: &str, text: &str) {
    for secret in [TOKEN, HMAC, QUERY] {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

// One thread, so the thread's subscriber sees every task's events.
#[tokio::test(flavor = "current_thread")]
async fn secrets_are_absent_from_logs_errors_and_dead_letters() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = Receiver::start_signed(Some(HMAC.as_bytes()), |n, r| {
        if n < 2 {
            Reply::Status(503, "warming up")
        } else if r.ids().contains(&5) {
            Reply::Status(400, "refused")
        } else {
            OK
        }
    })
    .await;
    let config = WebhookSinkConfig::from_value(json!({
        "url": format!("{}?token={QUERY}", server.url()),
        "headers": {"Authorization": format!("Bearer {TOKEN}"), "X-Api-Key": TOKEN},
        "signature": {"secret": HMAC},
        "retry": fast_retry(5),
    }))
    .unwrap();
    // The URL is configuration, not a secret (credentials go in `headers`):
    // its query is kept out of logs and errors, not out of the config.
    for shown in [
        format!("{config:?}"),
        serde_json::to_string(&config).unwrap(),
    ] {
        assert!(!shown.contains(TOKEN) && !shown.contains(HMAC), "{shown}");
    }
    let dead = MockSink::new();
    let harness = TestHarness::with_configs(
        MockSource::counting(20),
        MockConfig::default(),
        WebhookSink::new(),
        config,
    )
    .with_dead_letter(dead.clone(), MockConfig::default())
    .with_settings(settings(OnError::DeadLetter));
    let result = harness.run_pipeline().await.unwrap();
    assert!(result.success, "{result:?}");
    assert_eq!((result.events_written, result.dead_lettered), (19, 1));
    assert_clean("the result", &format!("{result:?}"));
    assert_clean(
        "the dead letters",
        &serde_json::to_string(&dead.written_events()).unwrap(),
    );

    // The receiver got them: every accepted request was signed correctly.
    let accepted = server.accepted();
    assert_eq!(accepted.len(), 19);
    for r in &accepted {
        assert_eq!(
            r.header("authorization").unwrap(),
            format!("Bearer {TOKEN}")
        );
    }

    // A failing write's error, and a check against a refused endpoint.
    let bad = WebhookSinkConfig::from_value(json!({
        "url": format!("{}?token={QUERY}", closed_url()),
        "headers": {"Authorization": format!("Bearer {TOKEN}")},
        "retry": fast_retry(2),
    }))
    .unwrap();
    let sink = WebhookSink::new();
    let err = sink
        .write_borrowed(
            &bad,
            &[rivven_connect::SourceEvent::record("s", json!({"id": 1}))],
        )
        .await
        .unwrap_err();
    assert_clean("a write error", &err.to_string());
    let check = sink.check(&bad).await.unwrap();
    assert!(!check.is_success());
    assert_clean("a failed check", &format!("{check:?}"));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "the retries were logged: {logs}");
    assert!(logs.contains("refused"), "the refusal was logged");
    assert_clean("the logs", &logs);
}
