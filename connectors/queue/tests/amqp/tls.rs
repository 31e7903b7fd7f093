//! `amqps://` against a private RabbitMQ node whose TLS listener serves a
//! certificate from a test CA: a round trip through the sink and the
//! source (with `pika` publishing over TLS too), a broker the CA does not
//! vouch for, and a listener that requires a client certificate.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use rivven_connect::{
    ConfiguredCatalog, ErrorKind, Sink, SinkConfig, Source, SourceConfig, SourceEvent,
};
use rivven_connect_queue::amqp::{AmqpSink, AmqpSinkConfig, AmqpSource, AmqpSourceConfig};
use rivven_connect_testing::services::{test_python, RabbitMq, TestCertificates};
use serde_json::{json, Value};

use crate::support::*;

/// Publishes one persistent message with `pika` over TLS (verifying the
/// broker against `ca`), confirmed.
const PIKA_TLS: &str = r#"
import json, ssl, sys
import pika
req = json.load(sys.stdin)
ctx = ssl.create_default_context(cafile=req["ca"])
params = pika.ConnectionParameters(host="127.0.0.1", port=req["port"],
    credentials=pika.PlainCredentials(req["user"], req["password"]),
    ssl_options=pika.SSLOptions(ctx, "127.0.0.1"))
conn = pika.BlockingConnection(params)
ch = conn.channel()
ch.confirm_delivery()
ch.basic_publish(exchange="", routing_key=req["queue"], body=req["body"].encode(),
    properties=pika.BasicProperties(delivery_mode=2))
conn.close()
"#;

