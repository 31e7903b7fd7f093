//! `kill -9` of the `rivven-connect` binary (a YAML pipeline: `mysql-cdc` →
//! a JSON Lines `file` sink) at 5 random points (seed printed) during a
//! 100 000-row load of inserts and updates, and a `kill -9` + restart of the
//! MariaDB server during the same load: the file holds every committed
//! change at least once, each row's versions in order, and after each kill
//! the committed binlog position has not passed what the file holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/crash.rs"]
mod crash;

use crash::{assert_all_in_order, read_changes, terminate, wait_for_all, Lcg};
use mysql_async::prelude::Queryable;
use rivven_connect_testing::services::MariaDb;
use serde_json::Value;

const TXS: i64 = 1000;
const ROWS_PER_TX: i64 = 100;
const KILLS: usize = 5;
/// The MariaDB server is killed and restarted after this many binary kills.
const SERVER_KILL_AFTER: usize = 2;

/// A binlog position ordered as the server writes them: file sequence
/// (names of one length sort by number), then offset.
type Pos = (usize, String, u64);

fn pos(file: &str, offset: u64) -> Pos {
    (file.len(), file.to_string(), offset)
}

/// One committed transaction: its `(id, version)` changes and an upper
/// bound of where it ends in the binlog (the server's position read right
/// after COMMIT; this test is the only writer).
struct Committed {
    changes: Vec<(i64, i64)>,
    end: Pos,
}

struct Files {
    config: PathBuf,
    log: PathBuf,
    out: PathBuf,
    data: PathBuf,
}

fn files(dir: &Path, server: &MariaDb) -> Files {
    let out = dir.join("changes.jsonl");
    let data = dir.join("data");
    let config = dir.join("mysql.yaml");
    std::fs::write(
        &config,
        format!(
            "sources:\n  db:\n    connector: mysql-cdc\n    config:\n      \
             host: {}\n      port: {}\n      database: shop\n      user: {}\n      \
             server_id: 4243\n      tables: [changes]\n      snapshot_mode: never\n      \
             connect_timeout_secs: 5\n      \
             tls: {{ mode: disable }}\n\
             sinks:\n  out:\n    connector: file\n    config: {{ path: {} }}\n\
             pipelines:\n  cdc: {{ source: db, sink: out }}\n\
             data_dir: {}\n",
            server.host(),
            server.port(),
            server.user(),
            out.display(),
            data.display()
        ),
    )
    .unwrap();
    let log = dir.join("rivven-connect.log");
    Files {
        config,
        log,
        out,
        data,
    }
}

/// Start the binary; its log goes to `rivven-connect.log` beside the config
/// (appended, each run), which the test prints when it fails.
fn spawn(files: &Files) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&files.log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .env_remove("RUST_LOG")
        .arg("-c")
        .arg(&files.config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn rivven-connect")
}

/// The committed binlog position in the data directory's `offsets/`, if any.
fn committed(data: &Path) -> Option<Pos> {
    let entries = std::fs::read_dir(data.join("offsets")).ok()?;
    let path = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".offsets.json"))?;
    let state: Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    let binlog = &state["global"]["binlog"];
    Some(pos(binlog["file"].as_str()?, binlog["pos"].as_u64()?))
}

async fn connect(url: &str) -> mysql_async::Conn {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match mysql_async::Conn::from_url(url).await {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                eprintln!("writer: reconnecting ({e})");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the server did not come back within 90 s: {e}"),
        }
    }
}

async fn binlog_end(conn: &mut mysql_async::Conn) -> Result<Pos, mysql_async::Error> {
    let row: Option<mysql_async::Row> = conn.query_first("SHOW MASTER STATUS").await?;
    let row = row.expect("the binary log is on");
    let file: String = row.get(0).unwrap();
    let offset: u64 = row.get(1).unwrap();
    Ok(pos(&file, offset))
}

