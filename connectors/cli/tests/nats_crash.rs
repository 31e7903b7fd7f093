//! `kill -9` of the `rivven-connect` binary (a YAML pipeline: the `nats`
//! source on a JetStream stream → a JSON Lines `file` sink) at random points
//! (seed printed) while it drains (rate-limited) N messages published by an independent
//! client (nats-py): after the kills a last run, stopped with SIGTERM once
//! caught up, leaves every message id in the file (at-least-once; messages
//! read but not acked before a kill are redelivered by the server).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/crash.rs"]
mod crash;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crash::{spawn, terminate, values, Lcg};
use rivven_connect_testing::services::{test_python, Nats};

const N: u64 = 20_000;
const KILLS: usize = 5;

/// Creates stream CRASH on `crash.>` and publishes `{"value": i}` for each
/// id (core publishes, which the stream stores; then waits until it holds
/// all N).
const SETUP: &str = r#"
import asyncio, sys
import nats

async def main():
    n = int(sys.argv[2])
    nc = await nats.connect(sys.argv[1])
    js = nc.jetstream()
    await js.add_stream(name="CRASH", subjects=["crash.>"])
    for i in range(n):
        await nc.publish("crash.%d" % (i % 4), ('{"value": %d}' % i).encode())
        if i % 1000 == 999:
            await nc.flush()
    await nc.flush()
    for _ in range(100):
        info = await js.stream_info("CRASH")
        if info.state.messages == n:
            break
        await asyncio.sleep(0.1)
    print(info.state.messages)
    await nc.close()

asyncio.run(main())
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_of_the_binary_loses_no_nats_message() {
    let nats = Nats::start().await.unwrap_or_else(|e| panic!("{e}"));
    let python = test_python(&["nats"]).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(python)
        .args(["-c", SETUP, &nats.url(), &N.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "nats-py setup failed");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), N.to_string());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let config = dir.path().join("nats.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  js:\n    connector: nats\n    config:\n      \
             url: {}\n      stream: CRASH\n      ack_wait_secs: 2\n      \
             fetch_expires_ms: 500\n      max_inflight: 2000\n\
             sinks:\n  out:\n    connector: file\n    \
             rate_limit: {{ events_per_second: 1500 }}\n    config: {{ path: {} }}\n\
             pipelines:\n  drain: {{ source: js, sink: out }}\n\
             data_dir: {}\n",
            nats.url(),
            path.display(),
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("rivven-connect.log");
    let mut points = Lcg::from_clock();
    for round in 0..KILLS {
        let mut child = spawn(&config, &log);
        let after = points.next(300, 1500);
        tokio::time::sleep(Duration::from_millis(after)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let got: BTreeSet<u64> = values(&path);
        println!(
            "round {round}: killed after {after} ms, {} ids so far",
            got.len()
        );
    }
    let child = spawn(&config, &log);
    let started = Instant::now();
    let all: BTreeSet<u64> = (0..N).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got: BTreeSet<u64> = values(&path);
        if got.is_superset(&all) {
            break;
        }
        if Instant::now() > deadline {
            let missing: Vec<&u64> = all.difference(&got).take(10).collect();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!(
                "after 90 s the file lacks {} ids, e.g. {missing:?}\n{text:.4000}",
                all.difference(&got).count()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Past its start (signal handlers installed) before the SIGTERM.
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(started.elapsed())).await;
    terminate(child);
    let lines: Vec<u64> = values(&path);
    println!("{} lines for {N} messages", lines.len());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("panicked"), "{text}");
}
