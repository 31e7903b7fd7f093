//! Shared by the `kill -9` tests through the binary
//! (`#[path = "support/crash.rs"] mod crash;`): spawning `rivven-connect
//! run`, the values or changes a JSON Lines file holds, kill points from a
//! printed seed, catching up and the final at-least-once / in-order check.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `rivven-connect -c <config> run`, without `RUST_LOG`, its log (stderr)
/// appended to `log`.
pub fn spawn(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_rivven-connect"))
        .env_remove("RUST_LOG")
        .arg("-c")
        .arg(config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn rivven-connect")
}

/// The datagen `sequence` values (`value`) of a JSON Lines file, in file
/// order, collected into `C` (a `Vec` keeps duplicates, a set drops them).
///
/// A torn last line (no newline yet: never acknowledged, the file sink cuts
/// it on its next start) is ignored; any other line that is not such a
/// value fails.
pub fn values<C: FromIterator<u64>>(path: &Path) -> C {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |at| &text[..=at]);
    complete
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a complete line is not JSON ({e}): {l:.200}"));
            v["value"]
                .as_u64()
                .unwrap_or_else(|| panic!("a line without a `value`: {l:.200}"))
        })
        .collect()
}

/// One row version: `(after.id, after.n)`.
pub type Change = (i64, i64);

/// `(id, version)` of every change line of the file, in file order.
///
/// A kill -9 may leave a partial last line (no newline yet), which the file
/// sink cuts on its next start: exactly that is ignored — it was never
/// acknowledged, and the replay writes it again. Any other line that is not
/// a change (a torn line in the middle, a terminated bad last line) fails.
pub fn read_changes(path: &Path) -> Vec<Change> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |at| &text[..=at]);
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a complete line is not JSON ({e}): {l:.200}"));
            let row = &v["after"];
            match (row["id"].as_i64(), row["n"].as_i64()) {
                (Some(id), Some(n)) => (id, n),
                _ => panic!("a line without after.id/after.n: {l:.200}"),
            }
        })
        .collect()
}

/// A small deterministic generator of kill points, its seed printed for
/// reproduction.
pub struct Lcg(u64);

impl Lcg {
    /// Seeded from the clock; prints the seed.
    pub fn from_clock() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        println!("kill points seed {seed}");
        Lcg(seed)
    }

    /// A number in `lo..hi`.
    pub fn next(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

/// Wait (at most 120 s) until the file at `out` holds every change of `all`.
pub async fn wait_for_all(out: &Path, all: &HashSet<Change>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got: HashSet<Change> = read_changes(out).into_iter().collect();
        if all.is_subset(&got) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after 120 s the file still lacks {} of {} committed changes",
            all.difference(&got).count(),
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `SIGTERM` the binary: it must drain, commit and exit 0.
pub fn terminate(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "rivven-connect exited with {status} on SIGTERM"
    );
}

/// At least once, in order per row: every change of `all` is in the file,
/// and each version v > 0 of a row appears after some occurrence of version
/// v - 1 of that row. Prints how many lines were replays.
pub fn assert_all_in_order(out: &Path, all: &HashSet<Change>, expected: usize) {
    let lines = read_changes(out);
    let mut seen: HashSet<Change> = HashSet::new();
    for &(id, n) in &lines {
        if n > 0 {
            assert!(
                seen.contains(&(id, n - 1)),
                "row {id}: version {n} arrived before version {}",
                n - 1
            );
        }
        seen.insert((id, n));
    }
    assert!(all.is_subset(&seen));
    println!(
        "{expected} committed changes, {} lines in the file ({} replayed after the kills)",
        lines.len(),
        lines.len() - expected
    );
}
