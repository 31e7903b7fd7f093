//! Every built-in connector passes the compliance checks of rivven-connect-testing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rivven_connect::builtin::{DatagenSource, FileSink, FileSource, StdoutSink};
use rivven_connect_testing::prelude::*;
use serde_json::{json, Value};
use std::io::Write as _;
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn datagen_is_compliant_for_every_pattern() {
    for pattern in [
        "sequence",
        "random",
        "users",
        "orders",
        "events",
        "metrics",
        "key_value",
        "pageviews",
    ] {
        let config =
            json!({"pattern": pattern, "events_per_second": 0, "max_events": 40, "seed": 7});
        SourceCompliance::new(DatagenSource, config)
            .ignore_field("created_at") // generation time: rows are reproducible "timestamps aside"
            .ignore_field("timestamp")
            .assert()
            .await;
    }
    let cdc = json!({"pattern": "users", "events_per_second": 0, "max_events": 40, "seed": 7, "cdc_mode": true});
    SourceCompliance::new(DatagenSource, cdc)
        .ignore_field("created_at")
        .assert()
        .await;
}

#[tokio::test]
async fn file_source_is_compliant() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    for i in 0..30 {
        writeln!(f, "{}", json!({"id": i, "name": format!("n{i}")})).unwrap();
    }
    drop(f);
    SourceCompliance::new(FileSource, json!({"path": path}))
        .unreachable(json!({"path": dir.path().join("missing/dir/in.jsonl")}))
        .assert()
        .await;
}

#[tokio::test]
async fn file_sink_is_compliant_and_writes_what_it_acknowledges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let read_back = path.clone();
    // A path below a regular file can never be created.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    SinkCompliance::new(FileSink::new(), json!({"path": path}))
        .unreachable(json!({"path": blocker.join("out.jsonl")}))
        .verify(move |events| async move {
            let text = std::fs::read_to_string(&read_back).map_err(|e| e.to_string())?;
            let lines: Vec<Value> = text
                .lines()
                .map(serde_json::from_str)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("a line is not JSON: {e}"))?;
            let want: Vec<&Value> = events.iter().map(|e| &e.data).collect();
            if lines.iter().collect::<Vec<_>>() == want {
                Ok(())
            } else {
                Err(format!(
                    "file has {} lines, expected the {} event data values",
                    lines.len(),
                    want.len()
                ))
            }
        })
        .assert()
        .await;
}

#[tokio::test]
async fn stdout_sink_is_compliant_for_every_format() {
    for config in [
        json!({}),
        json!({"pretty": true}),
        json!({"format": "text", "include_metadata": true}),
    ] {
        let out: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
        let sink = StdoutSink::with_writer(out.clone());
        let read_back = out.clone();
        SinkCompliance::new(sink, config)
            .verify(move |events| async move {
                let text = String::from_utf8(read_back.lock().unwrap().clone())
                    .map_err(|e| e.to_string())?;
                match events.iter().find(|e| !text.contains(&e.stream)) {
                    None if !text.is_empty() => Ok(()),
                    None => Err("nothing was printed".into()),
                    Some(e) => Err(format!("stream `{}` not printed", e.stream)),
                }
            })
            .assert()
            .await;
    }
}