fn pika_tls_publish(request: Value) {
    let python = test_python(&["pika"]).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(python)
        .args(["-c", PIKA_TLS])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pika over TLS failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn config(rabbit: &RabbitMq, url: &str, tls: Value, extra: Value) -> Value {
    let mut config = json!({"url": url, "username": rabbit.user(), "password": rabbit.password(),
        "tls": tls, "connect_timeout_ms": 5000});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

/// Reads `n` events from `source` and acks each; their ids, sorted.
async fn read_ids(source: &AmqpSourceConfig, n: usize) -> Vec<u64> {
    let mut events = AmqpSource::new()
        .read(source, &ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut event = tokio::time::timeout(Duration::from_secs(15), events.next())
            .await
            .expect("a message over TLS")
            .unwrap()
            .unwrap();
        ids.push(event.data["id"].as_u64().unwrap());
        event.take_ack().unwrap().ack();
    }
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_trip_over_amqps_and_an_untrusted_broker_refused() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path(), "amqp-ca").unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = TestCertificates::generate(other_dir.path(), "other-ca").unwrap();
    let rabbit = RabbitMq::start_with_tls(&certs)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = rabbit.amqps_url().unwrap();
    assert!(url.starts_with("amqps://127.0.0.1:"));
    let tls = json!({"ca_file": certs.ca});

    let sink = AmqpSinkConfig::from_value(config(
        &rabbit,
        &url,
        tls.clone(),
        json!({"routing_key": "secure", "declare_queues": [{"name": "secure"}],
               "confirm_timeout_ms": 5000}),
    ))
    .unwrap();
    let check = AmqpSink::new().check(&sink).await.unwrap();
    assert!(check.is_success(), "{}", check.summary());
    let batch: Vec<SourceEvent> = (0..50)
        .map(|i| SourceEvent::record("s", json!({"id": i})))
        .collect();
    let written = AmqpSink::new().write_borrowed(&sink, &batch).await.unwrap();
    assert!(written.is_success(), "{written:?}");
    assert_eq!(written.records_written, 50);
    // An independent client over TLS, verifying the same CA.
    pika_tls_publish(json!({"port": rabbit.tls_port(), "user": rabbit.user(),
        "password": rabbit.password(), "ca": certs.ca, "queue": "secure", "body": r#"{"id": 50}"#}));

    let source = AmqpSourceConfig::from_value(config(
        &rabbit,
        &url,
        tls,
        json!({"queue": "secure", "declare": {"durable": true}}),
    ))
    .unwrap();
    let check = AmqpSource::new().check(&source).await.unwrap();
    assert!(check.is_success(), "{}", check.summary());
    assert_eq!(read_ids(&source, 51).await, (0..51).collect::<Vec<_>>());
    // Every message was acknowledged (seen by pika on the plain listener).
    settle(&rabbit, &["secure"], 0).await;

    // A broker whose certificate another CA signed: refused in one line,
    // a configuration error, not retried.
    let untrusting = AmqpSourceConfig::from_value(config(
        &rabbit,
        &url,
        json!({"ca_file": other.ca}),
        json!({"queue": "secure"}),
    ))
    .unwrap();
    let check = AmqpSource::new().check(&untrusting).await.unwrap();
    assert!(!check.is_success());
    let summary = check.summary();
    assert!(summary.contains("TLS handshake failed"), "{summary}");
    assert!(!summary.trim_end().contains('\n'), "one line: {summary}");
    let err = match AmqpSource::new()
        .read(&untrusting, &ConfiguredCatalog::default(), None)
        .await
    {
        Ok(_) => panic!("read through an untrusted TLS connection"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.is_retryable());

    // tls with a plain amqp:// URL is a contradiction; plain AMQP to the
    // TLS listener fails its check.
    let plain_with_tls = AmqpSinkConfig::from_value(config(
        &rabbit,
        &rabbit.url(),
        json!({"ca_file": certs.ca}),
        json!({}),
    ))
    .unwrap();
    let check = AmqpSink::new().check(&plain_with_tls).await.unwrap();
    assert!(
        check.summary().contains("use amqps://"),
        "{}",
        check.summary()
    );
    let plain = AmqpSinkConfig::from_value(json!({
        "url": format!("amqp://127.0.0.1:{}/%2f", rabbit.tls_port().unwrap()),
        "connect_timeout_ms": 3000
    }))
    .unwrap();
    assert!(!AmqpSink::new().check(&plain).await.unwrap().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_requiring_client_certificates_takes_ours_and_refuses_none() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path(), "amqp-mtls-ca").unwrap();
    let (client_cert, client_key) = certs.client_certificate().unwrap();
    let rabbit = RabbitMq::builder()
        .tls(&certs.cert, &certs.key)
        .tls_client_ca(&certs.ca)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = rabbit.amqps_url().unwrap();
    let mutual = json!({"ca_file": certs.ca, "client_cert_file": client_cert,
                        "client_key_file": client_key});
    let sink = AmqpSinkConfig::from_value(config(
        &rabbit,
        &url,
        mutual.clone(),
        json!({"routing_key": "mtls", "declare_queues": [{"name": "mtls"}]}),
    ))
    .unwrap();
    let batch: Vec<SourceEvent> = (0..10)
        .map(|i| SourceEvent::record("s", json!({"id": i})))
        .collect();
    let written = AmqpSink::new().write_borrowed(&sink, &batch).await.unwrap();
    assert!(written.is_success(), "{written:?}");
    let source =
        AmqpSourceConfig::from_value(config(&rabbit, &url, mutual, json!({"queue": "mtls"})))
            .unwrap();
    assert_eq!(read_ids(&source, 10).await, (0..10).collect::<Vec<_>>());

    // Without a client certificate the broker ends the handshake: with its
    // `certificate required` alert, or (when it closes before the client has
    // read the alert, as happens on a loaded machine) with a reset.
    let anonymous = AmqpSourceConfig::from_value(config(
        &rabbit,
        &url,
        json!({"ca_file": certs.ca}),
        json!({"queue": "mtls"}),
    ))
    .unwrap();
    let check = AmqpSource::new().check(&anonymous).await.unwrap();
    assert!(!check.is_success());
    let summary = check.summary();
    assert!(
        (summary.contains("TLS handshake failed") && summary.contains("CertificateRequired"))
            || summary.contains("Connection reset by peer"),
        "{summary}"
    );
}
