//! No silent loss at the edges, through the real binary and YAML: two writers
//! on one file are refused (exit 2; in two processes, the second fails naming
//! the file or disk topic) while fan-out to distinct files delivers
//! every id to every sink, and dead letters from all three stages carry their
//! whole records (input = written + dead-lettered).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, command: &str, body: &str) -> Output {
    let config = dir.join(format!("{command}.yaml"));
    std::fs::write(
        &config,
        format!("{body}\ndata_dir: {}\n", dir.join("data").display()),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .arg("-c")
        .arg(&config)
        .arg(command)
        .output()
        .unwrap()
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `value` of datagen's `sequence` pattern.
fn ids(values: &[Value]) -> BTreeSet<u64> {
    values.iter().filter_map(|v| v["value"].as_u64()).collect()
}

/// Fails before the fix: each of these started two writers on one path (two
/// `FileSink`s with their own positions), reported every event written, and
/// left the file short and torn.
#[test]
fn two_writers_on_one_file_exit_2_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let out = out.display();
    let gen = "{ pattern: sequence, max_events: 100, events_per_second: 0 }";
    let cases = [
        (
            "dead_letter naming the main sink",
            format!(
                "sources:\n  a: {{ connector: datagen, config: {gen} }}\n\
                 sinks:\n  out: {{ connector: file, config: {{ path: {out} }} }}\n\
                 pipelines:\n  p: {{ source: a, sink: out, settings: {{ on_error: dead_letter, dead_letter: out }} }}\n"
            ),
        ),
        (
            "two pipelines, one sink",
            format!(
                "sources:\n  a: {{ connector: datagen, config: {gen} }}\n  b: {{ connector: datagen, config: {gen} }}\n\
                 sinks:\n  out: {{ connector: file, config: {{ path: {out} }} }}\n\
                 pipelines:\n  p1: {{ source: a, sink: out }}\n  p2: {{ source: b, sink: out }}\n"
            ),
        ),
        (
            "two sinks, one path spelled twice",
            format!(
                "sources:\n  a: {{ connector: datagen, config: {gen} }}\n\
                 sinks:\n  sx: {{ connector: file, config: {{ path: {out} }} }}\n  \
                 sy: {{ connector: file, config: {{ path: {dir}/./sub/../out.jsonl }} }}\n\
                 pipelines:\n  p1: {{ source: a, sink: sx }}\n  p2: {{ source: a, sink: sy }}\n",
                dir = dir.path().display()
            ),
        ),
    ];
    for (what, body) in cases {
        for command in ["validate", "run"] {
            let o = run(dir.path(), command, &body);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{what} / {command}: {stderr}");
            assert!(
                stderr.contains("out.jsonl") && stderr.contains("both write"),
                "{what}: {stderr}"
            );
            assert_eq!(
                stderr.matches("pipeline `").count(),
                2,
                "{what}: names both: {stderr}"
            );
        }
        assert!(
            !dir.path().join("out.jsonl").exists(),
            "{what}: nothing ran"
        );
    }
}

/// Fan-in: a sink subscribing to two sources' topics is one subscriber
/// (one writer on its file) and gets both sources' events.
#[test]
fn fan_in_of_two_topics_is_one_writer_with_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let gen = "{ pattern: sequence, max_events: 100, events_per_second: 0 }";
    let body = format!(
        "sources:\n  a: {{ connector: datagen, topic: ta, config: {gen} }}\n  \
         b: {{ connector: datagen, topic: tb, config: {gen} }}\n\
         sinks:\n  out: {{ connector: file, topics: [ta, tb], config: {{ path: {}/out.jsonl }} }}\n",
        dir.path().display()
    );
    let o = run(dir.path(), "run", &body);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let values = lines(&dir.path().join("out.jsonl"));
    assert_eq!(values.len(), 200);
    let mut count = std::collections::BTreeMap::new();
    for v in ids_all(&values) {
        *count.entry(v).or_insert(0) += 1;
    }
    assert!(
        count.len() == 100 && count.values().all(|c| *c == 2),
        "{count:?}"
    );
}

fn ids_all(values: &[Value]) -> Vec<u64> {
    values.iter().filter_map(|v| v["value"].as_u64()).collect()
}

/// One source fanned out to sinks on distinct files: every id reaches every sink.
#[test]
fn fan_out_to_distinct_files_delivers_every_id_to_every_sink() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "sources:\n  a: {{ connector: datagen, topic: t, config: {{ pattern: sequence, max_events: 2000, events_per_second: 0 }} }}\n\
         sinks:\n  sx: {{ connector: file, topics: [t], config: {{ path: {d}/x.jsonl }} }}\n  \
         sy: {{ connector: file, topics: [t], config: {{ path: {d}/y.jsonl }} }}\n",
        d = dir.path().display()
    );
    let o = run(dir.path(), "run", &body);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for sink in ["x", "y"] {
        let got = ids(&lines(&dir.path().join(format!("{sink}.jsonl"))));
        let missing: Vec<u64> = (0..2000).filter(|i| !got.contains(i)).take(5).collect();
        assert!(
            missing.is_empty() && got.len() == 2000,
            "sink {sink}: missing {missing:?}"
        );
    }
}

