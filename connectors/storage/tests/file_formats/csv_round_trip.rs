//! CSV from the `file` sink back through the `file` source and Python.

use rivven_connect::builtin::{FileSink, FileSinkConfig, FileSinkFormat, FileSourceConfig};
use rivven_connect::prelude::*;
use serde_json::{json, Value};

use crate::support::*;

/// Fails before the change: the `file` sink wrote only JSON Lines (the
/// config had no `output_format`) and the source read no CSV.
#[tokio::test]
async fn csv_written_through_the_runtime_reads_back_exactly_and_python_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.csv");
    run_orders(csv_sink(&path, json!({"delimiter": ";"})), 200).await;

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("address;coupon;customer;id;items;paid;total\n"),
        "{text:.200}"
    );
    assert_eq!(text.matches("address;coupon").count(), 1, "one header");

    let (events, errors) = read_back(&csv_source(&path, json!({"delimiter": ";"})), None).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(data(&events), (0..200).map(order).collect::<Vec<_>>());

    let seen = python_csv(&path, ";");
    let rows = seen["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 200);
    assert_eq!(seen["arrow_rows"], json!(200));
    assert_eq!(
        seen["arrow_columns"],
        json!(["address", "coupon", "customer", "id", "items", "paid", "total"])
    );
    for (i, row) in rows.iter().enumerate() {
        let want = order(i as u64);
        assert_eq!(row["customer"], want["customer"], "row {i}");
        assert_eq!(row["id"], json!(i.to_string()));
        let address: Value = serde_json::from_str(row["address"].as_str().unwrap()).unwrap();
        assert_eq!(address, want["address"], "nested values are JSON strings");
        let coupon = want["coupon"].as_str().unwrap_or("NULL");
        assert_eq!(row["coupon"], json!(coupon));
    }
}

/// Fails before the change (no CSV source). The state after a row resumes
/// at the next row, also after the sink reopened the file and appended (its
/// header read back, not written again).
#[tokio::test]
async fn a_restarted_source_resumes_at_the_next_row_and_a_reopened_sink_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.csv");
    run_orders(csv_sink(&path, Value::Null), 120).await;
    let source = csv_source(&path, Value::Null);
    let (first, _) = read_back(&source, None).await;
    assert_eq!(first.len(), 120);
    let state = state_after("orders", &first[79]);
    let (rest, errors) = read_back(&source, Some(state)).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(data(&rest), (80..120).map(order).collect::<Vec<_>>());

    // A second run of the sink (a restart) appends to the same file.
    run_orders(csv_sink(&path, Value::Null), 30).await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.matches("address,coupon,customer").count(),
        1,
        "one header"
    );
    let state = state_after("orders", &first[119]);
    let (appended, errors) = read_back(&source, Some(state)).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(data(&appended), (0..30).map(order).collect::<Vec<_>>());
    let lines = appended
        .last()
        .and_then(|e| e.metadata.state.clone())
        .unwrap();
    assert_eq!(lines["offset"], json!(text.len()));
    assert_eq!(python_csv(&path, ",")["arrow_rows"], json!(150));
}

fn write_batch(data: &[Value]) -> BoxStream<'static, SourceEvent> {
    let events: Vec<SourceEvent> = data
        .iter()
        .map(|d| SourceEvent::record("s", d.clone()))
        .collect();
    futures::stream::iter(events).boxed()
}

async fn read_file(path: &std::path::Path) -> Vec<Value> {
    let mut config = FileSourceConfig::new(path);
    config.format = rivven_connect::builtin::FileSourceFormat::Registered("csv".into());
    let (events, errors) = read_back(&config, None).await;
    assert!(errors.is_empty(), "{errors:?}");
    data(&events)
}

