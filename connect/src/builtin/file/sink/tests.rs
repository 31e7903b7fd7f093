//! Tests of the `file` sink.

use super::*;
use futures::stream;
use serde_json::json;
use serde_json::Value;

fn events(ids: std::ops::Range<u64>) -> BoxStream<'static, SourceEvent> {
    stream::iter(ids.map(|i| SourceEvent::record("s", json!({ "id": i })))).boxed()
}

fn ids(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"))["id"]
                .as_u64()
                .unwrap_or(u64::MAX)
        })
        .collect()
}

#[tokio::test]
async fn appends_across_writes_and_sink_instances() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = FileSinkConfig {
        fsync: true,
        ..FileSinkConfig::new(dir.path().join("a/b/out.jsonl"))
    };
    let sink = FileSink::new();
    let r = sink
        .write(&config, events(0..3))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.records_written, 3);
    sink.write(&config, events(3..5))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A second writer while the first has the file open is refused.
    let err = FileSink::new()
        .write(&config, events(5..6))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("out.jsonl is being written by another process"),
        "{err}"
    );
    // Its check fails too; the writer's own check (a restart) passes.
    let other = FileSink::new()
        .check(&config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!other.is_success(), "{other:?}");
    assert!(sink
        .check(&config)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .is_success());
    drop(sink);
    FileSink::new()
        .write(&config, events(5..6))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(&config.path), (0..6).collect::<Vec<_>>());
}

/// Fails before the fix: the default was `fsync: false` while the offsets are
/// fsynced, so after a power loss the committed offset could pass unwritten lines.
#[test]
fn fsync_is_on_by_default_in_config_new_and_schema() {
    let config: FileSinkConfig =
        serde_json::from_value(json!({"path": "out.jsonl"})).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.fsync);
    assert!(FileSinkConfig::new("out.jsonl").fsync);
    let spec = serde_json::to_value(FileSink::spec()).unwrap_or_default();
    let text = spec.to_string();
    assert!(text.contains(r#""default":true"#), "{text}");
    let opt_out: FileSinkConfig = serde_json::from_value(json!({"path": "o", "fsync": false}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!opt_out.fsync);
}

#[tokio::test]
async fn torn_tail_from_a_crash_is_cut() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("out.jsonl");
    std::fs::write(&path, "{\"id\":0}\n{\"id\":1}\n{\"id\"").unwrap_or_else(|e| panic!("{e}"));
    FileSink::new()
        .write(&FileSinkConfig::new(&path), events(1..3))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(&path), vec![0, 1, 1, 2]);
    std::fs::write(&path, "no newline at all").unwrap_or_else(|e| panic!("{e}"));
    FileSink::new()
        .write(&FileSinkConfig::new(&path), events(7..8))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(&path), vec![7]);
}

/// After a torn tail, two runs (each a new sink, as after two restarts) leave
/// only complete lines: the first cuts the tail, the second appends after it.
/// (Passes before the fix too: the sink's recovery was right; the kill -9
/// test's checker was what flagged the tail. This pins the recovery down.)
#[tokio::test]
async fn two_runs_after_a_torn_tail_leave_no_torn_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("out.jsonl");
    std::fs::write(&path, "{\"id\":0}\n{\"id\":1,\"pay").unwrap_or_else(|e| panic!("{e}"));
    let config = FileSinkConfig::new(&path);
    for run in [1..3, 3..5] {
        let sink = FileSink::new();
        let check = sink.check(&config).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(check.is_success());
        sink.write(&config, events(run))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text.ends_with('\n'), "{text:?}");
    assert_eq!(ids(&path), vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn rotates_at_max_file_bytes_without_splitting_batches() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("out.jsonl");
    let config = FileSinkConfig {
        max_file_bytes: 40,
        ..FileSinkConfig::new(&path)
    };
    let sink = FileSink::new();
    for i in 0..4 {
        sink.write(&config, events(i * 3..i * 3 + 3))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut all = Vec::new();
    for n in 1..=3 {
        let rotated = dir.path().join(format!("out.jsonl.{n}"));
        let part = ids(&rotated);
        assert_eq!(part.len(), 3, "{}", rotated.display());
        all.extend(part);
    }
    all.extend(ids(&path));
    assert_eq!(all, (0..12).collect::<Vec<_>>());
}

#[tokio::test]
async fn event_format_and_unwritable_path() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("ev.jsonl");
    let config = FileSinkConfig {
        format: FileSinkFormat::Event,
        ..FileSinkConfig::new(&path)
    };
    FileSink::new()
        .write(&config, events(0..1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&path).unwrap_or_default().trim())
            .unwrap_or_default();
    assert_eq!(line["stream"], json!("s"));
    assert_eq!(line["data"]["id"], json!(0));

    let blocked = FileSinkConfig::new(path.join("below-a-file.jsonl"));
    let err = FileSink::new().write(&blocked, events(0..1)).await.err();
    assert!(err
        .map(|e| e.to_string())
        .unwrap_or_default()
        .contains("below-a-file"));
    let check = FileSink::new()
        .check(&blocked)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!check.is_success());
}

fn config_error(config: Value) -> String {
    match <FileSinkConfig as crate::SinkConfig>::from_value(config) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => {
            assert_eq!(e.kind(), crate::ErrorKind::Config);
            e.to_string()
        }
    }
}

#[test]
fn output_formats_that_are_unknown_or_make_whole_files_are_refused_naming_the_key() {
    let text = config_error(json!({"path": "o.xml", "output_format": "xml"}));
    for part in ["output_format: no format `xml`", "rivven-connect-storage"] {
        assert!(text.contains(part), "{part} not in {text}");
    }
    let text = config_error(json!({"path": "o.json", "output_format": "json"}));
    for part in [
        "output_format: `json` makes whole files",
        "object-storage",
        "provider: local",
    ] {
        assert!(text.contains(part), "{part} not in {text}");
    }
    let text = config_error(json!({"path": "o.jsonl", "format_options": {"delimiter": ";"}}));
    assert!(text.contains("format_options (jsonl)"), "{text}");
    assert!(text.contains("takes no options"), "{text}");
    // The default and an explicit `jsonl` are the same sink.
    let explicit: FileSinkConfig =
        crate::SinkConfig::from_value(json!({"path": "o.jsonl", "output_format": "jsonl"}))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(explicit, FileSinkConfig::new("o.jsonl"));
}
