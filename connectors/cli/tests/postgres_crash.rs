//! `kill -9` of the `rivven-connect` process (legacy mode: postgres-cdc → a
//! JSON Lines file) at 5 random points during a 100 000-row write load,
//! restarting each time (the slot and publication exist before the load,
//! so every change is streamed): the file holds every committed change at least
//! once and in order per row, and after each kill the slot's
//! `confirmed_flush_lsn` has not passed what the file holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/crash.rs"]
mod crash;
#[path = "../../cdc/tests/support/pg.rs"]
mod pg;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crash::{assert_all_in_order, read_changes, terminate, wait_for_all, Lcg};

const TXS: i64 = 1000;
const ROWS_PER_TX: i64 = 100;

/// One committed transaction: the `(id, version)` changes it made and an
/// upper bound of its commit LSN (the WAL position read right after COMMIT).
struct Committed {
    changes: Vec<(i64, i64)>,
    lsn_after: u64,
}

fn spawn(url: &str, out: &Path, data: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .args([
            "--quiet",
            "postgres",
            "--connection",
            url,
            "--slot",
            "crash_slot",
            "--publication",
            "crash_pub",
            "--snapshot-mode",
            "never",
        ])
        .arg("--output")
        .arg(out)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rivven-connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_load_loses_no_committed_change() {
    let (server, db) = pg::server().await;
    // The slot exists before the load starts, so every change is streamed
    // (`--snapshot-mode never`): a new slot's confirmed_flush_lsn starts at
    // its consistent point, which a snapshot covers instead — the snapshot
    // and its seam are tested in postgres_cdc.rs.
    db.batch_execute(
        "CREATE TABLE load (id bigint PRIMARY KEY, n bigint NOT NULL);
         CREATE PUBLICATION crash_pub FOR TABLE load;",
    )
    .await
    .unwrap();
    db.execute(
        "SELECT pg_create_logical_replication_slot('crash_slot', 'pgoutput')",
        &[],
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("changes.jsonl");
    let data = dir.path().join("data");
    let url = format!(
        "postgres://{}@{}:{}/{}",
        server.user(),
        server.host(),
        server.port(),
        server.database()
    );

    // The load: 1000 transactions of 100 inserts; every 5th also bumps the
    // version of 20 earlier rows.
    let writer_db = pg::connect(&server).await;
    let writer = tokio::spawn(async move {
        let mut committed = Vec::new();
        let mut version: BTreeMap<i64, i64> = BTreeMap::new();
        for tx in 0..TXS {
            let from = tx * ROWS_PER_TX + 1;
            let to = from + ROWS_PER_TX - 1;
            let mut changes: Vec<(i64, i64)> = (from..=to).map(|id| (id, 0)).collect();
            let mut sql = format!(
                "BEGIN; INSERT INTO load SELECT g, 0 FROM generate_series({from}, {to}) g;"
            );
            if tx % 5 == 4 {
                for k in 0..20 {
                    let id = (tx * 37 + k * 101) % from + 1;
                    let v = version.entry(id).or_insert(0);
                    *v += 1;
                    sql.push_str(&format!("UPDATE load SET n = {v} WHERE id = {id};"));
                    changes.push((id, *v));
                }
            }
            sql.push_str("COMMIT;");
            writer_db.batch_execute(&sql).await.unwrap();
            let lsn_after = pg::current_lsn(&writer_db).await;
            committed.push(Committed { changes, lsn_after });
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        committed
    });

    let mut rng = Lcg::from_clock();
    let mut kills = 0;
    let mut checked_below = Vec::new();
    while kills < 5 {
        let mut child = spawn(&url, &out, &data);
        tokio::time::sleep(Duration::from_millis(rng.next(300, 1500))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        // The process is dead: the file is what was durably written.
        let confirmed = pg::confirmed_flush(&db, "crash_slot").await.unwrap_or(0);
        let in_file: HashSet<(i64, i64)> = read_changes(&out).into_iter().collect();
        // Transactions of the writer so far are unknown here (it owns them);
        // remember the pair and check once the writer has returned them.
        checked_below.push((confirmed, in_file));
    }
    assert!(
        !writer.is_finished(),
        "the load ended before the 5th kill: the kills were not during the load"
    );
    let committed = writer.await.unwrap();

    // After each kill: every transaction that certainly committed below the
    // slot's confirmed position was in the file at that moment.
    for (i, (confirmed, in_file)) in checked_below.iter().enumerate() {
        let below: Vec<&Committed> = committed
            .iter()
            .filter(|c| c.lsn_after < *confirmed)
            .collect();
        for c in &below {
            for change in &c.changes {
                assert!(in_file.contains(change), "kill {}: the slot confirmed {confirmed:X} but change {change:?} (committed before {:X}) was not in the file", i + 1, c.lsn_after);
            }
        }
        println!("kill {}: confirmed_flush {confirmed:X}, {} transactions below it all in the file ({} lines)", i + 1, below.len(), in_file.len());
    }

    // Final run: catch up, then stop.
    let child = spawn(&url, &out, &data);
    let expected: usize = committed.iter().map(|c| c.changes.len()).sum();
    let all: HashSet<(i64, i64)> = committed
        .iter()
        .flat_map(|c| c.changes.iter().copied())
        .collect();
    wait_for_all(&out, &all).await;
    terminate(child);
    assert_all_in_order(&out, &all, expected);
}
