//! `kill -9` of the binary at random points while datagen fans out through a
//! disk topic to three file sinks (one slow): after the restarts no sink has
//! lost or skipped an event, checked by id.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/crash.rs"]
mod crash;

use std::collections::BTreeSet;
use std::time::Duration;

use crash::{spawn, values};

const N: u64 = 60_000;

#[test]
fn kill_nine_with_a_disk_topic_loses_and_skips_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let config = dir.path().join("fan.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {d}/data\n\
             topics: {{ storage: disk, segment_bytes: 200000, capacity: 2000 }}\n\
             sources:\n  gen: {{ connector: datagen, topic: t, config: {{ pattern: sequence, max_events: {N}, events_per_second: 30000 }} }}\n\
             sinks:\n  a: {{ connector: file, topics: [t], config: {{ path: {d}/a.jsonl }} }}\n  \
             b: {{ connector: file, topics: [t], config: {{ path: {d}/b.jsonl }} }}\n  \
             slow: {{ connector: file, topics: [t], rate_limit: {{ events_per_second: 15000 }}, config: {{ path: {d}/slow.jsonl }} }}\n"
        ),
    )
    .unwrap();
    let log = dir.path().join("run.log");
    let mut points = crash::Lcg::from_clock();
    for round in 0..6 {
        let mut child = spawn(&config, &log);
        let after = points.next(300, 1500);
        std::thread::sleep(Duration::from_millis(after));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        println!("round {round}: killed after {after} ms");
    }
    // The last run goes to the end: the source is bounded.
    let status = spawn(&config, &log).wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "final run: {status}\n{text}");
    let all: BTreeSet<u64> = (0..N).collect();
    for sink in ["a", "b", "slow"] {
        let got: Vec<u64> = values(&dir.path().join(format!("{sink}.jsonl")));
        let distinct: BTreeSet<u64> = got.iter().copied().collect();
        let missing: Vec<&u64> = all.difference(&distinct).take(5).collect();
        assert!(missing.is_empty(), "sink {sink} lost {missing:?}");
        println!("sink {sink}: {} lines for {N} events", got.len());
    }
    assert!(!text.contains("panicked"), "{text}");
}