/// Fails before the fix: a record the source rejected was dead-lettered as
/// `event: null` with a 120-character preview, so it could not be replayed.
/// Here every stage rejects some records: the source (invalid JSON, invalid
/// UTF-8), a transform (`cast` of a non-number) and the sink (a line over
/// `max_record_bytes`); each input line is either written or recoverable from
/// the dead-letter file, byte for byte.
#[test]
fn dead_letters_from_every_stage_carry_whole_records() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let mut raw: Vec<Vec<u8>> = Vec::new();
    for id in 0..40u64 {
        let line = match id % 8 {
            1 => format!("{{\"id\": {id}, \"amount\": 5, \"broken\": ").into_bytes(),
            3 => format!("{{\"id\": {id}, \"amount\": \"lots\"}}").into_bytes(),
            5 => format!(
                "{{\"id\": {id}, \"amount\": 1, \"note\": \"{}\"}}",
                "n".repeat(5000)
            )
            .into_bytes(),
            7 => {
                let mut l = format!("{{\"id\": {id}, \"note\": \"").into_bytes();
                l.extend_from_slice(&[0xff, 0xfe, b'"', b'}']);
                l
            }
            _ => format!("{{\"id\": {id}, \"amount\": {id}}}").into_bytes(),
        };
        raw.push(line);
    }
    let mut bytes = raw.join(&b'\n');
    bytes.push(b'\n');
    std::fs::write(&input, &bytes).unwrap();
    let d = dir.path().display();
    let body = format!(
        "sources:\n  in: {{ connector: file, config: {{ path: {d}/in.jsonl, stream_name: orders }} }}\n\
         transforms:\n  typed: {{ type: cast, config: {{ fields: {{ amount: int }} }} }}\n\
         sinks:\n  good: {{ connector: file, config: {{ path: {d}/good.jsonl, max_record_bytes: 1000 }} }}\n  \
         dlq: {{ connector: file, config: {{ path: {d}/dlq.jsonl, format: event }} }}\n\
         pipelines:\n  p:\n    source: in\n    sink: good\n    transforms: [typed]\n    \
         settings: {{ on_error: dead_letter, dead_letter: dlq }}\n"
    );
    let o = run(dir.path(), "run", &body);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let good = lines(&dir.path().join("good.jsonl"));
    let dead = lines(&dir.path().join("dlq.jsonl"));
    let mut recovered: Vec<Vec<u8>> = good
        .iter()
        .map(|v| serde_json::to_vec(v).unwrap())
        .collect();
    let mut stages = BTreeSet::new();
    for letter in &dead {
        let d = &letter["data"];
        stages.insert(d["stage"].as_str().unwrap().to_string());
        // One rule for every stage: the pipeline's dead-letter stream, the
        // original stream in the envelope (none for a line the source could
        // not read).
        assert_eq!(letter["stream"], "p.dlq", "{letter}");
        let original = if d["stage"] == "source" {
            Value::Null
        } else {
            Value::from("orders")
        };
        assert_eq!(d["stream"], original, "{letter}");
        match d["raw_record_encoding"].as_str() {
            Some("utf8") => recovered.push(d["raw_record"].as_str().unwrap().as_bytes().to_vec()),
            Some("base64") => {
                use base64::Engine as _;
                let text = d["raw_record"].as_str().unwrap();
                recovered.push(
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .unwrap(),
                );
            }
            _ => {
                // A transform or sink rejection carries the event as it arrived.
                let data = &d["event"]["data"];
                assert!(data.is_object(), "no record in {letter}");
                recovered.push(serde_json::to_vec(data).unwrap());
            }
        }
    }
    assert_eq!(
        stages,
        ["sink", "source", "transform"].map(String::from).into(),
        "every stage dead-lettered"
    );
    assert_eq!(
        good.len() + dead.len(),
        raw.len(),
        "written + dead-lettered = input"
    );
    // The summary's counts add up the same way: what was read, source
    // rejections included, is what was written, skipped or dead-lettered.
    let stderr = String::from_utf8_lossy(&o.stderr);
    let line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("p "))
        .unwrap_or_else(|| panic!("no summary line for `p`: {stderr}"));
    let count = |label: &str| -> usize {
        let at = line
            .find(&format!(" {label} "))
            .unwrap_or_else(|| panic!("no `{label}` in {line}"));
        line[at + label.len() + 2..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count after `{label}` in {line}"))
    };
    assert_eq!(count("read"), raw.len(), "{line}");
    assert_eq!(count("written"), good.len(), "{line}");
    assert_eq!(count("dead-lettered"), dead.len(), "{line}");
    assert_eq!(count("filtered") + count("skipped"), 0, "{line}");
    // Each input line is recovered: byte for byte from the source stage,
    // as the same JSON value from the later stages.
    for line in &raw {
        let parsed = serde_json::from_slice::<Value>(line).ok();
        let same = |r: &Vec<u8>| {
            r == line || (parsed.is_some() && serde_json::from_slice::<Value>(r).ok() == parsed)
        };
        assert!(
            recovered.iter().any(same),
            "lost: {}",
            String::from_utf8_lossy(line)
        );
    }
}

