//! TLS against a private nats-server that requires it, with a certificate
//! from a test CA: a JetStream round trip through the sink and the source
//! (nats-py reading back over TLS too), a server the CA does not vouch
//! for, and a server that requires client certificates.

use std::time::Duration;

use futures::StreamExt;
use rivven_connect::{
    ConfiguredCatalog, ErrorKind, Sink, SinkConfig, Source, SourceConfig, SourceEvent,
};
use rivven_connect_queue::nats::{NatsSink, NatsSinkConfig, NatsSource, NatsSourceConfig};
use rivven_connect_testing::services::{Nats, TestCertificates};
use serde_json::{json, Value};

use crate::support::*;

/// Reads every message of a stream with nats-py over TLS (argv: URL, CA,
/// stream); a JSON payload per line.
const READ_BACK_TLS: &str = r#"
import asyncio, ssl, sys
import nats

async def main():
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    nc = await nats.connect(sys.argv[1], tls=ctx, tls_hostname="127.0.0.1")
    js = nc.jetstream()
    info = await js.stream_info(sys.argv[3])
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        m = await js.get_msg(sys.argv[3], seq)
        print(m.data.decode())
    await nc.close()

asyncio.run(main())
"#;

fn read_back_tls(nats: &Nats, ca: &std::path::Path, stream: &str) -> Vec<Value> {
    let python =
        rivven_connect_testing::services::test_python(&["nats"]).unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(python)
        .args(["-c", READ_BACK_TLS, &nats.url()])
        .arg(ca)
        .arg(stream)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nats-py over TLS failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn with(mut config: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

/// Writes ids `0..n` through the sink (creating stream `stream` on
/// `<subject>`) and reads them back through the source, acking each.
async fn round_trip(nats: &Nats, tls: Value, stream: &str, subject: &str, n: u64) -> Vec<u64> {
    let sink = NatsSinkConfig::from_value(with(
        sink_json(nats, subject),
        json!({"tls": tls, "create_stream": {"name": stream, "subjects": [subject]}}),
    ))
    .unwrap();
    let check = NatsSink::new().check(&sink).await.unwrap();
    assert!(check.is_success(), "{}", check.summary());
    let batch: Vec<SourceEvent> = (0..n)
        .map(|i| SourceEvent::record("s", json!({"id": i})))
        .collect();
    let written = NatsSink::new().write_borrowed(&sink, &batch).await.unwrap();
    assert!(written.is_success(), "{written:?}");
    let source =
        NatsSourceConfig::from_value(with(source_json(nats, stream), json!({"tls": tls}))).unwrap();
    let check = NatsSource::new().check(&source).await.unwrap();
    assert!(check.is_success(), "{}", check.summary());
    let mut events = NatsSource::new()
        .read(&source, &ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..n {
        let mut event = tokio::time::timeout(Duration::from_secs(10), events.next())
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
async fn a_jetstream_round_trip_over_tls_and_an_untrusted_server_refused() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path(), "nats-ca").unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = TestCertificates::generate(other_dir.path(), "other-ca").unwrap();
    let nats = Nats::start_with_tls(&certs)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(nats.url().starts_with("tls://127.0.0.1:"));
    let ids = round_trip(&nats, json!({"ca_file": certs.ca}), "SECURE", "secure", 40).await;
    assert_eq!(ids, (0..40).collect::<Vec<_>>());
    // An independent client over TLS reads back what the sink stored.
    let back = read_back_tls(&nats, &certs.ca, "SECURE");
    assert_eq!(back.len(), 40);
    assert_eq!(back[7], json!({"id": 7}));

    // A server whose certificate another CA signed: refused in one line,
    // a configuration error, not retried.
    let untrusting = NatsSourceConfig::from_value(with(
        source_json(&nats, "SECURE"),
        json!({"tls": {"ca_file": other.ca}}),
    ))
    .unwrap();
    let check = NatsSource::new().check(&untrusting).await.unwrap();
    assert!(!check.is_success());
    let summary = check.summary();
    assert!(summary.contains("TLS failed"), "{summary}");
    assert!(summary.contains("UnknownIssuer"), "{summary}");
    assert!(!summary.trim_end().contains('\n'), "one line: {summary}");
    let err = match NatsSource::new()
        .read(&untrusting, &ConfiguredCatalog::default(), None)
        .await
    {
        Ok(_) => panic!("read through an untrusted TLS connection"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.is_retryable());

    // `nats://` with tls options still requires TLS (and gets it: the
    // server offers it after its INFO); without them the server's demand
    // for TLS cannot be met with a verified certificate.
    let port = nats.port();
    let plain_url = format!("nats://127.0.0.1:{port}");
    let sink = NatsSinkConfig::from_value(json!({
        "url": plain_url, "subject": "secure", "tls": {"ca_file": certs.ca},
        "connect_timeout_ms": 2000
    }))
    .unwrap();
    let check = NatsSink::new().check(&sink).await.unwrap();
    assert!(check.is_success(), "{}", check.summary());
    let sink = NatsSinkConfig::from_value(json!({
        "url": plain_url, "subject": "secure", "connect_timeout_ms": 2000
    }))
    .unwrap();
    assert!(!NatsSink::new().check(&sink).await.unwrap().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_requiring_client_certificates_takes_ours_and_refuses_none() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path(), "nats-mtls-ca").unwrap();
    let (client_cert, client_key) = certs.client_certificate().unwrap();
    let nats = Nats::start_with_mutual_tls(&certs, &certs.ca)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mutual = json!({"ca_file": certs.ca, "client_cert_file": client_cert,
                        "client_key_file": client_key});
    let ids = round_trip(&nats, mutual, "MTLS", "mtls", 10).await;
    assert_eq!(ids, (0..10).collect::<Vec<_>>());

    let anonymous = NatsSourceConfig::from_value(with(
        source_json(&nats, "MTLS"),
        json!({"tls": {"ca_file": certs.ca}}),
    ))
    .unwrap();
    let check = NatsSource::new().check(&anonymous).await.unwrap();
    assert!(!check.is_success());
    assert!(
        check.summary().contains("TLS failed") && check.summary().contains("BadCertificate"),
        "{}",
        check.summary()
    );
}
