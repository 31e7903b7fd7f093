//! One `postgres-cdc` source with a `topic` and two subscribing sinks: the
//! source is read once — one replication slot, one reader — and both files
//! get every change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/crash.rs"]
mod crash;
#[path = "../../cdc/tests/support/pg.rs"]
mod pg;

use std::collections::HashSet;
use std::process::{Command, Stdio};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_source_with_a_topic_uses_one_replication_slot() {
    let (server, db) = pg::server().await;
    db.batch_execute(
        "CREATE TABLE load (id bigint PRIMARY KEY, n bigint NOT NULL);
         INSERT INTO load SELECT g, 0 FROM generate_series(1, 500) g;",
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let config = dir.path().join("topic.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {d}/data\n\
             sources:\n  db:\n    connector: postgres-cdc\n    topic: changes\n    config:\n      \
             host: {}\n      port: {}\n      database: {}\n      user: {}\n      \
             slot_name: topic_slot\n      publication_name: topic_pub\n      tls: {{ mode: disable }}\n\
             sinks:\n  sa: {{ connector: file, topics: [changes], config: {{ path: {d}/a.jsonl }} }}\n  \
             sb: {{ connector: file, topics: [changes], config: {{ path: {d}/b.jsonl }} }}\n",
            server.host(),
            server.port(),
            server.database(),
            server.user(),
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .env_remove("RUST_LOG")
        .arg("-c")
        .arg(&config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("run.log")).unwrap())
        .spawn()
        .unwrap();
    // The snapshot (500 rows) in both files, then streamed changes.
    let mut all: HashSet<crash::Change> = (1..=500).map(|id| (id, 0)).collect();
    wait_in_both(dir.path(), &all).await;
    for id in 1..=200i64 {
        db.execute("UPDATE load SET n = 1 WHERE id = $1", &[&id])
            .await
            .unwrap();
        all.insert((id, 1));
    }
    wait_in_both(dir.path(), &all).await;
    let slots: i64 = db
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let active: i64 = db
        .query_one("SELECT count(*) FROM pg_stat_replication", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(slots, 1, "one replication slot for both sinks");
    assert_eq!(active, 1, "one replication connection");
    crash::terminate(child);
}

/// Wait (at most 90 s) until `a.jsonl` and `b.jsonl` hold every change of `all`.
async fn wait_in_both(dir: &std::path::Path, all: &HashSet<crash::Change>) {
    for sink in ["a", "b"] {
        let path = dir.join(format!("{sink}.jsonl"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        while !all.is_subset(&crash::read_changes(&path).into_iter().collect()) {
            let log = std::fs::read_to_string(dir.join("run.log")).unwrap_or_default();
            assert!(
                std::time::Instant::now() < deadline,
                "sink {sink} lacks changes after 90 s; log:\n{log}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}
