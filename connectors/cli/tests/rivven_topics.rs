//! Topics on a real `rivvend` (`broker.bootstrap_servers` set): datagen →
//! broker topic → two consumer groups → files. Every event reaches each group
//! across `kill -9`s of rivven-connect at random points and a SIGTERM
//! stop/restart of the broker mid-stream (checked by id); the first
//! bootstrap server is down (a closed port) and the second is used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/crash.rs"]
mod crash;

use rivven_connect_testing::services::Rivven;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const N: u64 = 3_000;

fn spawn(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .env_remove("RUST_LOG")
        .arg("-c")
        .arg(config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn rivven-connect")
}

fn values(path: &Path) -> BTreeSet<u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |at| &text[..=at]);
    complete
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["value"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_topics_deliver_every_event_to_each_group_across_kills_and_a_broker_restart() {
    let mut broker = Rivven::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let config = dir.path().join("broker.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {d}/data\n\
             broker: {{ bootstrap_servers: [\"127.0.0.1:{}\", \"{}\"], connection_timeout_ms: 1000 }}\n\
             sources:\n  gen: {{ connector: datagen, topic: events, config: {{ pattern: sequence, max_events: {N}, events_per_second: 600 }} }}\n\
             sinks:\n  a: {{ connector: file, topics: [events], config: {{ path: {d}/a.jsonl }} }}\n  \
             b: {{ connector: file, topics: [events], consumer_group: group-b, config: {{ path: {d}/b.jsonl }} }}\n",
            closed_port(),
            broker.addr()
        ),
    )
    .unwrap();
    let log = dir.path().join("run.log");
    let mut points = crash::Lcg::from_clock();
    for round in 0..3 {
        let mut child = spawn(&config, &log);
        let after = points.next(1500, 4000);
        std::thread::sleep(Duration::from_millis(after));
        child.kill().unwrap();
        child.wait().unwrap();
        println!("round {round}: killed rivven-connect after {after} ms");
    }
    let child = spawn(&config, &log);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    broker.terminate().await; // SIGTERM: the broker keeps what it acknowledged
    tokio::time::sleep(Duration::from_millis(500)).await;
    broker.restart().await.unwrap();
    println!("broker restarted");
    let all: BTreeSet<u64> = (0..N).collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    for sink in ["a", "b"] {
        let path = dir.path().join(format!("{sink}.jsonl"));
        loop {
            let got = values(&path);
            if all.is_subset(&got) {
                break;
            }
            if Instant::now() > deadline {
                let missing: Vec<&u64> = all.difference(&got).take(5).collect();
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: String = text.lines().rev().take(40).collect::<Vec<_>>().join("\n");
                panic!("sink {sink} lacks {missing:?} after 180 s; log (newest first):\n{tail}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        println!("sink {sink}: every one of {N} events");
    }
    crash::terminate(child);
}

/// An unreachable broker fails `check` with one line naming the servers.
#[test]
fn an_unreachable_broker_fails_check_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.yaml");
    let port = closed_port();
    std::fs::write(
        &config,
        format!(
            "data_dir: {}/data\n\
             broker: {{ bootstrap_servers: [\"127.0.0.1:{port}\"], connection_timeout_ms: 500 }}\n\
             sources:\n  gen: {{ connector: datagen, topic: events, config: {{ pattern: sequence }} }}\n\
             sinks:\n  a: {{ connector: stdout, topics: [events] }}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .arg("-c")
        .arg(&config)
        .arg("check")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    assert!(
        failed[0].contains("broker topic events")
            && failed[0].contains(&format!(
                "cannot reach any bootstrap server (127.0.0.1:{port})"
            )),
        "{stdout}"
    );
}
