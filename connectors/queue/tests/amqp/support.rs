//! The node, the independent client (`pika`), configs.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use rivven_connect::{SinkConfig, SourceConfig, SourceEvent};
use rivven_connect_queue::amqp::{AmqpSinkConfig, AmqpSourceConfig};
use rivven_connect_testing::services::{test_python, RabbitMq};
use serde_json::{json, Value};

pub async fn server() -> RabbitMq {
    RabbitMq::start().await.unwrap_or_else(|e| panic!("{e}"))
}

/// An `amqp://` URL on which nothing listens.
pub fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("amqp://127.0.0.1:{port}/%2f")
}

/// The independent client: one JSON request on stdin, one JSON reply on
/// stdout. Ops: `declare` (queues, exchanges, bindings), `publish`
/// (messages with base64 bodies, headers and properties; confirmed),
/// `get` (basic.get until empty, acknowledging), `count`.
const PIKA: &str = r#"
import base64, json, sys
import pika
req = json.load(sys.stdin)
params = pika.ConnectionParameters(host="127.0.0.1", port=req["port"],
    credentials=pika.PlainCredentials(req["user"], req["password"]))
conn = pika.BlockingConnection(params)
ch = conn.channel()
out = {}
for ex in req.get("exchanges", []):
    ch.exchange_declare(exchange=ex["name"], exchange_type=ex.get("type", "direct"), durable=True)
for q in req.get("queues", []):
    ch.queue_declare(queue=q["name"], durable=q.get("durable", True), arguments=q.get("arguments"))
    for b in q.get("bindings", []):
        ch.queue_bind(queue=q["name"], exchange=b["exchange"], routing_key=b.get("routing_key", ""))
op = req["op"]
if op == "publish":
    ch.confirm_delivery()
    for m in req["messages"]:
        p = m.get("properties", {})
        props = pika.BasicProperties(delivery_mode=2, headers=m.get("headers"),
            message_id=p.get("message_id"), content_type=p.get("content_type"),
            correlation_id=p.get("correlation_id"), timestamp=p.get("timestamp"))
        ch.basic_publish(exchange=m.get("exchange", ""), routing_key=m["routing_key"],
            body=base64.b64decode(m["body"]), properties=props)
elif op == "get":
    msgs = []
    while True:
        method, props, body = ch.basic_get(queue=req["queue"], auto_ack=False)
        if method is None:
            break
        msgs.append({"body": base64.b64encode(body).decode(), "routing_key": method.routing_key,
            "exchange": method.exchange, "redelivered": method.redelivered,
            "headers": {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in (props.headers or {}).items()},
            "delivery_mode": props.delivery_mode, "message_id": props.message_id,
            "content_type": props.content_type, "correlation_id": props.correlation_id})
        ch.basic_ack(method.delivery_tag)
    out["messages"] = msgs
elif op == "count":
    ok = ch.queue_declare(queue=req["queue"], passive=True).method
    out["count"] = ok.message_count
    out["consumers"] = ok.consumer_count
conn.close()
json.dump(out, sys.stdout, default=str)
"#;

/// Run the pika client with `request` (the node's port and user added).
pub fn pika(rabbit: &RabbitMq, request: Value) -> Value {
    pika_at(rabbit.port(), rabbit.user(), rabbit.password(), request)
}

/// [`pika`] against a node given by port and user.
pub fn pika_at(port: u16, user: &str, password: &str, mut request: Value) -> Value {
    request["port"] = json!(port);
    request["user"] = json!(user);
    request["password"] = json!(password);
    let python = test_python(&["pika"]).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(python)
        .args(["-c", PIKA])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
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
        "pika failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(text: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.as_str().unwrap())
        .unwrap()
}

/// Publish `{"id": i}` for each id to the default exchange, routing key
/// `queue`, with header `n` = i and message id `m-<i>` (queue declared
/// durable first).
pub fn publish_ids(rabbit: &RabbitMq, queue: &str, ids: std::ops::Range<u64>) {
    publish_ids_declared(rabbit, json!({"name": queue}), ids);
}

