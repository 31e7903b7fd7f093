//! A JSONL file with invalid lines through a real file → file pipeline with
//! `on_error: dead_letter` and a file dead-letter queue: every invalid line can
//! be recovered byte for byte from the DLQ, and good + dead-lettered = input lines.

use base64::Engine as _;
use rivven_connect::builtin::{FileSink, FileSinkConfig, FileSource, FileSourceConfig};
use rivven_connect::runtime::{MemoryOffsetStore, OnError, Pipeline, PipelineState};
use serde_json::{json, Value};

use crate::common::{fast_settings, run_to_end};

/// Fails before the fix: the source's errors carried no raw record, so the dead
/// letters held only the message (a 120-character preview), not the line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_source_dead_letters_hold_the_whole_line() {
    let tmp = tempfile::tempdir().unwrap();
    let long_bad = format!("{{\"id\": 5, \"text\": \"{}\"", "é".repeat(400));
    let huge = format!("{{\"id\": 7, \"text\": \"{}\"}}", "x".repeat(5_000));
    let mut bad: Vec<Vec<u8>> = vec![
        b"{oops".to_vec(),
        long_bad.into_bytes(),
        b"\xff\xfe{\"id\": 6}".to_vec(),
        b"{\"id\": 8,\r".to_vec(),
    ];
    let mut input = Vec::new();
    let mut good = 0u64;
    for i in 0..100u64 {
        if i % 10 == 3 {
            input.extend_from_slice(&bad[(i / 10 % 4) as usize]);
        } else if i == 57 {
            input.extend_from_slice(huge.as_bytes());
        } else {
            input.extend_from_slice(format!("{{\"id\":{i}}}").as_bytes());
            good += 1;
        }
        input.push(b'\n');
    }
    bad.push(huge.clone().into_bytes());
    let path = tmp.path().join("input.jsonl");
    std::fs::write(&path, &input).unwrap();

    let source: FileSourceConfig =
        serde_json::from_value(json!({"path": path, "max_line_bytes": 1024})).unwrap();
    let out = tmp.path().join("out.jsonl");
    let dlq = tmp.path().join("dlq.jsonl");
    let store = MemoryOffsetStore::new();
    let status = run_to_end(
        store.clone(),
        Pipeline::builder("dl")
            .source(FileSource::new(), source)
            .sink(FileSink::new(), FileSinkConfig::new(&out))
            .dead_letter(FileSink::new(), FileSinkConfig::new(&dlq))
            .settings(fast_settings().with_on_error(OnError::DeadLetter)),
    )
    .await;
    assert_eq!(status.state, PipelineState::Completed, "{status:?}");

    let written = std::fs::read_to_string(&out).unwrap().lines().count() as u64;
    let letters: Vec<Value> = std::fs::read_to_string(&dlq)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(written, good);
    assert_eq!(
        written + letters.len() as u64,
        100,
        "good + dead = input lines"
    );

    let mut recovered: Vec<Vec<u8>> = Vec::new();
    for letter in &letters {
        let error = letter["error"].as_str().unwrap();
        assert!(error.contains("input.jsonl line "), "{error}");
        let raw = match letter["raw_record_encoding"].as_str() {
            Some("utf8") => letter["raw_record"].as_str().unwrap().as_bytes().to_vec(),
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(letter["raw_record"].as_str().unwrap())
                .unwrap(),
            _ => {
                // Over `max_line_bytes`: no raw record, the exact byte range instead.
                let (_, range) = error.split_once("skipped: bytes ").unwrap();
                let (start, rest) = range.split_once("..").unwrap();
                let end = rest.split(' ').next().unwrap();
                input[start.parse::<usize>().unwrap()..end.parse::<usize>().unwrap()].to_vec()
            }
        };
        assert!(
            error.len() < 400,
            "the message keeps only a preview: {error}"
        );
        recovered.push(raw);
    }
    let mut expected: Vec<Vec<u8>> = (0..100u64)
        .filter(|i| i % 10 == 3)
        .map(|i| bad[(i / 10 % 4) as usize].clone())
        .collect();
    expected.insert(6, huge.into_bytes());
    assert_eq!(recovered.len(), expected.len());
    for (got, want) in recovered.iter().zip(&expected) {
        assert!(got == want, "recovered {:?}", String::from_utf8_lossy(got));
    }
    let state = store.get("dl").unwrap();
    let offset = state.streams["input"].data["offset"].as_u64();
    assert_eq!(offset, Some(input.len() as u64));
}
