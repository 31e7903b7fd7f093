//! Assertions over events. Each returns `true` when it holds, so it reads
//! naturally inside `assert!`, and otherwise panics with a message that
//! shows the first offending event (by index).
//!
//! Fields are looked up like the transform helpers do
//! ([`rivven_connect::transforms::get_nested_field`]): dotted paths, and for
//! CDC events the `after` row (the `before` row for deletes).
//!
//! ```
//! use rivven_connect_testing::{assertions, events};
//! let events = events::with_ids("orders", 0..100);
//! assert!(assertions::all_records(&events));
//! assert!(assertions::all_have_field(&events, "id"));
//! assert!(assertions::ordered_by::<i64>(&events, "id"));
//! assert!(assertions::no_gaps_in(&events, "id"));
//! ```
//!
//! ```should_panic
//! use rivven_connect_testing::{assertions, events};
//! let mut events = events::with_ids("orders", 0..10);
//! events.swap(3, 4);
//! // panics: "events are not ordered by `id`: event #4 ... comes after event #3 ..."
//! assertions::ordered_by::<i64>(&events, "id");
//! ```

use rivven_connect::transforms::get_nested_field;
use rivven_connect::{EventType, SourceEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// Longest rendering of one event in a message.
const SHOW_MAX: usize = 400;

/// A short rendering of event `index` for failure messages.
pub fn describe(index: usize, event: &SourceEvent) -> String {
    let mut data = event.data.to_string();
    if data.len() > SHOW_MAX {
        let mut cut = SHOW_MAX;
        while !data.is_char_boundary(cut) {
            cut -= 1;
        }
        data.truncate(cut);
        data.push('…');
    }
    format!(
        "event #{index} ({:?} on `{}`): {data}",
        event.event_type, event.stream
    )
}

/// Every event is a plain record (not CDC, state or log).
#[track_caller]
pub fn all_records(events: &[SourceEvent]) -> bool {
    if let Some((i, e)) = events
        .iter()
        .enumerate()
        .find(|(_, e)| e.event_type != EventType::Record)
    {
        panic!("not all events are records: {}", describe(i, e));
    }
    true
}

/// Every event has `field` (dotted path).
#[track_caller]
pub fn all_have_field(events: &[SourceEvent], field: &str) -> bool {
    if let Some((i, e)) = events
        .iter()
        .enumerate()
        .find(|(_, e)| get_nested_field(e, field).is_none())
    {
        panic!("event lacks field `{field}`: {}", describe(i, e));
    }
    true
}

/// Events are in non-decreasing order of `field`, read as `T`.
#[track_caller]
pub fn ordered_by<T: DeserializeOwned + PartialOrd>(events: &[SourceEvent], field: &str) -> bool {
    let mut previous: Option<T> = None;
    for (i, e) in events.iter().enumerate() {
        let value: T = typed_field(i, e, field);
        if let Some(p) = &previous {
            if value < *p {
                panic!(
                    "events are not ordered by `{field}`: {} comes after {}",
                    describe(i, e),
                    describe(i - 1, &events[i - 1])
                );
            }
        }
        previous = Some(value);
    }
    true
}

/// The integer values of `field` cover every number between their minimum
/// and maximum (in any order, duplicates allowed).
#[track_caller]
pub fn no_gaps_in(events: &[SourceEvent], field: &str) -> bool {
    let mut seen: BTreeSet<i64> = BTreeSet::new();
    for (i, e) in events.iter().enumerate() {
        seen.insert(typed_field::<i64>(i, e, field));
    }
    let mut expected = seen.first().copied().unwrap_or(0);
    for &value in &seen {
        if value != expected {
            let (i, e) = events
                .iter()
                .enumerate()
                .find(|(_, e)| get_nested_field(e, field).and_then(Value::as_i64) == Some(value))
                .unwrap_or((0, &events[0]));
            panic!(
                "values of `{field}` have a gap: {expected}..{value} missing (next present value in {})",
                describe(i, e)
            );
        }
        expected = value + 1;
    }
    true
}

/// Every input id appears in `output` (by `field`) at least once; duplicates
/// are allowed (at-least-once delivery).
#[track_caller]
pub fn at_least_once<V: Into<Value>>(
    input_ids: impl IntoIterator<Item = V>,
    output: &[SourceEvent],
    field: &str,
) -> bool {
    let counts = count_by(output, field);
    for id in input_ids {
        let id = id.into();
        if !counts.contains_key(&id.to_string()) {
            panic!(
                "id {id} was never delivered ({} output events, matched by `{field}`)",
                output.len()
            );
        }
    }
    true
}

/// Every input id appears in `output` (by `field`) exactly once, and
/// nothing else does.
#[track_caller]
pub fn exactly_once<V: Into<Value>>(
    input_ids: impl IntoIterator<Item = V>,
    output: &[SourceEvent],
    field: &str,
) -> bool {
    let mut counts = count_by(output, field);
    for id in input_ids {
        let id = id.into();
        match counts.remove(&id.to_string()) {
            None => panic!(
                "id {id} was never delivered ({} output events, matched by `{field}`)",
                output.len()
            ),
            Some((n, first)) if n > 1 => panic!(
                "id {id} was delivered {n} times; first copy: {}",
                describe(first, &output[first])
            ),
            Some(_) => {}
        }
    }
    if let Some(first) = counts.values().map(|&(_, first)| first).min() {
        panic!(
            "an event that was not in the input was delivered: {}",
            describe(first, &output[first])
        );
    }
    true
}

/// Output events by the JSON text of `field` → (count, index of the first).
#[track_caller]
fn count_by(output: &[SourceEvent], field: &str) -> HashMap<String, (usize, usize)> {
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for (i, e) in output.iter().enumerate() {
        let Some(value) = get_nested_field(e, field) else {
            panic!("output event lacks field `{field}`: {}", describe(i, e));
        };
        counts.entry(value.to_string()).or_insert((0, i)).0 += 1;
    }
    counts
}

#[track_caller]
fn typed_field<T: DeserializeOwned>(i: usize, e: &SourceEvent, field: &str) -> T {
    let Some(value) = get_nested_field(e, field) else {
        panic!("event lacks field `{field}`: {}", describe(i, e));
    };
    match serde_json::from_value(value.clone()) {
        Ok(v) => v,
        Err(err) => panic!(
            "field `{field}` has the wrong type ({err}): {}",
            describe(i, e)
        ),
    }
}
