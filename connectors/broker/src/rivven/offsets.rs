//! [`TopicOffsets`]: the `rivven` source's state, each partition's next
//! offset, as a typed accessor over [`State`].

use std::collections::BTreeMap;

use rivven_connect::State;
use serde_json::{Map, Value};

/// The stream entry of the state events the source emits after a bad record
/// (an event's own offsets live under the event's stream, see below).
const OFFSETS_STREAM: &str = "_rivven_offsets";

/// Per-partition next offsets of one topic (the offset of the next message
/// to read, as committed to the broker).
///
/// In a [`State`] each event carries its partition's next offset as
/// `offset:<topic>:<partition>` in its stream's entry (events keep the
/// stream they were produced with, so the entries spread over those
/// streams); an offset only grows, so the largest entry of a partition is
/// its position.
///
/// ```
/// use rivven_connect::State;
/// use rivven_connect_broker::rivven::TopicOffsets;
///
/// let mut offsets = TopicOffsets::default();
/// offsets.set(0, 17);
/// offsets.set(2, 5);
/// let state = offsets.to_state("orders");
/// assert_eq!(TopicOffsets::from_state(&state, "orders"), offsets);
/// assert!(TopicOffsets::from_state(&state, "other").is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicOffsets {
    next: BTreeMap<u32, u64>,
}

impl TopicOffsets {
    /// The offsets of `topic` recorded in `state`.
    pub fn from_state(state: &State, topic: &str) -> Self {
        let prefix = key_prefix(topic);
        let mut offsets = Self::default();
        let entries = state.streams.values().flat_map(|s| s.data.iter());
        for (key, value) in entries {
            let partition = key
                .strip_prefix(&prefix)
                .and_then(|p| p.parse::<u32>().ok());
            if let (Some(partition), Some(next)) = (partition, value.as_u64()) {
                offsets.advance(partition, next);
            }
        }
        offsets
    }

    /// A state holding exactly these offsets.
    pub fn to_state(&self, topic: &str) -> State {
        let mut state = State::new();
        let stream = state.get_or_create_stream(OFFSETS_STREAM);
        for (partition, next) in &self.next {
            stream.set_data(entry_key(topic, *partition), Value::from(*next));
        }
        state
    }

    /// The next offset of `partition`, if recorded.
    pub fn get(&self, partition: u32) -> Option<u64> {
        self.next.get(&partition).copied()
    }

    /// Record `next` as the next offset of `partition`.
    pub fn set(&mut self, partition: u32, next: u64) {
        self.next.insert(partition, next);
    }

    /// Record `next` unless a later offset is recorded already.
    pub fn advance(&mut self, partition: u32, next: u64) {
        let slot = self.next.entry(partition).or_insert(next);
        *slot = (*slot).max(next);
    }

    /// Whether no partition is recorded.
    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }

    /// `(partition, next offset)` in partition order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.next.iter().map(|(p, o)| (*p, *o))
    }
}

/// The per-event state update: `partition`'s next offset.
pub(crate) fn event_update(topic: &str, partition: u32, next: u64) -> Map<String, Value> {
    let mut update = Map::with_capacity(1);
    update.insert(entry_key(topic, partition), Value::from(next));
    update
}

fn key_prefix(topic: &str) -> String {
    format!("offset:{topic}:")
}

fn entry_key(topic: &str, partition: u32) -> String {
    format!("offset:{topic}:{partition}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_largest_entry_of_a_partition_wins_across_streams() {
        let mut state = State::new();
        state.merge_stream_update("orders", event_update("t", 0, 5));
        state.merge_stream_update("customers", event_update("t", 0, 9));
        state.merge_stream_update("orders", event_update("t", 1, 3));
        state.merge_stream_update("orders", event_update("other", 0, 100));
        state
            .get_or_create_stream("orders")
            .set_data("offset:t:x", Value::from(1));
        let offsets = TopicOffsets::from_state(&state, "t");
        assert_eq!(offsets.iter().collect::<Vec<_>>(), [(0, 9), (1, 3)]);
    }

    #[test]
    fn a_state_event_merges_over_event_entries() {
        let mut state = State::new();
        state.merge_stream_update("orders", event_update("t", 0, 5));
        let mut later = TopicOffsets::default();
        later.set(0, 6);
        state.merge(later.to_state("t"));
        assert_eq!(TopicOffsets::from_state(&state, "t").get(0), Some(6));
    }
}