/// Fails before the change (no CSV in the `file` sink). A key the file has
/// no column for rotates the file; the new one's header is the union, and
/// a restarted sink reads the header back before deciding.
#[tokio::test]
async fn a_wider_event_rotates_to_a_new_file_with_one_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.csv");
    let config = csv_sink(&path, Value::Null);
    let sink = FileSink::new();
    let r = sink
        .write(
            &config,
            write_batch(&[
                json!({"a": 1}),
                json!({"a": 2}),
                json!({"a": 3, "b": "x"}),
                json!({"a": 4}),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(r.records_written, 4);
    let rotated = dir.path().join("w.csv.1");
    assert_eq!(std::fs::read_to_string(&rotated).unwrap(), "a\n1\n2\n");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "a,b\n3,x\n4,NULL\n"
    );
    drop(sink);

    let again = FileSink::new();
    again
        .write(
            &config,
            write_batch(&[json!({"b": "y"}), json!({"c": true})]),
        )
        .await
        .unwrap();
    let second = dir.path().join("w.csv.2");
    assert_eq!(
        std::fs::read_to_string(&second).unwrap(),
        "a,b\n3,x\n4,NULL\nNULL,y\n"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "a,b,c\nNULL,NULL,true\n"
    );
    assert_eq!(
        read_file(&rotated).await,
        vec![json!({"a": 1}), json!({"a": 2})]
    );
    assert_eq!(
        read_file(&second).await,
        vec![
            json!({"a": 3, "b": "x"}),
            json!({"a": 4, "b": null}),
            json!({"a": null, "b": "y"})
        ]
    );
    assert_eq!(
        read_file(&path).await,
        vec![json!({"a": null, "b": null, "c": true})]
    );
}

/// Every CSV option shapes the file, and the source reads it back with the
/// same block; without a header the columns come from `columns`.
#[tokio::test]
async fn every_csv_option_is_written_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.tsv");
    let options = json!({
        "delimiter": "\t", "quote_char": "'", "always_quote": true, "line_ending": "crlf",
        "null_value": "", "columns": ["id", "note", "deep"],
    });
    let config = csv_sink(&path, options.clone());
    let rows = [
        json!({"id": 1, "note": "it's\ta\r\nb", "deep": {"x": [1, "y"]}, "other": 5}),
        json!({"id": 2, "note": null}),
    ];
    FileSink::new()
        .write(&config, write_batch(&rows))
        .await
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "'id'\t'note'\t'deep'\r\n'1'\t'it''s\ta\r\nb'\t'{\"x\":[1,\"y\"]}'\r\n'2'\t''\t''\r\n"
    );
    let (events, errors) = read_back(&csv_source(&path, options.clone()), None).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        data(&events),
        vec![
            json!({"id": 1, "note": "it's\ta\r\nb", "deep": {"x": [1, "y"]}}),
            json!({"id": 2, "note": null, "deep": null}),
        ]
    );

    let headerless = dir.path().join("h.csv");
    let options = json!({"include_header": false, "columns": ["id", "name"]});
    let config = csv_sink(&headerless, options.clone());
    // One sink, two writes (a file has one writer: a second sink on the same
    // file while the first still holds it is refused).
    let sink = FileSink::new();
    for batch in [
        [json!({"id": 1, "name": "a"})],
        [json!({"id": 2, "name": "b,c"})],
    ] {
        sink.write(&config, write_batch(&batch)).await.unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&headerless).unwrap(),
        "1,a\n2,\"b,c\"\n"
    );
    let (events, _) = read_back(&csv_source(&headerless, options), None).await;
    assert_eq!(
        data(&events),
        vec![
            json!({"id": 1, "name": "a"}),
            json!({"id": 2, "name": "b,c"})
        ]
    );
}

/// `format: event` holds for CSV too: the whole event per row, nested parts as JSON.
#[tokio::test]
async fn format_event_writes_whole_events_as_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.csv");
    let config = FileSinkConfig {
        format: FileSinkFormat::Event,
        ..csv_sink(&path, Value::Null)
    };
    FileSink::new()
        .write(&config, write_batch(&[json!({"id": 7})]))
        .await
        .unwrap();
    let rows = read_file(&path).await;
    assert_eq!(rows[0]["stream"], json!("s"));
    assert_eq!(rows[0]["data"], json!({"id": 7}));
}

/// JSON Lines named explicitly is the sink's default path and reads back.
#[tokio::test]
async fn jsonl_round_trips_through_the_file_sink_and_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.jsonl");
    let config: FileSinkConfig = SinkConfig::from_value(json!({
        "path": path, "output_format": "jsonl"
    }))
    .unwrap();
    run_orders(config, 150).await;
    let mut source = FileSourceConfig::new(&path);
    source.stream_name = Some("orders".into());
    let (events, errors) = read_back(&source, None).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(data(&events), (0..150).map(order).collect::<Vec<_>>());
    let (rest, _) = read_back(&source, Some(state_after("orders", &events[99]))).await;
    assert_eq!(data(&rest), (100..150).map(order).collect::<Vec<_>>());
}

/// `max_file_bytes` rotates CSV files too, and every file starts with its
/// header (the batch that would overflow is encoded again as a new file).
#[tokio::test]
async fn max_file_bytes_rotates_csv_files_each_with_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    let config = FileSinkConfig {
        max_file_bytes: 30,
        ..csv_sink(&path, Value::Null)
    };
    let sink = FileSink::new();
    for i in 0..4u64 {
        let batch: Vec<Value> = (i * 3..i * 3 + 3)
            .map(|id| json!({"id": id, "v": "xx"}))
            .collect();
        sink.write(&config, write_batch(&batch)).await.unwrap();
    }
    let mut all = Vec::new();
    for name in ["r.csv.1", "r.csv.2", "r.csv.3", "r.csv"] {
        let file = dir.path().join(name);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("id,v\n"), "{name}: {text}");
        assert_eq!(text.matches("id,v").count(), 1, "{name}: {text}");
        let rows = read_file(&file).await;
        assert_eq!(rows.len(), 3, "{name}");
        all.extend(rows.into_iter().map(|r| r["id"].as_u64().unwrap()));
    }
    assert_eq!(all, (0..12).collect::<Vec<_>>());
}
