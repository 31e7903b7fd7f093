//! Topics on a real `rivvend` (`broker.bootstrap_servers` set): datagen →
//! broker topic → two consumer groups → files. Every event reaches each group
//! across `kill -9`s of rivven-connect at random points and a SIGTERM
//! stop/restart of the broker mid-stream (checked by id); the first
//! bootstrap server is down (a closed port) and the second is used.
//!
//! End-to-end durability is bounded by the broker's: `rivvend` 0.0.22
//! acknowledges a publish before it is on disk and loses acknowledged
//! messages when it is `kill -9`ed (not on SIGTERM), keeping its end
//! offsets (a loss is a hole below the end). rivven-connect cannot prevent
//! that — those events were committed upstream — but it detects it when it
//! can: after a reconnect the publisher reads back what the broker
//! acknowledged and fails, naming topic, partition and offsets, on a hole; a
//! subscriber refuses to skip an offset it cannot read. A loss that neither
//! reaches goes unnoticed.
//! [`a_broker_kill_9_is_lossless_or_the_loss_is_reported`] documents it:
//! either every id reaches the file, or the log reports the loss — the
//! publisher's (then every acknowledged id is in the file or in the range it
//! read back) or the subscriber's refusal, naming the partition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/crash.rs"]
mod crash;

use crash::{spawn, values};
use rivven_connect_testing::services::Rivven;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

const N: u64 = 3_000;

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
            let got: BTreeSet<u64> = values(&path);
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

/// The loss the publisher reported in the log: `(lost, partition, first,
/// last)` from "the broker lost N acknowledged messages of partition P of
/// topic `T`: of offsets F..=L, which it had acknowledged, …".
fn reported_loss(log: &str, topic: &str) -> Option<(u64, u32, u64, u64)> {
    log.match_indices("the broker lost ")
        .find_map(|(at, _)| parse_loss(&log[at + "the broker lost ".len()..], topic))
}

/// The subscriber's refusal in the log: the offset of partition `partition`
/// it would not read past ("group `G` is at offset X of partition P of topic
/// `T`…refuses to skip").
fn reported_refusal(log: &str, topic: &str) -> Option<(u32, u64)> {
    log.lines()
        .filter(|l| l.contains("refuses to skip"))
        .find_map(|l| {
            let (_, rest) = l.split_once("` is at offset ")?;
            let (offset, rest) = rest.split_once(" of partition ")?;
            let (partition, _) = rest.split_once(&format!(" of topic `{topic}`"))?;
            Some((partition.parse().ok()?, offset.parse().ok()?))
        })
}

fn parse_loss(rest: &str, topic: &str) -> Option<(u64, u32, u64, u64)> {
    let rest = rest.strip_prefix("at least ").unwrap_or(rest);
    let (lost, rest) = rest.split_once(" acknowledged messages of partition ")?;
    let (partition, rest) = rest.split_once(&format!(" of topic `{topic}`: of offsets "))?;
    let (first, rest) = rest.split_once("..=")?;
    let (last, _) = rest.split_once(", which it had acknowledged")?;
    Some((
        lost.parse().ok()?,
        partition.parse().ok()?,
        first.parse().ok()?,
        last.parse().ok()?,
    ))
}

