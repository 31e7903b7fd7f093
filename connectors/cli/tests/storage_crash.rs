//! `kill -9` of the binary at random points while datagen writes to the
//! `object-storage` sink — the local provider and a private moto S3 — then a
//! last run to the end: every object visible is whole (every line parses),
//! no event is missing (checked by id), and no object name ever changes
//! content between rounds (replays write new names).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/crash.rs"]
mod crash;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crash::spawn;
use rivven_connect_testing::services::{
    test_python, Moto, MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY,
};
use serde_json::Value;

const N: u64 = 100_000;

/// Object name → (content digest, datagen values).
type Objects = BTreeMap<String, (u64, Vec<u64>)>;

fn digest(bytes: &[u8]) -> u64 {
    // FNV-1a: only to tell contents apart.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn parse_object(name: &str, bytes: &[u8]) -> Vec<u64> {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{name}: not UTF-8: {e}"));
    assert!(
        text.ends_with('\n'),
        "{name}: a partial object (no final newline)"
    );
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{name}: a torn line ({e}): {l:.100}"));
            v["value"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: no value: {l:.100}"))
        })
        .collect()
}

/// The objects of the local bucket; object_store's in-progress files
/// (`<name>#<n>`, never listed by it) are not objects.
fn local_objects(dir: &Path) -> Objects {
    let mut out = Objects::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            if name.contains('#') {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            out.insert(name.clone(), (digest(&bytes), parse_object(&name, &bytes)));
        }
    }
    out
}

fn s3_objects(moto: &Moto) -> Objects {
    let python = test_python(&["boto3"]).unwrap();
    let script = "import boto3, json, base64\n\
        s3 = boto3.client('s3')\n\
        out = {}\n\
        for page in s3.get_paginator('list_objects_v2').paginate(Bucket='lake'):\n\
        \x20   for o in page.get('Contents', []):\n\
        \x20       out[o['Key']] = base64.b64encode(s3.get_object(Bucket='lake', Key=o['Key'])['Body'].read()).decode()\n\
        print(json.dumps(out))";
    let out = Command::new(python)
        .args(["-c", script])
        .envs(moto.boto3_env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: BTreeMap<String, String> = serde_json::from_slice(&out.stdout).unwrap();
    use base64::Engine as _;
    listed
        .into_iter()
        .map(|(name, b64)| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            let values = parse_object(&name, &bytes);
            (name, (digest(&bytes), values))
        })
        .collect()
}

/// Kills the binary at random points, checking after each round that what
/// is visible is whole and that no name changed content; then runs it to the
/// end and checks that every event arrived.
fn crash_rounds(config: &Path, log: &Path, list: &dyn Fn() -> Objects) {
    let mut points = crash::Lcg::from_clock();
    let mut seen = Objects::new();
    for round in 0..6 {
        let mut child = spawn(config, log);
        let after = points.next(200, 1500);
        std::thread::sleep(Duration::from_millis(after));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let now = list();
        for (name, (hash, _)) in &seen {
            if let Some((h, _)) = now.get(name) {
                assert_eq!(h, hash, "round {round}: object {name} was overwritten");
            }
        }
        println!(
            "round {round}: killed after {after} ms, {} objects",
            now.len()
        );
        seen.extend(now);
    }
    let status = spawn(config, log).wait().unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    assert!(status.success(), "final run: {status}\n{text}");
    let last = list();
    for (name, (hash, _)) in &seen {
        assert_eq!(
            last.get(name).map(|(h, _)| h),
            Some(hash),
            "object {name} changed or vanished"
        );
    }
    let values: Vec<u64> = last.values().flat_map(|(_, v)| v.iter().copied()).collect();
    let distinct: BTreeSet<u64> = values.iter().copied().collect();
    let missing: Vec<u64> = (0..N).filter(|v| !distinct.contains(v)).take(5).collect();
    assert!(missing.is_empty(), "lost {missing:?}");
    // Objects are full but the last ones of each run.
    let full = last.values().filter(|(_, v)| v.len() == 2_000).count();
    println!(
        "{} objects ({full} full) holding {} events for {N} (duplicates are replays)",
        last.len(),
        values.len()
    );
    assert!(!text.contains("panicked"), "{text}");
}

fn write_config(dir: &Path, sink_config: &str) -> std::path::PathBuf {
    let d = dir.display();
    let config = dir.join("lake.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {d}/data\n\
             sources:\n  gen: {{ connector: datagen, config: {{ pattern: sequence, max_events: {N}, events_per_second: 20000 }} }}\n\
             sinks:\n  lake: {{ connector: object-storage, config: {{ {sink_config}, format: jsonl, batch_size: 2000, flush_interval_secs: 1 }} }}\n\
             pipelines:\n  p: {{ source: gen, sink: lake }}\n"
        ),
    )
    .unwrap();
    config
}

#[test]
fn kill_nine_writing_to_local_storage_loses_nothing_and_tears_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("objects");
    let config = write_config(
        dir.path(),
        &format!(
            "provider: local, bucket: lake, local: {{ root: {} }}",
            root.display()
        ),
    );
    let bucket = root.join("lake");
    crash_rounds(&config, &dir.path().join("run.log"), &|| {
        local_objects(&bucket)
    });
}

#[test]
fn kill_nine_writing_to_s3_loses_nothing_and_tears_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let moto = rt.block_on(Moto::start()).unwrap();
    let python = test_python(&["boto3"]).unwrap();
    let made = Command::new(python)
        .args([
            "-c",
            "import boto3; boto3.client('s3').create_bucket(Bucket='lake')",
        ])
        .envs(moto.boto3_env())
        .status()
        .unwrap();
    assert!(made.success());
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "provider: s3, bucket: lake, s3: {{ endpoint: \"{}\", force_path_style: true, region: us-east-1, access_key_id: {MOTO_ACCESS_KEY_ID}, secret_access_key: {MOTO_SECRET_ACCESS_KEY} }}",
            moto.endpoint()
        ),
    );
    crash_rounds(&config, &dir.path().join("run.log"), &|| s3_objects(&moto));
}