/// Fails before the fix: one `postgres-cdc` source with a topic and two
/// subscribing sinks became two pipelines reading one replication slot, each
/// confirming it past changes the other had not written. (Now such a source
/// is read once: `postgres_topic.rs`.) Two sources on one slot are still
/// refused (exit 2) by `validate` and `run`, naming the slot and both
/// pipelines, before any connection is made.
#[cfg(feature = "postgres")]
#[test]
fn two_pipelines_on_one_replication_slot_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let db = "config:\n      host: 127.0.0.1\n      port: 1\n      database: shop\n      user: u\n      \
              slot_name: rivven_slot\n      publication_name: rivven_pub\n";
    let body = format!(
        "sources:\n  db:\n    connector: postgres-cdc\n    {db}  \
         db2:\n    connector: postgres-cdc\n    {db}\
         sinks:\n  sa: {{ connector: file, config: {{ path: {d}/a.jsonl }} }}\n  \
         sb: {{ connector: file, config: {{ path: {d}/b.jsonl }} }}\n\
         pipelines:\n  db-to-sa: {{ source: db, sink: sa }}\n  db-to-sb: {{ source: db2, sink: sb }}\n"
    );
    for command in ["validate", "run"] {
        let o = run(dir.path(), command, &body);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("slot=rivven_slot") && stderr.contains("both read"),
            "{stderr}"
        );
        assert!(
            stderr.contains("db-to-sa") && stderr.contains("db-to-sb"),
            "{stderr}"
        );
    }
}

/// Two processes are two writers too: while one rivven-connect writes a file
/// (or has a disk topic open), a second one with the same file (or the same
/// `data_dir` and topic) fails, naming it, and the first is unaffected.
#[test]
fn a_second_process_on_the_same_file_or_disk_topic_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let first = dir.path().join("first.yaml");
    std::fs::write(
        &first,
        format!(
            "data_dir: {d}/data\ntopics: {{ storage: disk }}\n\
             sources:\n  gen: {{ connector: datagen, topic: t, config: {{ pattern: sequence, events_per_second: 200 }} }}\n\
             sinks:\n  out: {{ connector: file, topics: [t], config: {{ path: {d}/out.jsonl }} }}\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .env_remove("RUST_LOG")
        .arg("-c")
        .arg(&first)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while lines(&dir.path().join("out.jsonl")).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first process wrote nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let gen = "{ pattern: sequence, max_events: 10, events_per_second: 0 }";
    let cases = [
        (
            "the same file, another data_dir",
            format!(
                "sources:\n  a: {{ connector: datagen, config: {gen} }}\n\
                 sinks:\n  out: {{ connector: file, config: {{ path: {d}/out.jsonl }} }}\n\
                 pipelines:\n  p: {{ source: a, sink: out, settings: {{ restart: {{ max_consecutive_failures: 1 }} }} }}\n"
            ),
            format!("{d}/out.jsonl is being written by another process"),
        ),
        (
            "the same disk topic",
            format!(
                "topics: {{ storage: disk }}\n\
                 sources:\n  a: {{ connector: datagen, topic: t, config: {gen} }}\n\
                 sinks:\n  other: {{ connector: file, topics: [t], config: {{ path: {d}/other.jsonl }} }}\n"
            ),
            "topic `t`".to_string(),
        ),
    ];
    for (i, (what, body, expected)) in cases.into_iter().enumerate() {
        let sub = dir.path().join(format!("second-{i}"));
        std::fs::create_dir_all(&sub).unwrap();
        // The disk topic case shares the first process's data_dir.
        let data_dir = if i == 1 {
            dir.path().join("data")
        } else {
            sub.join("data")
        };
        let config = sub.join("second.yaml");
        std::fs::write(&config, format!("data_dir: {}\n{body}", data_dir.display())).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .arg("-c")
            .arg(&config)
            .arg("run")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: {stderr}");
        assert!(stderr.contains(&expected), "{what}: {stderr}");
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first process is still running"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The file holds only the first process's lines: 0, 1, 2, … once each.
    let written: Vec<u64> = lines(&dir.path().join("out.jsonl"))
        .iter()
        .filter_map(|v| v["value"].as_u64())
        .collect();
    assert_eq!(written, (0..written.len() as u64).collect::<Vec<_>>());
}
