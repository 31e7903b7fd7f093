//! Tests of the `file` source.

use super::*;
use crate::builtin::file::lines::LineReader;
use tokio::io::BufReader;

async fn read_all(config: &FileSourceConfig, state: Option<State>) -> Vec<Result<SourceEvent>> {
    FileSource
        .read(config, &ConfiguredCatalog::default(), state)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .collect()
        .await
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

#[tokio::test]
async fn reads_lines_with_offsets_and_resumes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write(&dir, "orders.jsonl", "{\"id\":1}\n\n{\"id\":2}\n{\"id\":3}");
    let config = FileSourceConfig {
        read_unterminated_last_line: true,
        ..FileSourceConfig::new(&path)
    };
    let events: Vec<SourceEvent> = read_all(&config, None)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].stream, "orders");
    assert_eq!(events[1].data, json!({"id": 2}));
    let offsets: Vec<Value> = events
        .iter()
        .map(|e| {
            e.metadata
                .state
                .as_ref()
                .map(|s| s["offset"].clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(offsets, vec![json!(9), json!(19), json!(27)]);

    let mut state = State::new();
    if let Some(update) = &events[1].metadata.state {
        state.apply_stream_update("orders", update);
    }
    let rest: Vec<SourceEvent> = read_all(&config, Some(state))
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].data, json!({"id": 3}));
    assert_eq!(
        rest[0].metadata.state.as_ref().map(|s| s["line"].clone()),
        Some(json!(4))
    );
}

#[tokio::test]
async fn a_bad_line_is_a_data_error_naming_file_and_line_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write(&dir, "in.jsonl", "{\"id\":1}\n{oops\n{\"id\":3}\n");
    let items = read_all(&FileSourceConfig::new(&path), None).await;
    assert_eq!(items.len(), 4, "event, error, state past the error, event");
    let err = items[1].as_ref().err().map(|e| (e.kind(), e.to_string()));
    let (kind, text) = err.unwrap_or_else(|| panic!("line 2 must fail"));
    assert_eq!(kind, crate::ErrorKind::Data);
    assert!(text.contains("in.jsonl line 2 (byte offset 9)"), "{text}");
    let past = items[2]
        .as_ref()
        .map(|e| e.data["streams"]["in"]["data"]["offset"].clone());
    assert_eq!(past.ok(), Some(json!(15)));
    assert!(items[3].is_ok());
}

#[tokio::test]
async fn text_format_and_missing_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write(&dir, "log.txt", "hello\r\nworld\n");
    let mut config = FileSourceConfig::new(&path);
    config.format = FileSourceFormat::Text;
    let events: Vec<SourceEvent> = read_all(&config, None)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(events[0].data, json!({"line": "hello"}));
    let missing = FileSourceConfig::new(dir.path().join("nope.jsonl"));
    let err = FileSource
        .read(&missing, &ConfiguredCatalog::default(), None)
        .await
        .err();
    assert!(err
        .map(|e| e.to_string())
        .unwrap_or_default()
        .contains("nope.jsonl"));
    let check = FileSource
        .check(&missing)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!check.is_success());
}

#[tokio::test]
async fn truncated_file_is_reported_not_silently_reread() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write(&dir, "t.jsonl", "{}\n");
    let state = State::builder()
        .stream_data("t", "offset", json!(100))
        .build();
    let err = FileSource
        .read(
            &FileSourceConfig::new(&path),
            &ConfiguredCatalog::default(),
            Some(state),
        )
        .await
        .err();
    assert!(err
        .map(|e| e.to_string())
        .unwrap_or_default()
        .contains("past the end"));
}

fn offsets(items: &[Result<SourceEvent>]) -> Vec<u64> {
    items
        .iter()
        .flatten()
        .filter_map(|e| e.metadata.state.as_ref()?.get("offset")?.as_u64())
        .collect()
}

