//! Every subcommand of the real binary, in text and `--format json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/binary.rs"]
mod binary;

use binary::{bin, json, run, text};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write_config(dir: &Path, body: &str) -> String {
    let path = dir.join("config.yaml");
    std::fs::write(&path, format!("{body}\ndata_dir: {}\n", dir.display())).unwrap();
    path.display().to_string()
}

const FILE_PIPELINE: &str = "
sources:
  gen:
    connector: datagen
    config: { pattern: orders, max_events: 25, events_per_second: 0, seed: 3 }
sinks:
  out:
    connector: file
    config: { path: OUT }
pipelines:
  p: { source: gen, sink: out }
";

#[test]
fn connectors_lists_by_category_and_searches() {
    let out = run(&["connectors"]);
    assert!(out.status.success());
    let t = text(&out);
    assert!(
        t.contains("Utility") && t.contains("datagen") && t.contains("Storage"),
        "{t}"
    );
    let list = json(&run(&["connectors", "--format", "json"]));
    let names: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["kind"].as_str().unwrap(), m["name"].as_str().unwrap()))
        .collect();
    assert!(
        names.contains(&("source", "datagen")) && names.contains(&("sink", "file")),
        "{names:?}"
    );
    let found = json(&run(&[
        "connectors",
        "list",
        "--search",
        "jsonl",
        "--format",
        "json",
    ]));
    // `jsonl` is a tag of the file connectors and of object storage (one
    // of its formats), and of nothing else.
    let hits = found.as_array().unwrap();
    assert!(hits.iter().any(|m| m["name"] == "file"), "{found}");
    assert!(
        hits.iter()
            .all(|m| m["name"] == "file" || m["name"] == "object-storage"),
        "{found}"
    );
    assert!(text(&run(&["connectors", "--search", "zzzz"])).contains("no connector matches"));
}

#[test]
fn spec_and_schema_show_the_derived_schema() {
    let spec = json(&run(&["spec", "datagen", "--format", "json"]));
    assert_eq!(spec["name"], "datagen");
    assert!(spec["config_schema"]["properties"]["pattern"].is_object());
    let both = json(&run(&["spec", "file", "--format", "json"]));
    assert_eq!(
        both.as_array().unwrap().len(),
        2,
        "file is a source and a sink"
    );
    let t = text(&run(&["spec", "datagen"]));
    assert!(t.contains("pattern") && t.contains("required"), "{t}");
    let schema = json(&run(&["schema", "stdout"]));
    assert!(schema["properties"]["format"].is_object(), "{schema}");
    let bad = run(&["spec", "datagem"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad).contains("did you mean `datagen`"),
        "{}",
        text(&bad)
    );
}

