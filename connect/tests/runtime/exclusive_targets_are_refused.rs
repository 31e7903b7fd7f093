//! Two sinks on one file, or two pipelines whose offsets would share one file,
//! are refused when the runtime starts, naming both.

use rivven_connect::builtin::{DatagenConfig, DatagenSource, FileSink, FileSinkConfig};
use rivven_connect::runtime::{FileOffsetStore, MemoryOffsetStore, OnError, Pipeline, Runtime};

fn datagen() -> DatagenConfig {
    serde_json::from_value(
        serde_json::json!({"pattern": "sequence", "max_events": 10, "events_per_second": 0}),
    )
    .unwrap()
}

fn to_file(name: &str, path: &std::path::Path) -> rivven_connect::runtime::PipelineBuilder {
    Pipeline::builder(name)
        .source(DatagenSource::new(), datagen())
        .sink(FileSink::new(), FileSinkConfig::new(path))
}

/// Fails before the fix: both pipelines started, each with its own writer on
/// the same path, and the file lost and tore lines while both reported success.
#[tokio::test]
async fn two_pipelines_writing_one_file_do_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    // The same file, spelled differently.
    let other = dir
        .path()
        .join(".")
        .join("sub")
        .join("..")
        .join("out.jsonl");
    let err = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(to_file("a", &path))
        .pipeline(to_file("b", &other))
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pipeline `a`") && err.contains("pipeline `b`"),
        "{err}"
    );
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(!path.exists(), "nothing was started");
}

/// Fails before the fix: the dead-letter sink and the main sink appended to
/// one file through two writers.
#[tokio::test]
async fn a_dead_letter_sink_on_the_main_sink_file_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let err = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            to_file("a", &path)
                .dead_letter(FileSink::new(), FileSinkConfig::new(&path))
                .settings(
                    rivven_connect::runtime::PipelineSettings::default()
                        .with_on_error(OnError::DeadLetter),
                ),
        )
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("dead-letter sink"), "{err}");
}

#[tokio::test]
async fn distinct_files_start() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(to_file("a", &dir.path().join("a.jsonl")))
        .pipeline(to_file("b", &dir.path().join("b.jsonl")))
        .start()
        .await
        .unwrap();
    assert!(runtime.wait().await.all_succeeded());
}

/// Names that differ only in case would be one offset file on a
/// case-insensitive disk.
#[tokio::test]
async fn pipelines_sharing_an_offset_file_do_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let err = Runtime::builder()
        .offset_store(FileOffsetStore::new(dir.path()))
        .pipeline(to_file("Orders", &dir.path().join("a.jsonl")))
        .pipeline(to_file("orders", &dir.path().join("b.jsonl")))
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`Orders`") && err.contains("`orders`"),
        "{err}"
    );
}
