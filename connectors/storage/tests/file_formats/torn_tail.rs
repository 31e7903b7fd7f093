//! A crash mid-write leaves a partial CSV row; reopening cuts it back.

use rivven_connect::builtin::FileSink;
use rivven_connect::prelude::*;
use serde_json::{json, Value};

use crate::support::*;

fn batch(data: Vec<Value>) -> BoxStream<'static, SourceEvent> {
    futures::stream::iter(data.into_iter().map(|d| SourceEvent::record("s", d))).boxed()
}

/// Fails before the change (no CSV in the `file` sink). The file is cut at
/// every byte of its last row — inside quotes, right after a quoted
/// newline, just before the row's newline — and a new sink (a restart)
/// writes one more row: the torn row is gone, every complete row and the
/// one header stay, and both readers agree.
#[tokio::test]
async fn every_cut_inside_the_last_row_is_cut_back_when_the_file_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let full_path = dir.path().join("full.csv");
    let rows = vec![
        json!({"id": 0, "note": "plain"}),
        json!({"id": 1, "note": "two\nlines, \"quoted\""}),
        json!({"id": 2, "note": "last\n\"row\", torn"}),
    ];
    FileSink::new()
        .write(&csv_sink(&full_path, Value::Null), batch(rows.clone()))
        .await
        .unwrap();
    let full = std::fs::read(&full_path).unwrap();
    let text = String::from_utf8(full.clone()).unwrap();
    let last_row_start = text.find("2,\"last").unwrap();
    let next = json!({"id": 9, "note": "after, the \"crash\"\n"});
    for cut in last_row_start..full.len() {
        let path = dir.path().join(format!("cut-{cut}.csv"));
        std::fs::write(&path, &full[..cut]).unwrap();
        FileSink::new()
            .write(&csv_sink(&path, Value::Null), batch(vec![next.clone()]))
            .await
            .unwrap();
        let (events, errors) = read_back(&csv_source(&path, Value::Null), None).await;
        assert!(errors.is_empty(), "cut {cut}: {errors:?}");
        let expected = vec![rows[0].clone(), rows[1].clone(), next.clone()];
        assert_eq!(data(&events), expected, "cut at byte {cut}");
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            written.matches("id,note").count(),
            1,
            "cut {cut}: {written}"
        );
    }
    // The independent reader on one of them (a cut inside the quoted newline).
    let inside = last_row_start + "2,\"last\n".len();
    let seen = python_csv(&dir.path().join(format!("cut-{inside}.csv")), ",");
    assert_eq!(seen["arrow_rows"], json!(3));
    assert_eq!(seen["rows"][2]["note"], next["note"]);
}

/// A torn header, or a header alone (its first row torn away), starts the
/// file afresh with the columns of the next event.
#[tokio::test]
async fn a_torn_or_lonely_header_starts_the_file_again() {
    let dir = tempfile::tempdir().unwrap();
    for (name, left) in [
        ("torn.csv", "id,no"),
        ("alone.csv", "id,note\n"),
        ("alone-torn.csv", "id,note\n1,\"x"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, left).unwrap();
        FileSink::new()
            .write(
                &csv_sink(&path, Value::Null),
                batch(vec![json!({"a": 1, "b": 2})]),
            )
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a,b\n1,2\n",
            "{name}"
        );
    }
}
