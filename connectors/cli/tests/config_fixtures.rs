//! Every `tests/fixtures/configs/error-*.yaml` is rejected by the real binary
//! with exit code 2 and a message naming the key path its `# expect:` lines
//! give (and containing its `# message:` text, with its `# help:` text as a
//! suggestion); where an `error-*.expected` sits beside it, stderr is exactly
//! that file (`RIVVEN_BLESS=1` rewrites it instead: create it empty first). Every `ok-*.yaml` validates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rivven-connect"));
    c.env_remove("RIVVEN_FIXTURE_UNSET_VAR")
        .env_remove("RIVVEN_FIXTURE_PATTERN")
        .env("NO_COLOR", "1");
    c
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs")
}

fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with(prefix) && name.ends_with(".yaml")
        })
        .collect();
    files.sort();
    files
}

/// `# key: value` header lines.
fn header(path: &Path, key: &str) -> Vec<String> {
    let prefix = format!("# {key}:");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().to_string())
        .collect()
}

#[test]
fn error_fixtures_exit_2_naming_the_key_path() {
    let files = fixtures("error-");
    assert!(files.len() >= 25, "only {} error fixtures", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let text_out = bin().arg("-c").arg(file).arg("validate").output().unwrap();
        let stderr = String::from_utf8_lossy(&text_out.stderr).to_string();
        if text_out.status.code() != Some(2) {
            failures.push(format!(
                "{name}: exit {:?}, stderr: {stderr}",
                text_out.status.code()
            ));
            continue;
        }
        let json_out = bin()
            .arg("-c")
            .arg(file)
            .args(["validate", "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(json_out.status.code(), Some(2), "{name}");
        let report: Value = serde_json::from_slice(&json_out.stdout)
            .unwrap_or_else(|e| panic!("{name}: --format json output is not JSON ({e})"));
        let paths: Vec<&str> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        for expect in header(file, "expect") {
            let in_text = expect.is_empty() || stderr.contains(&format!("`{expect}`"));
            if !paths.contains(&expect.as_str()) || !in_text {
                failures.push(format!(
                    "{name}: no error at `{expect}`; got {paths:?}\n{stderr}"
                ));
            }
        }
        for message in header(file, "message") {
            if !stderr.contains(&message) {
                failures.push(format!("{name}: message lacks {message:?}:\n{stderr}"));
            }
        }
        let helps: Vec<&str> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["help"].as_str())
            .collect();
        for help in header(file, "help") {
            let in_text = stderr.contains(&format!("help: {help}"));
            if !helps.contains(&help.as_str()) || !in_text {
                failures.push(format!("{name}: no help {help:?}; got {helps:?}\n{stderr}"));
            }
        }
        // Every diagnostic has a position except whole-file ones.
        for e in report["errors"].as_array().unwrap() {
            if !e["path"].as_str().unwrap().is_empty() && e["line"].is_null() {
                failures.push(format!("{name}: no line for {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures wrong:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// The fixtures with an `.expected` beside them render exactly so on stderr
/// (run from the fixture directory, so the file is named as given).
#[test]
fn error_fixtures_render_as_expected() {
    let bless = std::env::var_os("RIVVEN_BLESS").is_some();
    let mut compared = 0;
    let mut failures = Vec::new();
    for file in fixtures("error-") {
        let expected_file = file.with_extension("expected");
        if !expected_file.exists() {
            continue;
        }
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let out = bin()
            .current_dir(fixture_dir())
            .args(["-c", &name, "validate"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            !stderr.contains('\u{1b}'),
            "{name}: colour codes off a terminal"
        );
        if bless {
            std::fs::write(&expected_file, &stderr).unwrap();
            continue;
        }
        compared += 1;
        let expected = std::fs::read_to_string(&expected_file).unwrap();
        if stderr != expected {
            failures.push(format!(
                "{name}: stderr differs from {}\n--- expected\n{expected}\n--- got\n{stderr}",
                expected_file.display()
            ));
        }
    }
    assert!(bless || compared >= 5, "only {compared} rendered fixtures");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn ok_fixtures_validate_and_run() {
    let files = fixtures("ok-");
    assert!(!files.is_empty());
    for file in &files {
        let out = bin().arg("-c").arg(file).arg("validate").output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let data = tempfile::tempdir().unwrap();
        let copy = data.path().join("config.yaml");
        let text = std::fs::read_to_string(file).unwrap();
        std::fs::write(
            &copy,
            format!("{text}\ndata_dir: {}\n", data.path().display()),
        )
        .unwrap();
        let out = bin().arg("-c").arg(&copy).arg("run").output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.stdout.is_empty(),
            "{}: nothing written to stdout",
            file.display()
        );
    }
}
