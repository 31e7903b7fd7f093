//! `kill -9` of the binary at random points while the `amqp` source drains
//! a RabbitMQ queue into a file: after the restarts every message is in the
//! file (at least once), checked by id, and the queue is empty.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/crash.rs"]
mod crash;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crash::{spawn, terminate, values, Lcg};
use rivven_connect_testing::services::{test_python, RabbitMq};

const N: u64 = 20_000;

/// Publishes `{"value": i}` for i in 0..n to a durable queue (persistent),
/// or prints the queue's message and consumer counts.
const PIKA: &str = r#"
import json, sys, time
import pika
port, op, queue, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=port))
ch = conn.channel()
ok = ch.queue_declare(queue=queue, durable=True).method
if op == "publish":
    # Without confirms (pika waits for each one); the count below says the
    # broker has them all.
    props = pika.BasicProperties(delivery_mode=2)
    for i in range(n):
        ch.basic_publish(exchange="", routing_key=queue, body=json.dumps({"value": i}), properties=props)
    deadline = time.time() + 30
    while ok.message_count < n and time.time() < deadline:
        time.sleep(0.05)
        ok = ch.queue_declare(queue=queue, passive=True).method
print(ok.message_count, ok.consumer_count)
conn.close()
"#;

fn pika(rabbit: &RabbitMq, op: &str, queue: &str, n: u64) -> (u64, u64) {
    let python = test_python(&["pika"]).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(python)
        .args([
            "-c",
            PIKA,
            &rabbit.port().to_string(),
            op,
            queue,
            &n.to_string(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pika: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut counts = text.split_whitespace().map(|c| c.parse::<u64>().unwrap());
    (counts.next().unwrap(), counts.next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_while_draining_a_queue_loses_no_message() {
    let rabbit = RabbitMq::start().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pika(&rabbit, "publish", "crash", N).0, N);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let config = dir.path().join("amqp.yaml");
    let mut yaml = std::fs::File::create(&config).unwrap();
    write!(
        yaml,
        "data_dir: {d}/data\n\
         sources:\n  rabbit:\n    connector: amqp\n    config: {{ url: \"{}\", queue: crash, declare: {{ durable: true }}, prefetch: 500 }}\n\
         sinks:\n  out: {{ connector: file, config: {{ path: {d}/out.jsonl }} }}\n\
         pipelines:\n  p:\n    source: rabbit\n    sink: out\n    settings: {{ rate_limit: 1500 }}\n",
        rabbit.url()
    )
    .unwrap();
    drop(yaml);
    let log = dir.path().join("run.log");
    let out = dir.path().join("out.jsonl");
    let mut points = Lcg::from_clock();
    for round in 0..5 {
        let mut child = spawn(&config, &log);
        let after = points.next(300, 1200);
        tokio::time::sleep(Duration::from_millis(after)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let lines: Vec<u64> = values(&out);
        println!(
            "round {round}: killed after {after} ms, {} lines",
            lines.len()
        );
    }
    let got_before: BTreeSet<u64> = values(&out);
    assert!(
        (got_before.len() as u64) < N,
        "the queue was drained before the last kill: the kills were not mid-stream"
    );
    // The final run drains the queue; the source is unbounded, so it is
    // stopped (SIGTERM: drain, commit, ack) once the file has every id.
    let child = spawn(&config, &log);
    let all: BTreeSet<u64> = (0..N).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got: BTreeSet<u64> = values(&out);
        if got.is_superset(&all) {
            break;
        }
        let missing: Vec<&u64> = all.difference(&got).take(5).collect();
        assert!(
            Instant::now() < deadline,
            "after 120 s the file still lacks {missing:?}…"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    terminate(child);
    let lines: Vec<u64> = values(&out);
    println!("{} lines for {N} messages", lines.len());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("panicked"), "{text}");
    // Everything was acknowledged: nothing is left in the queue.
    let (left, consumers) = pika(&rabbit, "count", "crash", 0);
    assert_eq!((left, consumers), (0, 0), "messages left in the queue");
}
