#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::common::resume::ResumeState;
use serde_json::json;

use CursorAction::{Create, Keep, Recreate};
use CursorStatus::{Lost, Missing, Usable};
use SnapshotMode::{Always, Initial, InitialOnly, Never, WhenNeeded};

/// Whether a snapshot runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Snap {
    Yes,
    No,
    /// Only until one completed (`initial_only`).
    UntilComplete,
}

/// Where the stream starts (`Committed` = the committed position).
#[derive(Debug, Clone, Copy, PartialEq)]
enum From {
    Committed,
    Cursor,
    NewCursor,
    NoStream,
}

/// The expected outcome of one row of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Plan(CursorAction, Snap, From),
    /// `CursorGone` (with `lost`).
    Gone(bool),
}

use Expect::{Gone, Plan as P};

/// The whole decision table, written out row by row: mode × cursor ×
/// whether a position is committed.
const TABLE: [(SnapshotMode, CursorStatus, bool, Expect); 30] = [
    (Initial, Usable, false, P(Keep, Snap::Yes, From::Cursor)),
    (Initial, Usable, true, P(Keep, Snap::No, From::Committed)),
    (
        Initial,
        Missing,
        false,
        P(Create, Snap::Yes, From::NewCursor),
    ),
    (Initial, Missing, true, Gone(false)),
    (
        Initial,
        Lost,
        false,
        P(Recreate, Snap::Yes, From::NewCursor),
    ),
    (Initial, Lost, true, Gone(true)),
    (Always, Usable, false, P(Keep, Snap::Yes, From::Cursor)),
    (Always, Usable, true, P(Keep, Snap::Yes, From::Committed)),
    (
        Always,
        Missing,
        false,
        P(Create, Snap::Yes, From::NewCursor),
    ),
    (Always, Missing, true, P(Create, Snap::Yes, From::NewCursor)),
    (Always, Lost, false, P(Recreate, Snap::Yes, From::NewCursor)),
    (Always, Lost, true, P(Recreate, Snap::Yes, From::NewCursor)),
    (Never, Usable, false, P(Keep, Snap::No, From::Cursor)),
    (Never, Usable, true, P(Keep, Snap::No, From::Committed)),
    (Never, Missing, false, P(Create, Snap::No, From::NewCursor)),
    (Never, Missing, true, Gone(false)),
    (Never, Lost, false, P(Recreate, Snap::No, From::NewCursor)),
    (Never, Lost, true, Gone(true)),
    (WhenNeeded, Usable, false, P(Keep, Snap::Yes, From::Cursor)),
    (WhenNeeded, Usable, true, P(Keep, Snap::No, From::Committed)),
    (
        WhenNeeded,
        Missing,
        false,
        P(Create, Snap::Yes, From::NewCursor),
    ),
    (
        WhenNeeded,
        Missing,
        true,
        P(Create, Snap::Yes, From::NewCursor),
    ),
    (
        WhenNeeded,
        Lost,
        false,
        P(Recreate, Snap::Yes, From::NewCursor),
    ),
    (
        WhenNeeded,
        Lost,
        true,
        P(Recreate, Snap::Yes, From::NewCursor),
    ),
    // `initial_only` never streams, so the cursor is never looked at.
    (
        InitialOnly,
        Usable,
        false,
        P(Keep, Snap::UntilComplete, From::NoStream),
    ),
    (
        InitialOnly,
        Usable,
        true,
        P(Keep, Snap::UntilComplete, From::NoStream),
    ),
    (
        InitialOnly,
        Missing,
        false,
        P(Keep, Snap::UntilComplete, From::NoStream),
    ),
    (
        InitialOnly,
        Missing,
        true,
        P(Keep, Snap::UntilComplete, From::NoStream),
    ),
    (
        InitialOnly,
        Lost,
        false,
        P(Keep, Snap::UntilComplete, From::NoStream),
    ),
    (
        InitialOnly,
        Lost,
        true,
        P(Keep, Snap::UntilComplete, From::NoStream),
    ),
];

/// The snapshot entries a committed state may hold.
fn snapshot_states() -> [Option<SnapshotProgress<u64>>; 3] {
    [
        None,
        Some(SnapshotProgress {
            status: SnapshotStatus::Running,
            point: Some(5),
            done: vec!["s.a".into()],
        }),
        Some(SnapshotProgress {
            status: SnapshotStatus::Complete,
            point: Some(5),
            done: Vec::new(),
        }),
    ]
}

