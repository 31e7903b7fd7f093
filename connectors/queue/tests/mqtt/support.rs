//! Shared helpers: the broker, the independent Mosquitto clients, configs.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use rivven_connect::{SinkConfig, SourceConfig, SourceEvent};
use rivven_connect_queue::mqtt::{MqttSinkConfig, MqttSourceConfig};
use rivven_connect_testing::services::Mosquitto;
use serde_json::{json, Value};

pub async fn broker() -> Mosquitto {
    Mosquitto::start().await.unwrap_or_else(|e| panic!("{e}"))
}

/// A `mqtt://host:port` on which nothing listens.
pub fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("mqtt://127.0.0.1:{port}")
}

pub fn source_json(broker: &Mosquitto, topics: &[&str], client_id: &str) -> Value {
    json!({"broker_url": broker.url(), "topics": topics, "client_id": client_id,
           "retry_initial_ms": 50, "retry_max_ms": 500})
}

pub fn source_config(broker: &Mosquitto, topics: &[&str], client_id: &str) -> MqttSourceConfig {
    MqttSourceConfig::from_value(source_json(broker, topics, client_id)).unwrap()
}

pub fn sink_json(broker: &Mosquitto, topic: &str) -> Value {
    json!({"broker_url": broker.url(), "topic": topic, "write_timeout_ms": 5000})
}

pub fn sink_config(broker: &Mosquitto, topic: &str) -> MqttSinkConfig {
    MqttSinkConfig::from_value(sink_json(broker, topic)).unwrap()
}

/// Publish each line of `payloads` with `mosquitto_pub -l` (one connection)
/// at QoS 1.
pub fn publish(broker: &Mosquitto, topic: &str, payloads: &[String]) {
    let mut child = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args(["-t", topic, "-q", "1", "-l"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("mosquitto_pub (Debian package mosquitto-clients)");
    {
        let stdin = child.stdin.as_mut().unwrap();
        for p in payloads {
            writeln!(stdin, "{p}").unwrap();
        }
    }
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success(), "mosquitto_pub failed");
}

/// `{"id": i}` payloads.
pub fn ids_payloads(ids: std::ops::Range<u64>) -> Vec<String> {
    ids.map(|i| json!({"id": i}).to_string()).collect()
}

/// Count of each `data.id` in `events`.
pub fn id_counts(events: &[SourceEvent]) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        *counts.entry(e.data["id"].as_u64().unwrap()).or_default() += 1;
    }
    counts
}

/// `mosquitto_sub -v` for `count` messages on `filter` (started, then
/// given time to subscribe); `finish` returns `(topic, payload)` pairs.
pub struct Subscriber(std::process::Child);

impl Subscriber {
    pub async fn start(broker: &Mosquitto, filter: &str, count: usize) -> Self {
        let child = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
            .args([
                "-t",
                filter,
                "-q",
                "1",
                "-v",
                "-C",
                &count.to_string(),
                "-W",
                "30",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("mosquitto_sub (Debian package mosquitto-clients)");
        tokio::time::sleep(Duration::from_millis(500)).await;
        Self(child)
    }

    pub fn finish(self) -> Vec<(String, String)> {
        let out = self.0.wait_with_output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (t, p) = l.split_once(' ').unwrap_or((l, ""));
                (t.to_owned(), p.to_owned())
            })
            .collect()
    }
}
