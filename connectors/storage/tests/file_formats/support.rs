//! Shared helpers: hostile orders, a runtime pipeline into the `file` sink,
//! reading a file back with the `file` source, and Python's view of a CSV file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rivven_connect::builtin::{FileSink, FileSinkConfig, FileSource, FileSourceConfig};
use rivven_connect::prelude::*;
use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, PipelineSettings, Runtime};
use rivven_connect_testing::prelude::*;
use rivven_connect_testing::services::test_python;
use serde_json::{json, Value};

/// Order `i`: text with the delimiter, quotes, a newline and non-ASCII, a
/// nested object and an array (written as JSON strings), a null now and then.
pub fn order(i: u64) -> Value {
    json!({
        "id": i,
        "customer": format!("c{}; \"quoted\", ok\nnext line ü", i % 97),
        "total": (i as f64) * 1.25 + 0.5,
        "paid": i.is_multiple_of(3),
        "coupon": if i.is_multiple_of(5) { Value::Null } else { json!(format!("K{i}")) },
        "address": {"city": "Zürich", "zip": i % 1000},
        "items": [i % 7, i % 11],
    })
}

/// Runs orders `0..n` into the `file` sink through a real runtime.
pub async fn run_orders(config: FileSinkConfig, n: u64) {
    let source =
        MockSource::counting(n).with_generator(n, |i| SourceEvent::record("orders", order(i)));
    let settings = PipelineSettings::default()
        .with_batch_size(64)
        .with_linger(Duration::from_millis(5));
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("orders-to-file")
                .source(source, MockConfig::default())
                .sink(FileSink::new(), config)
                .settings(settings),
        )
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = tokio::time::timeout(Duration::from_secs(120), runtime.wait())
        .await
        .unwrap_or_else(|_| panic!("the pipeline did not finish in 120 s"));
    let p = &status.pipelines[0];
    assert_eq!(p.events_written, n, "{p:?}");
}

/// Everything the `file` source reads from `config` (from `state`): the
/// events, and the errors as text.
pub async fn read_back(
    config: &FileSourceConfig,
    state: Option<State>,
) -> (Vec<SourceEvent>, Vec<String>) {
    let items: Vec<Result<SourceEvent>> = FileSource::new()
        .read(config, &ConfiguredCatalog::default(), state)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .collect()
        .await;
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        match item {
            Ok(e) if e.is_data() => events.push(e),
            Ok(_) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    (events, errors)
}

/// The data of `events`.
pub fn data(events: &[SourceEvent]) -> Vec<Value> {
    events.iter().map(|e| e.data.clone()).collect()
}

/// The state after `event`, as a restarted pipeline gets it.
pub fn state_after(stream: &str, event: &SourceEvent) -> State {
    let mut state = State::new();
    if let Some(update) = &event.metadata.state {
        state.apply_stream_update(stream, update);
    }
    state
}

/// What Python sees in a CSV file: `csv` module rows (every field a
/// string), and pyarrow's row count and column names.
pub fn python_csv(path: &Path, delimiter: &str) -> Value {
    let python = test_python(&["pyarrow"]).unwrap_or_else(|e| panic!("{e}"));
    let script = r#"
import csv, json, sys
import pyarrow.csv as pc
path, delimiter = sys.argv[1], sys.argv[2]
with open(path, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f, delimiter=delimiter))
table = pc.read_csv(path, parse_options=pc.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                    read_options=pc.ReadOptions(use_threads=False))
print(json.dumps({"rows": rows, "arrow_rows": table.num_rows, "arrow_columns": table.column_names}))
# No thread-pool destructors at exit (they have aborted under load).
sys.stdout.flush()
import os; os._exit(0)
"#;
    let out = Command::new(python)
        .args(["-c", script])
        .arg(path)
        .arg(delimiter)
        .output()
        .unwrap_or_else(|e| panic!("running python: {e}"));
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A `file` sink config writing CSV with `options`.
pub fn csv_sink(path: &Path, options: Value) -> FileSinkConfig {
    rivven_connect_storage::link();
    FileSinkConfig::new(path).with_output_format("csv", options)
}

/// A `file` source config reading CSV with `options`.
pub fn csv_source(path: &Path, options: Value) -> FileSourceConfig {
    let mut config: FileSourceConfig = SourceConfig::from_value(json!({
        "path": path,
        "format": "csv",
        "format_options": options,
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    config.stream_name = Some("orders".into());
    config
}