/// `kill -9` of the broker mid-stream (one partition, so that offset = id):
/// rivvend may lose messages it acknowledged. Either nothing is lost and the
/// file gets every id, or rivven-connect logs that the broker lost
/// acknowledged messages, naming the partition and the range of offsets it
/// read back, and every acknowledged id (0..=the last acknowledged offset)
/// is in the file or in that range; or the subscriber logs that it refuses
/// to skip an offset the broker lost, naming the partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_kill_9_is_lossless_or_the_loss_is_reported() {
    const TOTAL: u64 = 2_000;
    let mut broker = Rivven::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let config = dir.path().join("kill.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {d}/data\n\
             broker: {{ bootstrap_servers: [\"{}\"], connection_timeout_ms: 1000, request_timeout_ms: 3000 }}\n\
             sources:\n  gen: {{ connector: datagen, topic: events, topic_config: {{ partitions: 1 }}, config: {{ pattern: sequence, max_events: {TOTAL}, events_per_second: 600 }} }}\n\
             sinks:\n  out: {{ connector: file, topics: [events], config: {{ path: {d}/out.jsonl }} }}\n",
            broker.addr()
        ),
    )
    .unwrap();
    let log = dir.path().join("run.log");
    let out = dir.path().join("out.jsonl");
    let mut child = spawn(&config, &log);
    let started = Instant::now();
    while values::<BTreeSet<u64>>(&out).len() < 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no 200 events through the broker in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    broker.kill();
    let in_file_at_kill = values::<BTreeSet<u64>>(&out).len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.restart().await.unwrap();
    println!("killed the broker (kill -9) with {in_file_at_kill} ids in the file; restarted it");

    let all: BTreeSet<u64> = (0..TOTAL).collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    let (got, loss) = loop {
        let got: BTreeSet<u64> = values(&out);
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let loss = reported_loss(&text, "events");
        let refusal = reported_refusal(&text, "events");
        let exited = child.try_wait().unwrap().is_some();
        let accounted = match loss {
            None => all.is_subset(&got),
            // Everything before the damaged range reached the file.
            Some((_, _, first, _)) => (0..first).all(|i| got.contains(&i)),
        };
        if accounted || refusal.is_some() || exited || Instant::now() > deadline {
            break (got, loss);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let refusal = reported_refusal(&text, "events");
    if let Some((partition, offset)) = refusal {
        // The subscriber found a message gone below the end (a hole) and
        // refused to skip it: the loss is reported, naming the partition.
        println!(
            "the subscriber refused to skip lost offset {offset} of partition {partition}; \
             {} of {TOTAL} ids in the file (the publisher's read-back {})",
            got.len(),
            if loss.is_some() {
                "reported a loss too"
            } else {
                "found no hole"
            }
        );
        assert_eq!(partition, 0);
    }
    match loss {
        None if refusal.is_some() => {}
        None => {
            let missing: Vec<&u64> = all.difference(&got).take(10).collect();
            println!("no loss: {} of {TOTAL} ids in the file", got.len());
            assert!(
                missing.is_empty(),
                "ids {missing:?} missing and no loss reported; log:\n{text}"
            );
        }
        Some((lost, partition, first, last)) => {
            // Acknowledged: ids 0..=last (offset = id on the one partition).
            // Each is in the file or in the range the loss report covers.
            let acknowledged: BTreeSet<u64> = (0..=last).collect();
            let not_in_file: Vec<u64> = acknowledged
                .iter()
                .copied()
                .filter(|i| !got.contains(i))
                .collect();
            let unaccounted: Vec<&u64> = not_in_file
                .iter()
                .filter(|i| !(first..=last).contains(*i))
                .take(10)
                .collect();
            println!(
                "loss reported: {lost} acknowledged messages of partition {partition} lost \
                 (offsets {first}..={last} read back); {} acknowledged ids, {} in the file, {} not",
                acknowledged.len(),
                acknowledged.len() - not_in_file.len(),
                not_in_file.len()
            );
            assert_eq!(partition, 0);
            assert!(lost > 0);
            assert!(
                unaccounted.is_empty(),
                "ids {unaccounted:?} neither in the file nor in the reported loss; log:\n{text}"
            );
        }
    }
    assert!(!text.contains("panicked"), "{text}");
}

/// `topics.validate_existing` with a topic that exists with another
/// partition count: `check` passes with a warning naming the topic, the
/// existing 1 partition and the configured 3, and `run` logs the same
/// warning and delivers every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_existing_warns_naming_the_existing_and_the_configured_partitions() {
    let broker = Rivven::start().await.unwrap();
    let mut client = rivven_client::Client::connect(&broker.addr())
        .await
        .unwrap();
    assert_eq!(client.create_topic("t", Some(1)).await.unwrap(), 1);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let config = dir.path().join("existing.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {d}/data\n\
             broker: {{ bootstrap_servers: [\"{}\"], connection_timeout_ms: 1000 }}\n\
             topics: {{ validate_existing: true }}\n\
             sources:\n  gen: {{ connector: datagen, topic: t, topic_config: {{ partitions: 3 }}, config: {{ pattern: sequence, max_events: 50, events_per_second: 0 }} }}\n\
             sinks:\n  out: {{ connector: file, topics: [t], config: {{ path: {d}/out.jsonl }} }}\n",
            broker.addr()
        ),
    )
    .unwrap();
    let warning = "warning: topic `t` exists with 1 partition(s) but the configuration says \
                   partitions: 3 (validate_existing)";
    let check = Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .arg("-c")
        .arg(&config)
        .arg("check")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    println!("{stdout}");
    assert_eq!(check.status.code(), Some(0), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("broker topic t"))
        .unwrap_or_else(|| panic!("no line for the broker topic:\n{stdout}"));
    assert!(line.starts_with("ok "), "{line}");
    assert!(line.contains(warning), "{line}");

    let log = dir.path().join("run.log");
    let child = spawn(&config, &log);
    let out = dir.path().join("out.jsonl");
    let all: BTreeSet<u64> = (0..50).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while values::<BTreeSet<u64>>(&out) != all {
        assert!(
            Instant::now() < deadline,
            "not every event in 60 s: {:?}",
            std::fs::read_to_string(&log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    crash::terminate(child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(warning), "{text}");
    let (_, partitions) = client.get_metadata("t").await.unwrap();
    assert_eq!(partitions, 1, "the existing topic is used unchanged");
}
