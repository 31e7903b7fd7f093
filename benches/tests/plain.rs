//! The plain-loop baselines do the same job as the connectors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::StreamExt;
use rivven_connect::builtin::{DataPattern, DatagenConfig, DatagenSource};
use rivven_connect::prelude::*;
use rivven_connect_benches::{plain, process};
use serde_json::{json, Value};

#[tokio::test]
async fn plain_orders_are_the_datagen_orders_pattern() {
    let mut config = DatagenConfig::new(DataPattern::Orders);
    config.events_per_second = 0;
    config.max_events = 300;
    config.seed = Some(42);
    let events: Vec<SourceEvent> = DatagenSource::new()
        .read(&config, &ConfiguredCatalog::default(), None)
        .await
        .unwrap()
        .map(|e| e.unwrap())
        .collect()
        .await;
    assert_eq!(events.len(), 300);
    for (id, e) in events.iter().enumerate() {
        assert_eq!(e.data, plain::orders_row(42, id as u64), "order {id}");
    }
}

#[test]
fn plain_w1f_drops_cancelled_and_masks_the_email() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let output = dir.path().join("out.jsonl");
    std::fs::write(
        &input,
        concat!(
            "{\"order_id\":1,\"status\":\"paid\",\"customer_email\":\"a@x\"}\n",
            "{\"order_id\":2,\"status\":\"cancelled\",\"customer_email\":\"b@x\"}\n",
            "\n",
            "{\"order_id\":3,\"status\":\"shipped\",\"customer_email\":\"c@x\"}\n",
        ),
    )
    .unwrap();
    let counts = plain::w1f(&input, &output).unwrap();
    assert_eq!((counts.read, counts.written), (3, 2));
    let lines: Vec<Value> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            json!({"order_id": 1, "status": "paid", "customer_email": "***"}),
            json!({"order_id": 3, "status": "shipped", "customer_email": "***"}),
        ]
    );
}

#[test]
fn plain_w1_writes_the_orders_that_are_not_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.jsonl");
    let counts = plain::w1(2000, 42, &output).unwrap();
    let kept = (0..2000)
        .filter(|&id| plain::orders_row(42, id)["status"] != "cancelled")
        .count() as u64;
    assert_eq!((counts.read, counts.written), (2000, kept));
    assert!(kept > 0 && kept < 2000);
    let text = std::fs::read_to_string(&output).unwrap();
    assert_eq!(text.lines().count() as u64, kept);
    assert!(!text.contains("@example.com"));
}

#[test]
fn process_run_reports_exit_status_output_and_usage() {
    let done = process::run(std::process::Command::new("sh").args([
        "-c",
        "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo done; exit 3",
    ]))
    .unwrap();
    assert_eq!(done.status.code(), Some(3));
    assert_eq!(done.stdout, b"done\n");
    assert!(done.cpu_seconds > 0.0, "the shell's busy loop used CPU");
    assert!(done.peak_rss > 0);
    assert!(done.wall_seconds >= done.cpu_seconds * 0.5);
}
