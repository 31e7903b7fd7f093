//! Assertions hold on good input and panic naming the first offending event.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rivven_connect::SourceEvent;
use rivven_connect_testing::{assertions, events};
use serde_json::json;

fn panic_message(f: impl FnOnce() -> bool + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("the assertion should panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap()
}

#[test]
fn all_records_names_the_first_non_record() {
    let mut evs = events::records("t", 5);
    evs.insert(3, SourceEvent::cdc_insert("t", json!({"id": 99})));
    let msg = panic_message(|| assertions::all_records(&evs));
    assert!(msg.contains("event #3 (Insert on `t`)"), "{msg}");
    assert!(msg.contains("\"id\":99"), "{msg}");
}

#[test]
fn all_have_field_reads_nested_paths_and_cdc_rows() {
    let evs = vec![
        SourceEvent::record("t", json!({"a": {"b": 1}})),
        SourceEvent::cdc_update("t", json!({"a": {"b": 0}}), json!({"a": {"b": 2}})),
        SourceEvent::cdc_delete("t", json!({"a": {"b": 3}})),
    ];
    assert!(assertions::all_have_field(&evs, "a.b"));
    let msg = panic_message(|| assertions::all_have_field(&evs, "a.c"));
    assert!(msg.contains("lacks field `a.c`: event #0"), "{msg}");
}

#[test]
fn ordered_by_reports_the_pair_out_of_order_and_wrong_types() {
    let mut evs = events::with_ids("t", 0..10);
    assert!(assertions::ordered_by::<i64>(&evs, "id"));
    evs.swap(6, 7);
    let msg = panic_message(|| assertions::ordered_by::<i64>(&evs, "id"));
    assert!(
        msg.contains("event #7") && msg.contains("comes after event #6"),
        "{msg}"
    );

    let evs = vec![SourceEvent::record("t", json!({"id": "x"}))];
    let msg = panic_message(|| assertions::ordered_by::<i64>(&evs, "id"));
    assert!(
        msg.contains("wrong type") && msg.contains("event #0"),
        "{msg}"
    );
}

#[test]
fn no_gaps_in_finds_the_missing_range() {
    let mut evs = events::with_ids("t", (0..5).chain(8..10));
    evs.reverse();
    let msg = panic_message(|| assertions::no_gaps_in(&evs, "id"));
    assert!(msg.contains("5..8 missing"), "{msg}");
    assert!(msg.contains("\"id\":8"), "{msg}");
    let dup = events::with_ids("t", [3, 1, 2, 2, 1]);
    assert!(assertions::no_gaps_in(&dup, "id"));
}

#[test]
fn at_least_once_allows_duplicates_but_not_losses() {
    let mut out = events::with_ids("t", 0..10);
    out.extend(events::with_ids("t", 3..6));
    assert!(assertions::at_least_once(0..10, &out, "id"));
    let msg = panic_message(|| assertions::at_least_once(0..11, &out, "id"));
    assert!(msg.contains("id 10 was never delivered"), "{msg}");
}

#[test]
fn exactly_once_rejects_duplicates_losses_and_extras() {
    let out = events::with_ids("t", 0..10);
    assert!(assertions::exactly_once(0..10, &out, "id"));

    let mut dup = out.clone();
    dup.push(events::record("t", json!({"id": 4})));
    let msg = panic_message(|| assertions::exactly_once(0..10, &dup, "id"));
    assert!(
        msg.contains("id 4 was delivered 2 times; first copy: event #4"),
        "{msg}"
    );

    let msg = panic_message(|| assertions::exactly_once(0..9, &out, "id"));
    assert!(
        msg.contains("not in the input") && msg.contains("event #9"),
        "{msg}"
    );

    let msg = panic_message(|| assertions::exactly_once(["a", "b"], &out, "id"));
    assert!(msg.contains("id \"a\" was never delivered"), "{msg}");
}

#[test]
fn long_events_are_shortened_in_messages() {
    let evs = vec![SourceEvent::record("t", json!({"blob": "é".repeat(1000)}))];
    let msg = panic_message(|| assertions::all_have_field(&evs, "id"));
    assert!(msg.len() < 600, "{}", msg.len());
    assert!(msg.ends_with('…'));
}

#[test]
fn generators_make_what_they_say() {
    assert_eq!(events::records("t", 3)[2].data, json!({"id": 2}));
    let ups = events::cdc_updates("t", 2);
    assert_eq!(ups[1].op(), Some("u"));
    assert_eq!(ups[1].data["after"], json!({"id": 1, "version": 2}));
    assert_eq!(ups[1].key, Some(json!({"id": 1})));
    let dels = events::cdc_deletes("t", 2);
    assert_eq!(dels[0].op(), Some("d"));
    assert_eq!(dels[0].data["before"]["id"], json!(0));
}

#[test]
fn cdc_mixed_is_a_valid_history() {
    use std::collections::HashMap;
    let history = events::cdc_mixed("t", 2_000, 42);
    assert_ne!(history, events::cdc_mixed("t", 2_000, 43));
    let mut live: HashMap<u64, u64> = HashMap::new();
    for (i, e) in history.iter().enumerate() {
        let id = e.key.as_ref().unwrap()["id"].as_u64().unwrap();
        match e.op() {
            Some("c") => {
                assert!(live.insert(id, 1).is_none(), "#{i} re-inserts {id}");
            }
            Some("u") => {
                let v = live
                    .get_mut(&id)
                    .unwrap_or_else(|| panic!("#{i} updates missing {id}"));
                assert_eq!(e.data["before"]["version"], json!(*v));
                *v += 1;
                assert_eq!(e.data["after"]["version"], json!(*v));
            }
            Some("d") => {
                assert!(live.remove(&id).is_some(), "#{i} deletes missing {id}");
            }
            other => panic!("unexpected op {other:?}"),
        }
    }
    let ops = |op| history.iter().filter(|e| e.op() == Some(op)).count();
    assert!(ops("c") > 1000 && ops("u") > 400 && ops("d") > 100);
}
