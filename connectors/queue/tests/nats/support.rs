//! Shared helpers: the server, the independent client (nats-py), configs.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use async_nats::jetstream;
use rivven_connect::{SinkConfig, SourceConfig, SourceEvent};
use rivven_connect_queue::nats::{NatsSinkConfig, NatsSourceConfig};
use rivven_connect_testing::services::{test_python, Nats};
use serde_json::{json, Value};

pub async fn server() -> Nats {
    Nats::start().await.unwrap_or_else(|e| panic!("{e}"))
}

/// A `nats://host:port` on which nothing listens.
pub fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("nats://127.0.0.1:{port}")
}

/// Creates stream `name` on `subjects` (file storage), with async-nats.
pub async fn create_stream(nats: &Nats, name: &str, subjects: &[&str]) {
    let client = async_nats::connect(nats.url()).await.unwrap();
    jetstream::new(client)
        .create_stream(jetstream::stream::Config {
            name: name.into(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
}

pub fn source_json(nats: &Nats, stream: &str) -> Value {
    json!({"url": nats.url(), "stream": stream, "fetch_expires_ms": 300,
           "retry_initial_ms": 50, "retry_max_ms": 500, "connect_timeout_ms": 2000})
}

pub fn source_config(nats: &Nats, stream: &str) -> NatsSourceConfig {
    NatsSourceConfig::from_value(source_json(nats, stream)).unwrap()
}

pub fn sink_json(nats: &Nats, subject: &str) -> Value {
    json!({"url": nats.url(), "subject": subject, "request_timeout_ms": 3000,
           "retry_initial_ms": 50, "retry_max_ms": 500, "connect_timeout_ms": 2000})
}

pub fn sink_config(nats: &Nats, subject: &str) -> NatsSinkConfig {
    NatsSinkConfig::from_value(sink_json(nats, subject)).unwrap()
}

/// Runs `script` with the venv's Python (nats-py), `input` on stdin and
/// the server URL as `sys.argv[1]`; its stdout.
pub fn python(nats: &Nats, script: &str, input: &str) -> String {
    let python = test_python(&["nats"]).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(python)
        .args(["-c", script, &nats.url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const PUBLISH: &str = r#"
import asyncio, base64, json, sys
import nats

async def main():
    nc = await nats.connect(sys.argv[1])
    js = nc.jetstream()
    for line in sys.stdin:
        m = json.loads(line)
        await js.publish(m["subject"], base64.b64decode(m["payload"]), headers=m.get("headers") or None)
    await nc.close()

asyncio.run(main())
"#;

/// Publishes each `(subject, payload, headers)` to JetStream with nats-py,
/// awaiting each ack.
pub fn publish(nats: &Nats, messages: &[(String, Vec<u8>, BTreeMap<String, String>)]) {
    use base64::Engine;
    let input: String = messages
        .iter()
        .map(|(subject, payload, headers)| {
            let payload = base64::engine::general_purpose::STANDARD.encode(payload);
            format!(
                "{}\n",
                json!({"subject": subject, "payload": payload, "headers": headers})
            )
        })
        .collect();
    python(nats, PUBLISH, &input);
}

/// `{"id": i}` payloads on `subject`, no headers.
pub fn publish_ids(nats: &Nats, subject: &str, ids: std::ops::Range<u64>) {
    let messages: Vec<_> = ids
        .map(|i| {
            (
                subject.to_string(),
                json!({"id": i}).to_string().into_bytes(),
                BTreeMap::new(),
            )
        })
        .collect();
    publish(nats, &messages);
}

const READ_BACK: &str = r#"
import asyncio, base64, json, sys
import nats

async def main():
    nc = await nats.connect(sys.argv[1])
    js = nc.jetstream()
    stream = sys.stdin.read().strip()
    info = await js.stream_info(stream)
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        m = await js.get_msg(stream, seq)
        print(json.dumps({"subject": m.subject, "payload": base64.b64encode(m.data or b"").decode(),
                          "headers": dict(m.headers or {})}))
    await nc.close()

asyncio.run(main())
"#;

/// Every message of `stream`, read back with nats-py: (subject, payload, headers).
pub fn read_back(nats: &Nats, stream: &str) -> Vec<(String, Vec<u8>, BTreeMap<String, String>)> {
    use base64::Engine;
    python(nats, READ_BACK, stream)
        .lines()
        .map(|line| {
            let m: Value = serde_json::from_str(line).unwrap();
            let headers = m["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            (
                m["subject"].as_str().unwrap().to_owned(),
                base64::engine::general_purpose::STANDARD
                    .decode(m["payload"].as_str().unwrap())
                    .unwrap(),
                headers,
            )
        })
        .collect()
}

/// Count of each `data.id` in `events`.
pub fn id_counts(events: &[SourceEvent]) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        *counts.entry(e.data["id"].as_u64().unwrap()).or_default() += 1;
    }
    counts
}

/// The durable consumer's unacked and not-yet-delivered counts.
pub async fn consumer_pending(nats: &Nats, stream: &str, durable: &str) -> (usize, u64) {
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = jetstream::new(client);
    let mut consumer: jetstream::consumer::PullConsumer = js
        .get_stream(stream)
        .await
        .unwrap()
        .get_consumer(durable)
        .await
        .unwrap();
    let info = consumer.info().await.unwrap();
    (info.num_ack_pending, info.num_pending)
}