/// [`publish_ids`] to the queue of `declaration` (`name`, `arguments`).
pub fn publish_ids_declared(rabbit: &RabbitMq, declaration: Value, ids: std::ops::Range<u64>) {
    let queue = declaration["name"].as_str().unwrap().to_owned();
    let messages: Vec<Value> = ids
        .map(|i| {
            json!({"routing_key": queue, "body": b64(json!({"id": i}).to_string().as_bytes()),
                   "headers": {"n": i}, "properties": {"message_id": format!("m-{i}")}})
        })
        .collect();
    pika(
        rabbit,
        json!({"op": "publish", "queues": [declaration], "messages": messages}),
    );
}

/// Publish raw bodies to `queue` (declared durable first).
pub fn publish_raw(rabbit: &RabbitMq, queue: &str, bodies: &[&[u8]]) {
    let messages: Vec<Value> = bodies
        .iter()
        .map(|b| json!({"routing_key": queue, "body": b64(b)}))
        .collect();
    pika(
        rabbit,
        json!({"op": "publish", "queues": [{"name": queue}], "messages": messages}),
    );
}

/// Every message in `queue` (taken and acknowledged).
pub fn get_all(rabbit: &RabbitMq, queue: &str) -> Vec<Value> {
    let out = pika(rabbit, json!({"op": "get", "queue": queue}));
    out["messages"].as_array().unwrap().clone()
}

/// [`get_all`] against a node given by port and user.
pub fn get_all_at(port: u16, user: &str, password: &str, queue: &str) -> Vec<Value> {
    let out = pika_at(port, user, password, json!({"op": "get", "queue": queue}));
    out["messages"].as_array().unwrap().clone()
}

/// Waits (up to 40 s) until `queues` have no consumer (so nothing is
/// delivered and unacknowledged: a closed channel's messages are requeued)
/// and together hold `expected` messages: acknowledgements reach the broker
/// shortly after the pipeline resolved them.
pub async fn settle(rabbit: &RabbitMq, queues: &[&str], expected: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let (mut total, mut consumers) = (0, 0);
        for q in queues {
            let out = pika(rabbit, json!({"op": "count", "queue": q}));
            total += out["count"].as_u64().unwrap();
            consumers += out["consumers"].as_u64().unwrap();
        }
        if total == expected && consumers == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{queues:?} hold {total} ready messages, expected {expected}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

pub fn source_json(rabbit: &RabbitMq, queue: &str) -> Value {
    json!({"url": rabbit.url(), "username": rabbit.user(), "password": rabbit.password(),
           "queue": queue, "declare": {"durable": true}, "prefetch": 100,
           "retry_initial_ms": 50, "retry_max_ms": 500, "connect_timeout_ms": 3000})
}

pub fn source_config(rabbit: &RabbitMq, queue: &str) -> AmqpSourceConfig {
    AmqpSourceConfig::from_value(source_json(rabbit, queue)).unwrap()
}

pub fn sink_json(rabbit: &RabbitMq) -> Value {
    json!({"url": rabbit.url(), "username": rabbit.user(), "password": rabbit.password(),
           "confirm_timeout_ms": 5000, "connect_timeout_ms": 3000})
}

pub fn sink_config(rabbit: &RabbitMq, extra: Value) -> AmqpSinkConfig {
    let mut config = sink_json(rabbit);
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    AmqpSinkConfig::from_value(config).unwrap()
}

pub fn id_counts(events: &[SourceEvent]) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        *counts.entry(e.data["id"].as_u64().unwrap()).or_default() += 1;
    }
    counts
}

pub fn once_each(ids: std::ops::Range<u64>) -> BTreeMap<u64, usize> {
    ids.map(|i| (i, 1)).collect()
}