/// Fails before the fix: `hello wor` (no newline yet) was emitted as a record and
/// its offset committed, so after the writer appended `ld\n` the next run emitted `ld`.
#[tokio::test]
async fn a_line_still_being_written_is_left_for_the_next_run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write(&dir, "log.txt", "first\nhello wor");
    let config = FileSourceConfig {
        format: FileSourceFormat::Text,
        ..FileSourceConfig::new(&path)
    };
    let items = read_all(&config, None).await;
    let events: Vec<&SourceEvent> = items.iter().flatten().collect();
    assert_eq!(events.len(), 1, "only the terminated line: {events:?}");
    assert_eq!(events[0].data, json!({"line": "first"}));
    assert_eq!(
        offsets(&items),
        vec![6],
        "nothing committed past the last newline"
    );

    let mut state = State::new();
    if let Some(update) = &events[0].metadata.state {
        state.apply_stream_update("log", update);
    }
    std::fs::write(&path, "first\nhello world\n").unwrap_or_else(|e| panic!("{e}"));
    let rest: Vec<SourceEvent> = read_all(&config, Some(state))
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].data, json!({"line": "hello world"}));
}

/// Fails before the fix: the option did not exist (unknown field); with it, a
/// complete file whose last line lacks the newline is read to its end.
#[tokio::test]
async fn read_unterminated_last_line_reads_a_complete_file_to_its_end() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write(&dir, "done.jsonl", "{\"id\":1}\n{\"id\":2}");
    let config: FileSourceConfig =
        serde_json::from_value(json!({"path": path, "read_unterminated_last_line": true}))
            .unwrap_or_else(|e| panic!("{e}"));
    let items = read_all(&config, None).await;
    assert_eq!(offsets(&items), vec![9, 17]);
    let default: FileSourceConfig =
        serde_json::from_value(json!({"path": path})).unwrap_or_else(|e| panic!("{e}"));
    assert!(!default.read_unterminated_last_line);
    assert_eq!(offsets(&read_all(&default, None).await), vec![9]);
}

/// Fails before the fix: the error carried no raw record, so a dead letter lost the line.
#[tokio::test]
async fn rejected_lines_carry_the_whole_line_and_a_short_preview() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let long_bad = format!("{{\"text\": \"{}\"", "x".repeat(1000));
    let mut input = Vec::new();
    input.extend_from_slice(long_bad.as_bytes());
    input.extend_from_slice(b"\n{\"ok\":1}\n\xff\xfe{\"a\":1}\r\n");
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, &input).unwrap_or_else(|e| panic!("{e}"));
    let items = read_all(&FileSourceConfig::new(&path), None).await;
    let errors: Vec<&ConnectorError> = items.iter().filter_map(|i| i.as_ref().err()).collect();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].raw_record(), Some(long_bad.as_bytes()));
    assert!(
        errors[0].message().len() < long_bad.len() / 2,
        "{}",
        errors[0].message()
    );
    let shown = errors[0].message().rsplit(": ").next().unwrap_or_default();
    assert!(shown.chars().count() <= PREVIEW_CHARS + 1, "{shown}");
    assert_eq!(errors[1].raw_record(), Some(&b"\xff\xfe{\"a\":1}\r"[..]));
    assert!(
        errors[1].message().contains("line 3"),
        "{}",
        errors[1].message()
    );
    assert!(errors[1].message().contains("not UTF-8"));
}

