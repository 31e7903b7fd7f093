//! Quick event generation for tests.
//!
//! ```
//! use rivven_connect_testing::events;
//! use serde_json::json;
//!
//! let orders = events::with_ids("orders", 0..100);
//! assert_eq!(orders[99].data, json!({"id": 99}));
//! let users = events::with_generator("users", 10, |i| json!({"id": i, "name": format!("User {i}")}));
//! assert_eq!(users[3].data["name"], "User 3");
//! let inserts = events::cdc_inserts("products", 50);
//! assert_eq!(inserts[0].op(), Some("c"));
//! ```

use rivven_connect::SourceEvent;
use serde_json::{json, Value};

/// One record on `stream`.
pub fn record(stream: &str, data: Value) -> SourceEvent {
    SourceEvent::record(stream, data)
}

/// `n` records `{"id": i}` for `i` in `0..n`.
pub fn records(stream: &str, n: u64) -> Vec<SourceEvent> {
    with_generator(stream, n, |i| json!({ "id": i }))
}

/// One record `{"id": id}` per id.
pub fn with_ids(stream: &str, ids: impl IntoIterator<Item = i64>) -> Vec<SourceEvent> {
    ids.into_iter()
        .map(|id| SourceEvent::record(stream, json!({ "id": id })))
        .collect()
}

/// `n` records whose data is `f(i)` for `i` in `0..n`.
pub fn with_generator(stream: &str, n: u64, f: impl Fn(u64) -> Value) -> Vec<SourceEvent> {
    (0..n).map(|i| SourceEvent::record(stream, f(i))).collect()
}

/// `n` CDC inserts of rows `{"id": i, "version": 1}`, keyed by id.
pub fn cdc_inserts(stream: &str, n: u64) -> Vec<SourceEvent> {
    (0..n)
        .map(|i| SourceEvent::cdc_insert(stream, row(i, 1)).with_key(key(i)))
        .collect()
}

/// `n` CDC updates of rows `i` from version 1 to 2, keyed by id.
pub fn cdc_updates(stream: &str, n: u64) -> Vec<SourceEvent> {
    (0..n)
        .map(|i| SourceEvent::cdc_update(stream, row(i, 1), row(i, 2)).with_key(key(i)))
        .collect()
}

/// `n` CDC deletes of rows `i` (version 1), keyed by id.
pub fn cdc_deletes(stream: &str, n: u64) -> Vec<SourceEvent> {
    (0..n)
        .map(|i| SourceEvent::cdc_delete(stream, row(i, 1)).with_key(key(i)))
        .collect()
}

/// `n` CDC events that form a valid history: inserts of new ids, updates and
/// deletes only of rows that exist, each row's `version` counting its
/// changes. The same `seed` gives the same events.
///
/// ```
/// use rivven_connect_testing::events;
/// let a = events::cdc_mixed("t", 200, 7);
/// assert_eq!(a, events::cdc_mixed("t", 200, 7));
/// assert!(a.iter().any(|e| e.op() == Some("u")) && a.iter().any(|e| e.op() == Some("d")));
/// ```
pub fn cdc_mixed(stream: &str, n: u64, seed: u64) -> Vec<SourceEvent> {
    let mut rng = SplitMix64(seed);
    // (id, version) of the live rows
    let mut live: Vec<(u64, u64)> = Vec::new();
    let mut next_id = 0;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let roll = rng.next() % 10;
        let event = if live.is_empty() || roll < 6 {
            live.push((next_id, 1));
            next_id += 1;
            SourceEvent::cdc_insert(stream, row(next_id - 1, 1)).with_key(key(next_id - 1))
        } else {
            let at = (rng.next() % live.len() as u64) as usize;
            let (id, version) = live[at];
            if roll < 9 {
                live[at].1 += 1;
                SourceEvent::cdc_update(stream, row(id, version), row(id, version + 1))
                    .with_key(key(id))
            } else {
                live.swap_remove(at);
                SourceEvent::cdc_delete(stream, row(id, version)).with_key(key(id))
            }
        };
        out.push(stamp(event, i));
    }
    out
}

fn row(id: u64, version: u64) -> Value {
    json!({ "id": id, "version": version })
}

fn key(id: u64) -> Value {
    json!({ "id": id })
}

/// Event `i` of a history happens at `HISTORY_START_MS + i` ms (so equal seeds give equal events).
fn stamp(mut event: SourceEvent, i: u64) -> SourceEvent {
    const HISTORY_START_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let ms = HISTORY_START_MS.saturating_add(i64::try_from(i).unwrap_or(i64::MAX));
    if let Some(ts) = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms) {
        event.timestamp = ts;
    }
    if let Some(data) = event.data.as_object_mut() {
        data.insert("ts_ms".into(), json!(ms));
    }
    event
}

/// A tiny deterministic generator (SplitMix64): enough for test data, no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