/// The load: 1000 transactions of 100 inserts; every 5th also bumps the
/// version of 20 earlier rows. A transaction whose COMMIT failed because the
/// server died is looked up after reconnecting: committed if its rows are
/// there, else written again.
async fn load(url: String) -> Vec<Committed> {
    let mut conn = connect(&url).await;
    let mut done = Vec::new();
    let mut version: BTreeMap<i64, i64> = BTreeMap::new();
    for tx in 0..TXS {
        let from = tx * ROWS_PER_TX + 1;
        let to = from + ROWS_PER_TX - 1;
        let mut changes: Vec<(i64, i64)> = (from..=to).map(|id| (id, 0)).collect();
        let mut sql =
            format!("BEGIN; INSERT INTO changes (id, n) SELECT seq, 0 FROM seq_{from}_to_{to};");
        // Versions this transaction sets, applied once it has committed.
        let mut pending: BTreeMap<i64, i64> = BTreeMap::new();
        if tx % 5 == 4 {
            for k in 0..20 {
                let id = (tx * 37 + k * 101) % from + 1;
                let current = pending.get(&id).or(version.get(&id)).copied();
                let v = current.unwrap_or(0) + 1;
                pending.insert(id, v);
                sql.push_str(&format!("UPDATE changes SET n = {v} WHERE id = {id};"));
                changes.push((id, v));
            }
        }
        sql.push_str("COMMIT;");
        loop {
            let attempt = async {
                conn.query_drop(&sql).await?;
                binlog_end(&mut conn).await
            }
            .await;
            match attempt {
                Ok(end) => {
                    done.push(Committed {
                        changes: changes.clone(),
                        end,
                    });
                    break;
                }
                Err(e @ mysql_async::Error::Server(_)) => {
                    panic!("writer: transaction {tx}: {e}")
                }
                Err(e) => {
                    eprintln!(
                        "writer: transaction {tx} failed ({e}); checking whether it committed"
                    );
                    conn = connect(&url).await;
                    let n: Option<i64> = conn
                        .query_first(format!(
                            "SELECT COUNT(*) FROM changes WHERE id BETWEEN {from} AND {to}"
                        ))
                        .await
                        .unwrap();
                    if n == Some(ROWS_PER_TX) {
                        let end = binlog_end(&mut conn).await.unwrap();
                        done.push(Committed {
                            changes: changes.clone(),
                            end,
                        });
                        break;
                    }
                    assert_eq!(n, Some(0), "transaction {tx} half committed");
                }
            }
        }
        version.extend(pending);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done
}

/// A private MariaDB with the empty table `shop.changes`, a client, the
/// test's files, and the binary started and streaming: it has committed
/// where it starts (`snapshot_mode: never`: a source without a committed
/// position starts at the server's current one and commits it at once).
async fn started() -> (MariaDb, mysql_async::Conn, tempfile::TempDir, Files, Child) {
    let server = MariaDb::start()
        .await
        .expect("start a private MariaDB (Debian package `mariadb-server`)");
    let mut admin = connect(&server.url()).await;
    admin
        .query_drop(
            "CREATE DATABASE shop; CREATE TABLE shop.changes (id bigint PRIMARY KEY, n bigint NOT NULL)",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = files(dir.path(), &server);
    let mut child = spawn(&files);
    let deadline = Instant::now() + Duration::from_secs(60);
    while committed(&files.data).is_none() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "rivven-connect exited ({status}); log:\n{}",
                std::fs::read_to_string(&files.log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "no position committed within 60 s of an idle start; log:\n{}",
            std::fs::read_to_string(&files.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (server, admin, dir, files, child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_binary_and_the_server_loses_no_committed_change() {
    // The first run is streaming before the load starts, so every change
    // of the load is streamed.
    let (mut server, admin, _dir, files, mut child) = started().await;
    drop(admin);
    child.kill().unwrap();
    child.wait().unwrap();

    let writer = tokio::spawn(load(format!("{}shop", server.url())));
    let mut rng = Lcg::from_clock();
    let mut after_kill = Vec::new();
    for kill in 1..=KILLS {
        let mut child = spawn(&files);
        tokio::time::sleep(Duration::from_millis(rng.next(400, 1600))).await;
        if kill == SERVER_KILL_AFTER + 1 {
            // The server crashes under the running pipeline and the load.
            server.kill();
            tokio::time::sleep(Duration::from_millis(rng.next(100, 1000))).await;
            server.restart().await.expect("restart MariaDB");
            println!("MariaDB killed and restarted during run {kill}");
            tokio::time::sleep(Duration::from_millis(rng.next(400, 1600))).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // The process is dead: the file is what was durably written.
        let at = committed(&files.data).expect("a committed position");
        let in_file: HashSet<(i64, i64)> = read_changes(&files.out).into_iter().collect();
        after_kill.push((at, in_file));
    }
    assert!(
        !writer.is_finished(),
        "the load ended before the last kill: the kills were not during the load"
    );
    let committed_txs = writer.await.unwrap();

    // After each kill: every transaction that ended at or before the
    // committed position was in the file at that moment.
    for (i, (at, in_file)) in after_kill.iter().enumerate() {
        let below: Vec<&Committed> = committed_txs.iter().filter(|c| c.end <= *at).collect();
        for c in &below {
            for change in &c.changes {
                assert!(
                    in_file.contains(change),
                    "kill {}: committed position {at:?} but change {change:?} (its transaction ended by {:?}) was not in the file",
                    i + 1,
                    c.end
                );
            }
        }
        println!(
            "kill {}: committed {}:{}, {} transactions up to it all in the file ({} changes in it)",
            i + 1,
            at.1,
            at.2,
            below.len(),
            in_file.len()
        );
    }
    assert!(
        after_kill.windows(2).all(|w| w[0].0 <= w[1].0),
        "the committed position went backwards"
    );

    // Final run: catch up, then stop with SIGTERM.
    let child = spawn(&files);
    let all: HashSet<(i64, i64)> = committed_txs
        .iter()
        .flat_map(|c| c.changes.iter().copied())
        .collect();
    wait_for_all(&files.out, &all).await;
    terminate(child);
    let expected: usize = committed_txs.iter().map(|c| c.changes.len()).sum();
    let log = std::fs::read_to_string(&files.log).unwrap_or_default();
    println!(
        "{} source restarts logged; {} starts waited for a killed run's replica registration",
        log.matches("restarting").count(),
        log.matches("another replica").count()
    );
    assert_all_in_order(&files.out, &all, expected);
}

/// A `kill -9` of the binary while the binary log is idle, restarted at
/// once: the server still lists the killed run as a replica with this
/// `server_id` until it notices the connection is gone (about 10 s here),
/// and the new run's check and source wait that out (retryable, with
/// backoff) instead of taking the id over or failing for good; a change
/// written meanwhile arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_idle_then_an_immediate_restart_resumes() {
    let (_server, mut admin, _dir, files, mut child) = started().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let child = spawn(&files);
    admin
        .query_drop("INSERT INTO shop.changes VALUES (1, 0)")
        .await
        .unwrap();
    wait_for_all(&files.out, &HashSet::from([(1, 0)])).await;
    terminate(child);
    let log = std::fs::read_to_string(&files.log).unwrap_or_default();
    assert!(!log.contains("pipeline failed"), "{log}");
    println!(
        "the restart waited {} time(s) for the killed run's registration",
        log.matches("another replica").count()
    );
}
