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

/// An independent rumqttc subscriber (QoS 1, clean session) that records
/// the `id` of every payload it receives, in order, and subscribes again
/// after each reconnection (a broker killed and restarted).
pub struct IdSubscriber {
    ids: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
    subscribed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl IdSubscriber {
    /// Subscribed to `filter` once it returns.
    pub async fn start(broker: &Mosquitto, filter: &str) -> Self {
        use std::sync::atomic::Ordering;
        let id = format!("ids-{}", std::process::id());
        let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", broker.port());
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 64);
        let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let subscribed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (seen, acks, filter) = (ids.clone(), subscribed.clone(), filter.to_owned());
        let task = tokio::spawn(async move {
            let record = |event: rumqttc::Event| match event {
                rumqttc::Event::Incoming(rumqttc::Incoming::ConnAck(_)) => {
                    let _ = client.try_subscribe(&filter, rumqttc::QoS::AtLeastOnce);
                }
                rumqttc::Event::Incoming(rumqttc::Incoming::SubAck(_)) => {
                    acks.fetch_add(1, Ordering::SeqCst);
                }
                rumqttc::Event::Incoming(rumqttc::Incoming::Publish(p)) => {
                    let value: Value = serde_json::from_slice(&p.payload).unwrap();
                    seen.lock().unwrap().push(value["id"].as_u64().unwrap());
                }
                _ => {}
            };
            loop {
                match eventloop.poll().await {
                    Ok(event) => record(event),
                    Err(_) => {
                        // What was read together with the end of the connection.
                        for event in eventloop.state.events.drain(..) {
                            record(event);
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        });
        let subscriber = Self {
            ids,
            subscribed,
            task,
        };
        subscriber.wait_subscribed(1).await;
        subscriber
    }

    /// Waits until the broker granted `n` subscriptions (one per connection).
    pub async fn wait_subscribed(&self, n: u64) {
        let acks = self.subscribed.clone();
        let granted = rivven_connect_testing::eventually(
            move || acks.load(std::sync::atomic::Ordering::SeqCst) >= n,
            Duration::from_secs(20),
        )
        .await;
        assert!(granted, "subscription {n} not granted");
    }

    /// The ids received so far, in order.
    pub fn ids(&self) -> Vec<u64> {
        self.ids.lock().unwrap().clone()
    }

    /// Waits until every id of `0..n` arrived (up to `timeout`); the ids.
    pub async fn wait_for_all(&self, n: u64, timeout: Duration) -> Vec<u64> {
        let ids = self.ids.clone();
        rivven_connect_testing::eventually(
            move || {
                let got: std::collections::BTreeSet<u64> =
                    ids.lock().unwrap().iter().copied().collect();
                (0..n).all(|i| got.contains(&i))
            },
            timeout,
        )
        .await;
        self.ids()
    }
}

impl Drop for IdSubscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}