/// Fails before the fix: there was no `max_line_bytes`; a 100 MiB line was read
/// whole into memory (and accepted).
#[tokio::test]
async fn a_100_mib_line_is_skipped_with_bounded_memory_and_the_next_line_is_read() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("huge.jsonl");
    let huge: u64 = 100 * 1024 * 1024;
    {
        use std::io::Write;
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}")));
        let chunk = vec![b'a'; 1024 * 1024];
        let mut write = |b: &[u8]| f.write_all(b).unwrap_or_else(|e| panic!("{e}"));
        write(b"{\"id\":1}\n");
        for _ in 0..100 {
            write(&chunk);
        }
        write(b"\n{\"id\":2}\n");
        f.flush().unwrap_or_else(|e| panic!("{e}"));
    }
    let config = FileSourceConfig::new(&path);
    let started = std::time::Instant::now();
    let items = read_all(&config, None).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let err = items
        .iter()
        .find_map(|i| i.as_ref().err())
        .unwrap_or_else(|| panic!("the huge line must be rejected"));
    assert_eq!(err.kind(), crate::ErrorKind::Data);
    assert!(err.raw_record().is_none());
    let text = err.message();
    for part in [
        "huge.jsonl line 2 (byte offset 9)",
        "max_line_bytes (16777216 bytes)",
        &format!("bytes 9..{} ({huge} bytes", 9 + huge),
    ] {
        assert!(text.contains(part), "{part} not in {text}");
    }
    let events: Vec<&SourceEvent> = items.iter().flatten().filter(|e| e.is_data()).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].data, json!({"id": 2}));
    assert_eq!(offsets(&items), vec![9, 9 + huge + 1 + 9]);

    // What the reader held for that line stays at the limit, not the line.
    let file = tokio::fs::File::open(&path)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut lines = LineReader::new(
        BufReader::with_capacity(config.buffer_size, file),
        config.max_line_bytes,
    );
    while lines
        .next_line()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .is_some()
    {}
    assert!(
        lines.peak_buffered() <= 2 * config.max_line_bytes,
        "held {} bytes",
        lines.peak_buffered()
    );
}

/// Fails before the fix: no limit existed. A line of exactly `max_line_bytes`
/// is read, one byte more is rejected, and reading goes on.
#[tokio::test]
async fn a_line_of_exactly_max_line_bytes_is_read() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let max = 1024;
    let fit = format!("\"{}\"", "a".repeat(max - 2));
    let over = format!("\"{}\"", "a".repeat(max - 1));
    let path = write(&dir, "edge.jsonl", &format!("{fit}\n{over}\n[1]\n"));
    let config = FileSourceConfig {
        max_line_bytes: max,
        ..FileSourceConfig::new(&path)
    };
    let items = read_all(&config, None).await;
    let data: Vec<&SourceEvent> = items.iter().flatten().filter(|e| e.is_data()).collect();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0].data.as_str().map(str::len), Some(max - 2));
    assert_eq!(data[1].data, json!([1]));
    let err = items.iter().find_map(|i| i.as_ref().err());
    let text = err.map(|e| e.message().to_string()).unwrap_or_default();
    assert!(
        text.contains("line 2") && text.contains("(1025 bytes"),
        "{text}"
    );
}

#[test]
fn a_format_without_a_reader_in_this_build_is_refused_naming_the_key() {
    let load = |config: Value| {
        <FileSourceConfig as crate::SourceConfig>::from_value(config)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let text = load(json!({"path": "in.x", "format": "xml"}));
    assert!(text.contains("format: no format `xml`"), "{text}");
    assert!(text.contains("rivven-connect-storage"), "{text}");
    let text = load(json!({"path": "in.json", "format": "json"}));
    assert!(
        text.contains("format: `json` cannot be read record by record"),
        "{text}"
    );
    let text = load(json!({"path": "in.txt", "format": "text", "format_options": {"a": 1}}));
    assert!(text.contains("format_options: only a registered"), "{text}");
    let jsonl: FileSourceConfig =
        crate::SourceConfig::from_value(json!({"path": "in.jsonl", "format": "jsonl"}))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(jsonl.format, FileSourceFormat::Jsonl);
}

/// A registered reader (here `jsonl`'s, asked for by a name the source does
/// not read itself) goes through the record path: offsets and errors as for
/// the source's own formats.
#[tokio::test]
async fn a_registered_reader_without_quotes_reads_line_by_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write(&dir, "r.jsonl", "{\"id\":1}\nnope\n{\"id\":2}\n");
    let config = FileSourceConfig {
        format: FileSourceFormat::Registered("jsonl".into()),
        ..FileSourceConfig::new(&path)
    };
    let items = read_all(&config, None).await;
    let err = items.iter().find_map(|i| i.as_ref().err());
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        text.contains("r.jsonl line 2 (byte offset 9): invalid JSON"),
        "{text}"
    );
    assert_eq!(offsets(&items), vec![9, 23]);
}
