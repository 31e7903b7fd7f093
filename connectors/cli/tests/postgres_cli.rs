//! `postgres-cdc` through the `rivven-connect` binary: what `discover` lists
//! is what the events are named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../cdc/tests/support/pg.rs"]
mod pg;

use serde_json::Value;
use std::process::Command;

fn cli(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// Fails before the fix: `discover` printed `namespace.name`
/// (`public.cdc.public.orders`) while the events carry `cdc.public.orders`.
#[tokio::test(flavor = "multi_thread")]
async fn discover_lists_the_stream_names_the_events_carry() {
    let (server, client) = pg::server().await;
    client
        .batch_execute(
            "CREATE TABLE orders (id int PRIMARY KEY, note text);
             INSERT INTO orders VALUES (1, 'a'), (2, 'b');",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pg.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  db:\n    connector: postgres-cdc\n    config:\n      \
             host: {}\n      port: {}\n      database: {}\n      user: {}\n      \
             slot_name: disc_slot\n      publication_name: disc_pub\n      \
             snapshot_mode: initial_only\n      topic_routing: \"cdc.{{schema}}.{{table}}\"\n      \
             tls: {{ mode: disable }}\n\
             sinks:\n  out: {{ connector: file, config: {{ path: {out}, format: event }} }}\n\
             pipelines:\n  p: {{ source: db, sink: out }}\n\
             data_dir: {data}\n",
            server.host(),
            server.port(),
            server.database(),
            server.user(),
            out = dir.path().join("out.jsonl").display(),
            data = dir.path().join("data").display(),
        ),
    )
    .unwrap();

    let listed = cli(&config, &["discover", "db"]);
    let listed_text = String::from_utf8_lossy(&listed.stdout).to_string();
    assert_eq!(
        listed.status.code(),
        Some(0),
        "{listed_text}{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(
        listed_text.contains("  cdc.public.orders  namespace public"),
        "{listed_text}"
    );
    assert!(!listed_text.contains("public.cdc."), "{listed_text}");
    let json = cli(&config, &["discover", "db", "--format", "json"]);
    let catalog: Value = serde_json::from_slice(&json.stdout).unwrap();
    let names: Vec<&str> = catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["cdc.public.orders"]);

    let ran = cli(&config, &["run"]);
    assert_eq!(
        ran.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let written = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    let streams: Vec<String> = written
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["stream"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("an event line without `stream`: {l}"))
        })
        .collect();
    assert_eq!(streams.len(), 2, "{written}");
    assert!(
        streams.iter().all(|s| s == "cdc.public.orders"),
        "{streams:?}"
    );
}

/// Fails before the fix: each retry of a refused connection logged an ERROR
/// line of the replication client and a WARN line whose error said
/// "connection error:" twice, and counted toward giving up.
#[test]
fn a_refused_connection_is_one_warning_per_retry_and_is_waited_for() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("down.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  db:\n    connector: postgres-cdc\n    config:\n      \
             host: 127.0.0.1\n      port: {port}\n      database: shop\n      user: u\n      \
             slot_name: down_slot\n      publication_name: down_pub\n      \
             tls: {{ mode: disable }}\n\
             sinks:\n  out: {{ connector: stdout }}\n\
             pipelines:\n  p: {{ source: db, sink: out }}\n\
             data_dir: {}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .arg("-c")
        .arg(&config)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let retries: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("restarting from the last committed state"))
        .collect();
    assert!(retries.len() >= 2, "{stderr}");
    for line in stderr.lines() {
        assert!(
            !line.contains(" ERROR "),
            "an ERROR line for a retried failure: {line}"
        );
        assert!(
            line.matches("connection error").count() <= 1,
            "a doubled prefix: {line}"
        );
    }
    for retry in &retries {
        assert!(
            retry.contains("counted_failures=0"),
            "a server that is down counted toward giving up: {retry}"
        );
        assert!(retry.contains(&format!("127.0.0.1:{port}")), "{retry}");
    }
}