#[test]
fn the_decision_table_is_exhaustive_and_exact() {
    // Every (mode, cursor, committed?) combination appears exactly once.
    for mode in SnapshotMode::ALL {
        for cursor in CursorStatus::ALL {
            for committed in [false, true] {
                let rows = TABLE
                    .iter()
                    .filter(|(m, c, p, _)| (*m, *c, *p) == (mode, cursor, committed))
                    .count();
                assert_eq!(rows, 1, "{mode:?} {cursor:?} committed={committed}");
            }
        }
    }
    for (mode, cursor, committed, expect) in TABLE {
        for snapshot in snapshot_states() {
            let complete = snapshot
                .as_ref()
                .is_some_and(|s| s.status == SnapshotStatus::Complete);
            let running_done = match &snapshot {
                Some(s) if s.status == SnapshotStatus::Running => s.done.clone(),
                _ => Vec::new(),
            };
            let resume = ResumeState {
                position: committed.then_some(100_u64),
                snapshot,
            };
            let what = format!("{mode:?} {cursor:?} {resume:?}");
            let got = plan(mode, &resume, cursor);
            match expect {
                Gone(lost) => {
                    assert_eq!(
                        got,
                        Err(CursorGone {
                            committed: 100,
                            lost
                        }),
                        "{what}"
                    )
                }
                P(action, snap, from) => {
                    let got = got.unwrap_or_else(|e| panic!("{what}: {e:?}"));
                    assert_eq!(got.cursor, action, "{what}");
                    let snapshots = match snap {
                        Snap::Yes => true,
                        Snap::No => false,
                        Snap::UntilComplete => !complete,
                    };
                    assert_eq!(
                        got.snapshot,
                        snapshots.then(|| SnapshotPlan {
                            done: running_done.clone()
                        }),
                        "{what}"
                    );
                    let stream = match from {
                        From::Committed => Some(StreamFrom::Committed(100)),
                        From::Cursor => Some(StreamFrom::Cursor),
                        From::NewCursor => Some(StreamFrom::NewCursor),
                        From::NoStream => None,
                    };
                    assert_eq!(got.stream, stream, "{what}");
                    assert_eq!(
                        got.snapshot_at_new_cursor(),
                        snapshots && from == From::NewCursor,
                        "{what}"
                    );
                    assert_eq!(got.is_idle(), !snapshots && from == From::NoStream);
                }
            }
        }
    }
}

#[test]
fn only_initial_only_finishes() {
    for mode in SnapshotMode::ALL {
        assert_eq!(mode.streams(), mode != InitialOnly, "{mode:?}");
    }
}

#[test]
fn snapshot_mode_keeps_its_config_spelling() {
    let names: Vec<Value> = SnapshotMode::ALL
        .iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            json!("initial"),
            json!("always"),
            json!("never"),
            json!("when_needed"),
            json!("initial_only")
        ]
    );
    assert_eq!(SnapshotMode::default(), Initial);
}

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Lsn(String);

impl Position for Lsn {
    const KEY: &'static str = "lsn";
}

#[test]
fn progress_checkpoints_resume_with_the_remaining_tables() {
    let mut run = SnapshotRun::new(Some(Lsn("0/10".into())), vec!["s.a".into()]);
    assert!(run.is_done("s.a"));
    assert!(!run.is_done("s.b"));
    let after_b = run.table_done("s.b").unwrap();
    assert_eq!(
        serde_json::to_value(&after_b.global).unwrap(),
        json!({"snapshot": {"status": "running", "lsn": "0/10", "done": ["s.a", "s.b"]}}),
        "only the snapshot entry: the stream position is not committed yet"
    );
    // A restart reads it back and skips both tables.
    let resume = ResumeState::<Lsn>::from_state(Some(&after_b)).unwrap();
    let again = plan(Initial, &resume, Usable).unwrap();
    assert_eq!(again.snapshot.unwrap().done, ["s.a", "s.b"]);
    assert_eq!(run.done(), ["s.a", "s.b"]);
    assert_eq!(run.point(), Some(&Lsn("0/10".into())));
}

#[test]
fn completing_commits_the_consistent_point_only_when_a_stream_follows() {
    let run = SnapshotRun::new(Some(Lsn("0/10".into())), vec!["s.a".into()]);
    assert_eq!(
        serde_json::to_value(&run.complete(true).unwrap().global).unwrap(),
        json!({"lsn": "0/10", "snapshot": {"status": "complete", "lsn": "0/10", "done": []}})
    );
    assert_eq!(
        serde_json::to_value(&run.complete(false).unwrap().global).unwrap(),
        json!({"snapshot": {"status": "complete", "lsn": "0/10", "done": []}})
    );
    let only = SnapshotRun::<Lsn>::new(None, Vec::new());
    assert_eq!(
        serde_json::to_value(&only.complete(true).unwrap().global).unwrap(),
        json!({"snapshot": {"status": "complete", "lsn": null, "done": []}})
    );
    // A complete snapshot is not repeated by `initial_only` …
    let resume = ResumeState::<Lsn>::from_state(Some(&only.complete(false).unwrap())).unwrap();
    assert!(plan(InitialOnly, &resume, Missing).unwrap().is_idle());
    // … and a stream after it resumes from the consistent point.
    let resume = ResumeState::<Lsn>::from_state(Some(&run.complete(true).unwrap())).unwrap();
    assert_eq!(
        plan(Initial, &resume, Usable).unwrap().stream,
        Some(StreamFrom::Committed(Lsn("0/10".into())))
    );
}