#[test]
fn validate_check_discover_and_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.jsonl");
    let config = write_config(
        dir.path(),
        &FILE_PIPELINE.replace("OUT", &out_file.display().to_string()),
    );
    let c = ["-c", config.as_str()];

    let v = json(&run(&[&c[..], &["validate", "--format", "json"]].concat()));
    assert_eq!(v["valid"], true);
    assert_eq!(v["pipelines"][0], "p");

    let check = run(&[&c[..], &["check", "--format", "json"]].concat());
    assert!(check.status.success(), "{}", text(&check));
    let report = json(&check);
    assert_eq!(report["success"], true);
    assert_eq!(report["results"].as_array().unwrap().len(), 2);
    let only = json(&run(&[
        &c[..],
        &["check", "--sink", "out", "--format", "json"],
    ]
    .concat()));
    assert_eq!(only["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        run(&[&c[..], &["check", "--source", "nope"]].concat())
            .status
            .code(),
        Some(2)
    );

    let catalog = json(&run(
        &[&c[..], &["discover", "gen", "--format", "json"]].concat()
    ));
    assert_eq!(catalog["streams"][0]["name"], "datagen");
    assert!(text(&run(&[&c[..], &["discover", "gen"]].concat())).contains("1 stream(s)"));
    assert_eq!(
        run(&[&c[..], &["discover", "gne"]].concat()).status.code(),
        Some(2)
    );

    let dry = run(&[&c[..], &["run", "--dry-run"]].concat());
    assert!(dry.status.success(), "{}", text(&dry));
    // `check` opens the file to prove it is writable; a dry run writes no event.
    assert_eq!(std::fs::read_to_string(&out_file).unwrap_or_default(), "");

    // A sink that cannot be opened: check fails with exit 1, so does a dry run.
    let blocked = dir.path().join("blocker");
    std::fs::write(&blocked, "x").unwrap();
    let bad = write_config(
        dir.path(),
        &FILE_PIPELINE.replace("OUT", &blocked.join("out.jsonl").display().to_string()),
    );
    let check = run(&["-c", &bad, "check", "--format", "json"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert_eq!(json(&check)["success"], false);
    assert_eq!(
        run(&["-c", &bad, "run", "--dry-run"]).status.code(),
        Some(1)
    );
}

#[test]
fn run_writes_commits_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.jsonl");
    let config = write_config(
        dir.path(),
        &FILE_PIPELINE.replace("OUT", &out_file.display().to_string()),
    );
    let out = run(&["-c", &config, "--log-format", "json", "run"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log_line = stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a JSON log line");
    serde_json::from_str::<Value>(log_line).unwrap();
    assert!(stderr.contains("completed"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap().lines().count(),
        25
    );
    let offsets: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("offsets/p.offsets.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(offsets["streams"]["datagen"]["data"]["sequence"], 25);
    // The second run resumes at the end: nothing new.
    let again = run(&["-c", &config, "run", "--format", "json"]);
    assert!(again.status.success());
    assert_eq!(json(&again)["pipelines"][0]["events_read"], 0);
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap().lines().count(),
        25
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        run(&["-c", "/nonexistent/rivven.yaml", "validate"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["--format", "yaml", "connectors"]).status.code(),
        Some(2)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn status_reads_a_running_instance_and_sigterm_drains_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.jsonl");
    let port = free_port();
    let config = write_config(
        dir.path(),
        &format!(
            "
sources:
  gen:
    connector: datagen
    config: {{ pattern: sequence, max_events: 0, events_per_second: 2000 }}
sinks:
  out:
    connector: file
    config: {{ path: {} }}
    batch: {{ max_records: 100, timeout_ms: 50 }}
pipelines:
  endless: {{ source: gen, sink: out }}
http: {{ enabled: true, address: \"127.0.0.1:{port}\" }}
",
            out_file.display()
        ),
    );
    let child = bin()
        .args(["-c", &config, "run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        let out = run(&["status", "--url", &url, "--format", "json"]);
        if out.status.success() {
            let h = json(&out);
            if h["pipelines"][0]["events_written"].as_u64().unwrap_or(0) > 0 {
                break h;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the instance never reported progress: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["pipelines"][0]["name"], "endless");
    assert_eq!(health["pipelines"][0]["state"], "running");
    let t = text(&run(&["status", "--url", &url]));
    assert!(t.contains("endless") && t.contains("running"), "{t}");
    // Without --url the address comes from the configuration.
    let from_config = run(&["-c", &config, "status", "--format", "json"]);
    assert!(from_config.status.success(), "{}", text(&from_config));
    assert_eq!(json(&from_config)["pipelines"][0]["name"], "endless");

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "SIGTERM is a clean stop: {}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stopped"),
        "{}",
        text(&out)
    );
    // Offsets were committed on the way out, covering exactly what was written.
    let written = std::fs::read_to_string(&out_file).unwrap().lines().count() as u64;
    let offsets: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("offsets/endless.offsets.json")).unwrap(),
    )
    .unwrap();
    let committed = offsets["streams"]["datagen"]["data"]["sequence"]
        .as_u64()
        .unwrap();
    assert!(written > 0);
    assert_eq!(committed, written, "committed position = lines written");
    // Status of a stopped instance fails cleanly.
    assert_eq!(run(&["status", "--url", &url]).status.code(), Some(1));
}

#[test]
fn run_on_a_terminal_redraws_one_line_per_pipeline() {
    // `script` (util-linux) gives the binary a pseudo-terminal.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "
sources:
  gen: { connector: datagen, config: { pattern: orders, max_events: 100, events_per_second: 50 } }
sinks:
  out1: { connector: file, config: { path: OUT/o1.jsonl } }
  out2: { connector: file, config: { path: OUT/o2.jsonl } }
pipelines:
  first: { source: gen, sink: out1 }
  second: { source: gen, sink: out2 }
offsets: { backend: memory }
"
        .replace("OUT", &dir.path().display().to_string())
        .as_str(),
    );
    let command = format!("{} -c {config} run", env!("CARGO_BIN_EXE_rivven-connect"));
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("`script` from util-linux (Debian package bsdutils)");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(
        screen.contains("\x1b[2A"),
        "the two lines are redrawn in place: {screen:?}"
    );
    assert!(
        screen.contains("ev/s") && screen.contains("first") && screen.contains("second"),
        "{screen}"
    );
    assert!(screen.contains("summary:"), "{screen}");
}

/// `status` errors: nothing listening is exit 1 (a JSON error object with
/// `--format json`); a configuration whose endpoint is off is exit 2.
#[test]
fn status_errors_are_reported_in_the_requested_format() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let out = run(&["status", "--url", &url, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let body = json(&out);
    assert_eq!(body["success"], false);
    assert!(body["error"].as_str().unwrap().contains(&url), "{body}");

    let config = write_config(
        dir.path(),
        "sources:\n  gen: { connector: datagen, config: { pattern: sequence } }\nsinks:\n  out: { connector: stdout }\npipelines:\n  p: { source: gen, sink: out }\n",
    );
    let off = run(&["-c", &config, "status"]);
    assert_eq!(off.status.code(), Some(2), "{}", text(&off));
    assert!(
        text(&off).contains("http.enabled is false"),
        "{}",
        text(&off)
    );
}

/// Fails before the fix: an unusable `data_dir` passed `check` and `run`
/// restarted the pipeline for minutes. Now both refuse at once (exit 2) with
/// one line naming the offset directory. (A path under a regular file: not
/// writable even for root.)
#[test]
fn an_unwritable_data_dir_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  gen: {{ connector: datagen, config: {{ pattern: sequence, max_events: 3 }} }}\n\
             sinks:\n  out: {{ connector: stdout }}\n\
             pipelines:\n  p: {{ source: gen, sink: out }}\n\
             data_dir: {}\n",
            blocker.join("state").display()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    for command in ["check", "run"] {
        let out = run(&["-c", &config, command]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out));
        let t = text(&out);
        assert!(
            t.contains("not writable") && t.contains("not-a-dir/state/offsets"),
            "{command}: {t}"
        );
    }
}

/// A bare word in a filter is a field: `country = NO` compares with a field
/// named `NO`, which drops every event silently. The first event without
/// that field warns once, naming it and suggesting quotes; a quoted value
/// does not warn.
#[test]
fn a_filter_reading_a_missing_field_warns_once_suggesting_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"country\":\"NO\"}\n{\"country\":\"SE\"}\n").unwrap();
    for (condition, warns) in [("country = NO", true), ("country = 'NO'", false)] {
        let out_file = dir.path().join("out.jsonl");
        let _ = std::fs::remove_file(&out_file);
        let state = tempfile::tempdir().unwrap();
        let config = dir.path().join("filter.yaml");
        std::fs::write(
            &config,
            format!(
                "sources:\n  in: {{ connector: file, config: {{ path: {} }} }}\n\
                 transforms:\n  only_no: {{ type: filter, config: {{ condition: \"{condition}\" }} }}\n\
                 sinks:\n  out: {{ connector: file, config: {{ path: {} }} }}\n\
                 pipelines:\n  p: {{ source: in, transforms: [only_no], sink: out }}\n\
                 data_dir: {}\n",
                input.display(),
                out_file.display(),
                state.path().display()
            ),
        )
        .unwrap();
        let out = run(&["-c", config.to_str().unwrap(), "run"]);
        assert!(out.status.success(), "{condition}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let warnings = stderr.matches("has no field `NO`").count();
        if warns {
            assert_eq!(warnings, 1, "{condition}: {stderr}");
            assert!(stderr.contains("('NO')"), "{stderr}");
        } else {
            assert_eq!(warnings, 0, "{condition}: {stderr}");
            let written = std::fs::read_to_string(&out_file).unwrap();
            assert_eq!(written.lines().count(), 1, "{written}");
        }
    }
}

/// `--log-format json` makes every stderr line JSON, the run summary
/// included; `-q` silences the summary.
#[test]
fn the_run_summary_follows_log_format_and_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "sources:\n  gen: { connector: datagen, config: { pattern: sequence, max_events: 5, events_per_second: 0 } }\n\
         sinks:\n  out: { connector: stdout }\n\
         pipelines:\n  seq: { source: gen, sink: out }\n",
    );
    let out = run(&["-c", &config, "--log-format", "json", "run"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let mut ended = None;
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if v["fields"]["message"] == "pipeline ended" {
            ended = Some(v);
        }
    }
    let ended = ended.unwrap_or_else(|| panic!("no summary event: {stderr}"));
    assert_eq!(ended["fields"]["pipeline"], "seq");
    assert_eq!(ended["fields"]["written"], 5);

    let quiet = run(&["-c", &config, "-q", "run"]);
    assert!(quiet.status.success(), "{}", text(&quiet));
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(!stderr.contains("summary"), "{stderr}");
}
