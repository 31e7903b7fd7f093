#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;

/// A position with a text form, as PostgreSQL's LSN (`"0/16B3748"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
struct Hex(u64);

impl TryFrom<String> for Hex {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        u64::from_str_radix(&s, 16)
            .map(Hex)
            .map_err(|_| format!("`{s}` is not a hex position"))
    }
}

impl From<Hex> for String {
    fn from(h: Hex) -> String {
        format!("{:X}", h.0)
    }
}

impl Position for Hex {
    const KEY: &'static str = "lsn";
}

fn read(state: &State) -> Result<ResumeState<Hex>> {
    ResumeState::from_state(Some(state))
}

#[test]
fn no_state_is_a_fresh_start() {
    let r = ResumeState::<Hex>::from_state(None).unwrap();
    assert_eq!(r, ResumeState::default());
    assert!(!r.snapshot_complete());
    let empty = ResumeState::<Hex>::from_state(Some(&State::new())).unwrap();
    assert_eq!(empty.position, None);
    assert_eq!(empty.snapshot, None);
}

#[test]
fn reads_the_layout_the_sources_have_always_written() {
    // A snapshot interrupted after one table (no stream position yet).
    let running = State::builder()
        .global(
            "snapshot",
            json!({"status": "running", "lsn": "16B3700", "done": ["public.a"]}),
        )
        .build();
    let r = read(&running).unwrap();
    assert_eq!(r.position, None);
    assert!(!r.snapshot_complete());
    assert_eq!(r.tables_done(), ["public.a".to_string()]);
    assert_eq!(r.snapshot.as_ref().unwrap().point, Some(Hex(0x16B_3700)));

    // Finished, streaming since: the merged state of both events.
    let streaming = State::builder()
        .global("lsn", json!("16B3748"))
        .global(
            "snapshot",
            json!({"status": "complete", "lsn": "16B3700", "done": []}),
        )
        .build();
    let r = read(&streaming).unwrap();
    assert_eq!(r.position, Some(Hex(0x16B_3748)));
    assert!(r.snapshot_complete());
    assert!(r.tables_done().is_empty());

    // An `initial_only` snapshot has no consistent point.
    let only = State::builder()
        .global(
            "snapshot",
            json!({"status": "complete", "lsn": null, "done": []}),
        )
        .build();
    let r = read(&only).unwrap();
    assert_eq!(r.snapshot.unwrap().point, None);
}

#[test]
fn a_complete_snapshot_skips_nothing_next_time() {
    let state = State::builder()
        .global(
            "snapshot",
            json!({"status": "complete", "done": ["public.a"]}),
        )
        .build();
    let r = read(&state).unwrap();
    assert!(r.snapshot_complete());
    assert!(r.tables_done().is_empty());
}

#[test]
fn round_trips_through_state_in_the_same_layout() {
    let resume = ResumeState {
        position: Some(Hex(0x1_0000_0010)),
        snapshot: Some(SnapshotProgress {
            status: SnapshotStatus::Running,
            point: Some(Hex(0x20)),
            done: vec!["s.a".into(), "s.b".into()],
        }),
    };
    let state = resume.to_state().unwrap();
    assert_eq!(
        serde_json::to_value(&state.global).unwrap(),
        json!({
            "lsn": "100000010",
            "snapshot": {"status": "running", "lsn": "20", "done": ["s.a", "s.b"]}
        })
    );
    assert_eq!(read(&state).unwrap(), resume);
    // Through the offset store's JSON too.
    let stored: State = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    assert_eq!(read(&stored).unwrap(), resume);
}

#[test]
fn checkpoints_carry_only_the_position() {
    let state = checkpoint(&Hex(0xAB)).unwrap();
    assert_eq!(
        serde_json::to_value(&state.global).unwrap(),
        json!({"lsn": "AB"})
    );
    assert_eq!(position_of::<Hex>(&state).unwrap(), Some(Hex(0xAB)));
    assert_eq!(position_of::<Hex>(&State::new()).unwrap(), None);
}

fn error_of(global: Value) -> String {
    let state: State = serde_json::from_value(json!({ "global": global })).unwrap();
    let err = read(&state).unwrap_err();
    assert_eq!(err.kind(), rivven_connect::ErrorKind::Config, "{err}");
    assert!(!err.is_retryable(), "{err}");
    err.to_string()
}

/// Fails before the fix: a malformed position read as "no position", so
/// `snapshot_mode: initial` snapshotted again and a missing slot was
/// re-created past every change since the real committed position.
#[test]
fn a_malformed_position_is_an_error_naming_the_key() {
    for bad in [json!("not-hex"), json!(12), json!(null), json!({"lsn": 1})] {
        let err = error_of(json!({ "lsn": bad }));
        assert!(err.contains("`lsn`"), "{err}");
    }
    let state = State::builder().global("lsn", json!(true)).build();
    assert!(position_of::<Hex>(&state)
        .unwrap_err()
        .to_string()
        .contains("`lsn`"));
}

/// Fails before the fix: an unknown status or a non-list `done` read as
/// "no snapshot progress".
#[test]
fn a_malformed_snapshot_entry_is_an_error_naming_the_key() {
    let cases = [
        (json!("running"), "`snapshot`"),
        (json!({"done": []}), "`snapshot.status`"),
        (json!({"status": "paused"}), "`snapshot.status`"),
        (json!({"status": 1}), "`snapshot.status`"),
        (
            json!({"status": "running", "done": "public.a"}),
            "`snapshot.done`",
        ),
        (json!({"status": "running", "done": [1]}), "`snapshot.done`"),
        (json!({"status": "running", "lsn": "zz"}), "`snapshot.lsn`"),
    ];
    for (snapshot, key) in cases {
        let err = error_of(json!({ "snapshot": snapshot }));
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn unknown_keys_are_left_alone() {
    let state = State::builder()
        .global("lsn", json!("10"))
        .global("something_else", json!([1, 2]))
        .global(
            "snapshot",
            json!({"status": "running", "done": [], "extra": 1}),
        )
        .build();
    let r = read(&state).unwrap();
    assert_eq!(r.position, Some(Hex(0x10)));
    assert!(r.tables_done().is_empty());
}

#[test]
fn a_huge_malformed_value_is_not_quoted_whole() {
    let err = error_of(json!({ "lsn": "z".repeat(10_000) }));
    assert!(err.chars().count() < 400, "{err}");
}
