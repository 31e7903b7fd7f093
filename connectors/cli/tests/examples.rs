//! The example configurations in `examples/` run as documented, through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

fn run(config: &Path, dir: &Path, env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rivven-connect"));
    c.args(["-c"])
        .arg(config)
        .arg("run")
        .current_dir(dir)
        .env("NO_COLOR", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn quickstart_is_what_init_prints_and_runs_as_is() {
    let init = Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .arg("init")
        .output()
        .unwrap();
    assert!(init.status.success());
    let printed = String::from_utf8(init.stdout).unwrap();
    assert_eq!(
        printed,
        std::fs::read_to_string(example("quickstart.yaml")).unwrap()
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connect.yaml");
    std::fs::write(&config, &printed).unwrap();
    let out = run(&config, dir.path(), &[]);
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!events.is_empty(), "the quickstart prints events");
    for e in &events {
        let data = &e["data"];
        assert!(data["total"].as_f64().unwrap() >= 100.0, "{e}");
        assert_ne!(data["status"], "cancelled", "{e}");
        let email = data["customer_email"].as_str().unwrap_or_default();
        assert!(
            email.starts_with('*') && !email.contains("customer"),
            "masked: {e}"
        );
    }
    // Offsets were committed under ./rivven-data: a second run prints nothing new.
    let again = run(&config, dir.path(), &[]);
    assert!(
        again.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

#[test]
fn cdc_simulation_flattens_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("users.jsonl");
    run(
        &example("cdc-simulation.yaml"),
        dir.path(),
        &[
            ("CDC_OUTPUT", output.display().to_string()),
            ("CDC_EVENTS", "300".into()),
        ],
    );
    let rows = lines(&output);
    assert_eq!(rows.len(), 300);
    let mut ops = std::collections::HashMap::new();
    for row in &rows {
        let op = row["__op"].as_str().unwrap().to_string();
        assert!(row["user_id"].is_u64(), "flattened row: {row}");
        assert!(
            row.get("before").is_none() && row.get("after").is_none(),
            "{row}"
        );
        assert!(row["__table"].is_string(), "{row}");
        if op == "d" {
            assert_eq!(row["__deleted"], true, "{row}");
        }
        *ops.entry(op).or_insert(0) += 1;
    }
    assert!(
        ops["c"] > ops["u"] && ops["u"] > ops["d"] && ops["d"] > 0,
        "{ops:?}"
    );
}

#[test]
fn dead_letter_keeps_every_rejected_record_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    run(
        &example("dead-letter.yaml"),
        dir.path(),
        &[
            (
                "DLQ_INPUT",
                example("data/orders-dirty.jsonl").display().to_string(),
            ),
            ("DLQ_OUTPUT", dir.path().display().to_string()),
        ],
    );
    let good = lines(&dir.path().join("good.jsonl"));
    let dead = lines(&dir.path().join("dead-letter.jsonl"));
    assert_eq!(good.len() + dead.len(), 20, "nothing lost");
    assert_eq!(dead.len(), 4, "the four malformed orders");
    for g in &good {
        assert!(g["quantity"].is_i64() && g["total"].is_f64(), "cast: {g}");
    }
    let mut rejected: Vec<u64> = Vec::new();
    for d in &dead {
        let text = d.to_string();
        assert!(
            text.contains("cast: field `"),
            "the dead letter says why: {d}"
        );
        let id = d.pointer("/data/event/data/order_id");
        rejected.push(
            id.and_then(Value::as_u64)
                .unwrap_or_else(|| panic!("original kept: {d}")),
        );
    }
    rejected.sort_unstable();
    assert_eq!(rejected, [4, 9, 13, 17]);
}

#[test]
fn multi_pipeline_runs_the_enabled_pipelines() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &example("multi-pipeline.yaml"),
        dir.path(),
        &[
            ("MULTI_OUTPUT", dir.path().display().to_string()),
            ("MULTI_EVENTS", "50".into()),
        ],
    );
    assert!(
        out.stdout.is_empty(),
        "the disabled console pipeline did not run"
    );
    let users = lines(&dir.path().join("users.jsonl"));
    assert_eq!(users.len(), 50);
    assert!(
        users
            .iter()
            .all(|u| u["email"].as_str().unwrap().starts_with('*')),
        "masked"
    );
    assert_eq!(lines(&dir.path().join("pageviews.jsonl")).len(), 50);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("users-masked") && summary.contains("pageviews"),
        "{summary}"
    );
}

/// Fails before the fix: `cdc-simulation.yaml` and `multi-pipeline.yaml`
/// both appended to `./rivven-data/users.jsonl` with their defaults. With no
/// variables set, no two example configurations share an output file or a
/// data directory (where their offsets live).
#[test]
fn examples_write_to_distinct_paths_by_default() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut owners: std::collections::BTreeMap<PathBuf, String> = Default::default();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let config = rivven_connect::config::ConnectConfig::from_str(&text)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut paths = vec![config.data_dir.clone()];
        for sink in config.sinks.values() {
            if sink.connector == "file" {
                let p = sink.config.value()["path"].as_str().unwrap();
                paths.push(PathBuf::from(p));
            }
        }
        for p in paths {
            if let Some(other) = owners.insert(p.clone(), name.clone()) {
                panic!("{name} and {other} both use {}", p.display());
            }
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} example configurations");
}
