//! Detecting acknowledged messages the broker lost. `rivvend` 0.0.22
//! acknowledges a publish before it is on disk, so a `kill -9` takes
//! messages it acknowledged with it. Measured: after 100 acknowledged, offset
//! 0 of one partition gone, most of another's messages returned under offset
//! 0; after a restart it may also hand the lost offsets out again, so the
//! offsets fill up with other messages (the producers' retries of
//! unacknowledged batches, later writes). The sink's events were then
//! committed upstream and exist nowhere any more: it cannot undo that, but
//! it must say so. The sink remembers per partition each offset the broker
//! acknowledged since it was last known to have kept everything, with a
//! fingerprint of the message written there, and, when the broker may have
//! restarted, reads those offsets back and compares the messages — an offset
//! that is missing, or holds another message, is a loss. The source refuses
//! a position it cannot read past. Either way a loss is an error that names
//! it, never a silent skip.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use rivven_client::Client;
use rivven_connect::{ConnectorError, Result};

use super::connection::client_error;

/// At most this many of a partition's newest acknowledged offsets are
/// remembered (16 bytes each) and read back after a broker restart (older
/// ones are taken as on disk).
pub(crate) const MAX_VERIFIED: usize = 100_000;
/// Messages per read while reading back.
const VERIFY_FETCH: u32 = 1000;
/// Reads at most per partition while reading back (a hole costs one read
/// per missing offset): beyond, the count is a lower bound.
const MAX_VERIFY_READS: u32 = 20_000;

/// A fingerprint of a message's key and value: a read-back message with
/// another fingerprint is not the one the broker acknowledged.
pub(crate) fn fingerprint(key: Option<&[u8]>, value: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    value.hash(&mut hasher);
    hasher.finish()
}

/// One message the broker acknowledged: its partition, its offset and its
/// [`fingerprint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ack {
    pub partition: u32,
    pub offset: u64,
    pub fingerprint: u64,
}

/// Per partition the highest offset the broker acknowledged and the
/// messages acknowledged since the broker was last known to have kept
/// everything (of writes that returned success: their events may be
/// committed upstream).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AckedOffsets {
    partitions: BTreeMap<u32, Acked>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Acked {
    highest: u64,
    /// `(offset, fingerprint)` not yet read back after a restart, in offset
    /// order, at most [`MAX_VERIFIED`].
    unverified: VecDeque<(u64, u64)>,
}

/// What a read-back found missing in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Missing {
    /// Offsets not readable or holding another message (a lower bound when
    /// `complete` is false).
    pub count: u64,
    /// The first of them.
    pub first: u64,
    /// Whether the whole range was read.
    pub complete: bool,
}

impl Missing {
    fn add(missing: &mut Option<Missing>, offset: u64) {
        missing
            .get_or_insert(Missing {
                count: 0,
                first: offset,
                complete: true,
            })
            .count += 1;
    }
}

/// The acknowledged messages of one partition to read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unverified {
    pub partition: u32,
    /// `(offset, fingerprint)` in offset order (never empty).
    pub messages: Vec<(u64, u64)>,
}

impl Unverified {
    /// The first and the last offset.
    pub(crate) fn range(&self) -> (u64, u64) {
        let first = self.messages.first().map_or(0, |m| m.0);
        let last = self.messages.last().map_or(0, |m| m.0);
        (first, last)
    }
}

impl AckedOffsets {
    /// Whether nothing was acknowledged yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.partitions.is_empty()
    }

    /// `(partition, highest acknowledged offset)` in partition order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.partitions.iter().map(|(p, a)| (*p, a.highest))
    }

    /// The acknowledged messages to read back after a restart, per partition
    /// (at most [`MAX_VERIFIED`] each).
    pub(crate) fn unverified(&self) -> Vec<Unverified> {
        self.partitions
            .iter()
            .filter(|(_, a)| !a.unverified.is_empty())
            .map(|(p, a)| Unverified {
                partition: *p,
                messages: a.unverified.iter().copied().collect(),
            })
            .collect()
    }

    /// The broker kept everything up to `upto` of `partition` (read back
    /// after a restart).
    pub(crate) fn verified(&mut self, partition: u32, upto: u64) {
        if let Some(a) = self.partitions.get_mut(&partition) {
            while a.unverified.front().is_some_and(|(o, _)| *o <= upto) {
                a.unverified.pop_front();
            }
        }
    }

    /// Take in one successful write's acknowledgements. Offsets only grow:
    /// a partition whose new messages got offsets at or below one already
    /// acknowledged lost those (a broker that reuses offsets it lost).
    /// Nothing is recorded when it fails.
    pub(crate) fn record(&mut self, topic: &str, write: &[Ack]) -> Result<()> {
        let mut lowest: BTreeMap<u32, u64> = BTreeMap::new();
        for ack in write {
            let low = lowest.entry(ack.partition).or_insert(ack.offset);
            *low = (*low).min(ack.offset);
        }
        for (partition, lowest) in &lowest {
            if let Some(a) = self.partitions.get(partition) {
                if *lowest <= a.highest {
                    let missing = Missing {
                        count: a.highest + 1 - lowest,
                        first: *lowest,
                        complete: true,
                    };
                    let from = a.unverified.front().map_or(*lowest, |m| m.0.min(*lowest));
                    return Err(lost(topic, *partition, (from, a.highest), missing, *lowest));
                }
            }
        }
        let mut write = write.to_vec();
        write.sort_by_key(|a| (a.partition, a.offset));
        for ack in write {
            let a = self.partitions.entry(ack.partition).or_default();
            a.highest = a.highest.max(ack.offset);
            a.unverified.push_back((ack.offset, ack.fingerprint));
            if a.unverified.len() > MAX_VERIFIED {
                a.unverified.pop_front();
            }
        }
        Ok(())
    }

    /// Compare with the broker's end offsets (the next offset it would
    /// write, per partition): an end at or below an acknowledged offset is a
    /// loss. A partition the broker does not report is a loss of all of it.
    pub(crate) fn check_ends(
        &self,
        topic: &str,
        end_of: impl Fn(u32) -> Option<u64>,
    ) -> Result<()> {
        for (partition, a) in &self.partitions {
            let end = end_of(*partition).unwrap_or(0);
            if end <= a.highest {
                let missing = Missing {
                    count: a.highest + 1 - end,
                    first: end,
                    complete: true,
                };
                let from = a.unverified.front().map_or(end, |m| m.0.min(end));
                return Err(lost(topic, *partition, (from, a.highest), missing, end));
            }
        }
        Ok(())
    }
}

/// Read the acknowledged messages of `expected` back: those not readable at
/// their own offset (a message the broker returns under another offset does
/// not count, as a consumer skips it) or readable with another fingerprint
/// (the broker handed the offset out again).
pub(crate) async fn read_back(
    client: &mut Client,
    topic: &str,
    expected: &Unverified,
) -> Result<Option<Missing>> {
    let partition = expected.partition;
    let expected = &expected.messages;
    let mut missing: Option<Missing> = None;
    let (mut i, mut reads) = (0usize, 0u32);
    while let Some(&(at, _)) = expected.get(i) {
        if reads >= MAX_VERIFY_READS {
            if let Some(m) = missing.as_mut() {
                m.complete = false;
            }
            break;
        }
        reads += 1;
        let messages = client
            .consume(topic, partition, at, VERIFY_FETCH)
            .await
            .map_err(|e| {
                client_error(e).context(format!("read back `{topic}` partition {partition}"))
            })?;
        let read: Vec<(u64, u64)> = messages
            .iter()
            .map(|m| (m.offset, fingerprint(m.key.as_deref(), &m.value)))
            .collect();
        i = compare(expected, i, &read, &mut missing);
    }
    Ok(missing)
}

/// Compare one read (`(offset, fingerprint)` of the messages returned for a
/// read from `expected[i]`'s offset) with `expected` from `i` on, adding to
/// `missing`; the index to read from next (always past `i`).
fn compare(
    expected: &[(u64, u64)],
    mut i: usize,
    read: &[(u64, u64)],
    missing: &mut Option<Missing>,
) -> usize {
    let Some(&(at, _)) = expected.get(i) else {
        return i;
    };
    let found: HashMap<u64, u64> = read.iter().copied().collect();
    // The offsets this read covered: up to the highest it returned.
    let covered = read.iter().map(|m| m.0).max();
    let before = i;
    while let Some(&(offset, print)) = expected.get(i) {
        match found.get(&offset) {
            Some(f) if *f == print => {}
            Some(_) => Missing::add(missing, offset),
            None if covered.is_some_and(|c| offset < c) => Missing::add(missing, offset),
            None => break,
        }
        i += 1;
    }
    if i == before {
        // `at` is not readable.
        Missing::add(missing, at);
        i += 1;
    }
    i
}

/// The sink's loss error (not retryable: the messages are gone).
pub(crate) fn lost(
    topic: &str,
    partition: u32,
    (from, acked): (u64, u64),
    missing: Missing,
    end: u64,
) -> ConnectorError {
    let at_least = if missing.complete { "" } else { "at least " };
    ConnectorError::fatal(format!(
        "the broker lost {at_least}{} acknowledged messages of partition {partition} of topic \
         `{topic}`: of offsets {from}..={acked}, which it had acknowledged, {at_least}{} are no \
         longer readable (the first is {}), its end is now {end}; events up to there were \
         committed upstream and are gone from the broker (rivvend loses acknowledged messages \
         when it is killed; restart rivven-connect to go on writing)",
        missing.count, missing.count, missing.first
    ))
}

/// The source cannot read on from `next` of `partition`: past the end, or
/// not readable below it (a hole). The broker lost messages the group had
/// not read; reading on would skip them (or whatever the broker writes at
/// those offsets next).
pub(crate) fn unreadable_position(
    group: &str,
    topic: &str,
    partition: u32,
    next: u64,
    end: u64,
) -> ConnectorError {
    let what = if next > end {
        format!(
            "but the broker's end is {end}: the broker lost {} messages the group had passed",
            next - end
        )
    } else {
        format!(
            "below the broker's end {end}, but that offset is not readable: the broker lost it \
             (it keeps its end offset but no longer returns the message)"
        )
    };
    ConnectorError::fatal(format!(
        "group `{group}` is at offset {next} of partition {partition} of topic `{topic}` {what} \
         (rivvend loses acknowledged messages when it is killed); the source refuses to skip \
         — to go on, reset the pipeline's offsets and the group's committed offsets"
    ))
}

/// The broker returned offset `returned` where the source expected `next`:
/// the offsets in between are gone; reading on would skip them.
pub(crate) fn offsets_skipped(
    group: &str,
    topic: &str,
    partition: u32,
    next: u64,
    returned: u64,
) -> ConnectorError {
    ConnectorError::fatal(format!(
        "group `{group}` is at offset {next} of partition {partition} of topic `{topic}` but the \
         broker returned offset {returned} next: the broker lost offsets {next}..{returned} \
         (rivvend loses acknowledged messages when it is killed); the source refuses to skip \
         — to go on, reset the pipeline's offsets and the group's committed offsets"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A write of offsets `lowest..=highest` per partition (fingerprint =
    /// offset).
    fn write(ranges: &[(u32, u64, u64)]) -> Vec<Ack> {
        ranges
            .iter()
            .flat_map(|&(partition, lowest, highest)| {
                (lowest..=highest).map(move |offset| Ack {
                    partition,
                    offset,
                    fingerprint: offset,
                })
            })
            .collect()
    }

    /// `(partition, first, last, count)` of what is to be read back.
    fn unverified(acked: &AckedOffsets) -> Vec<(u32, u64, u64, usize)> {
        acked
            .unverified()
            .iter()
            .map(|u| {
                let (first, last) = u.range();
                (u.partition, first, last, u.messages.len())
            })
            .collect()
    }

    #[test]
    fn growing_offsets_are_recorded_per_partition_until_verified() {
        let mut acked = AckedOffsets::default();
        assert!(acked.is_empty());
        acked.record("t", &write(&[(0, 0, 9), (2, 5, 7)])).unwrap();
        acked.record("t", &write(&[(0, 10, 19)])).unwrap();
        assert_eq!(acked.iter().collect::<Vec<_>>(), [(0, 19), (2, 7)]);
        assert_eq!(unverified(&acked), [(0, 0, 19, 20), (2, 5, 7, 3)]);
        acked.verified(0, 19);
        acked.verified(2, 6);
        assert_eq!(unverified(&acked), [(2, 7, 7, 1)]);
        acked.record("t", &write(&[(0, 20, 29)])).unwrap();
        assert_eq!(unverified(&acked), [(0, 20, 29, 10), (2, 7, 7, 1)]);
        // Offsets of other writers in between are not ours to read back.
        acked
            .record("t", &write(&[(0, 40, 40), (0, 35, 35)]))
            .unwrap();
        assert_eq!(acked.unverified()[0].messages[10..], [(35, 35), (40, 40)]);
    }

    #[test]
    fn at_most_the_newest_max_verified_offsets_are_read_back() {
        let mut acked = AckedOffsets::default();
        let last = MAX_VERIFIED as u64 + 99;
        acked.record("t", &write(&[(0, 0, last)])).unwrap();
        assert_eq!(unverified(&acked), [(0, 100, last, MAX_VERIFIED)]);
    }

    #[test]
    fn the_fingerprint_tells_messages_apart() {
        let a = fingerprint(Some(b"k"), br#"{"id":1}"#);
        assert_eq!(a, fingerprint(Some(b"k"), br#"{"id":1}"#));
        assert_ne!(a, fingerprint(Some(b"k"), br#"{"id":2}"#));
        assert_ne!(a, fingerprint(None, br#"{"id":1}"#));
        assert_ne!(fingerprint(Some(b"k"), b"v"), fingerprint(Some(b"kv"), b""));
    }

    #[test]
    fn a_read_back_counts_holes_other_messages_and_misplaced_offsets() {
        let expected = [(10, 1), (11, 2), (12, 3), (20, 4)];
        // Everything there (other writers' messages in between are fine).
        let mut missing = None;
        let read = [(10, 1), (11, 2), (12, 3), (13, 99), (20, 4)];
        assert_eq!(compare(&expected, 0, &read, &mut missing), 4);
        assert_eq!(missing, None);
        // A read that ends early: the rest is read next.
        assert_eq!(compare(&expected, 0, &read[..2], &mut missing), 2);
        assert_eq!(missing, None);
        // A hole (11) and an offset handed out again with another message (12).
        let read = [(10, 1), (12, 7), (13, 99)];
        assert_eq!(compare(&expected, 0, &read, &mut missing), 3);
        assert_eq!(
            missing,
            Some(Missing {
                count: 2,
                first: 11,
                complete: true
            })
        );
        // Messages under other offsets only: the offset read is missing, one
        // at a time.
        let mut missing = None;
        assert_eq!(compare(&expected, 3, &[(0, 4)], &mut missing), 4);
        assert_eq!(compare(&expected, 0, &[], &mut missing), 1);
        assert_eq!(missing.map(|m| (m.count, m.first)), Some((2, 20)));
    }

    #[test]
    fn a_reused_offset_is_a_loss_naming_topic_partition_and_offsets() {
        let mut acked = AckedOffsets::default();
        acked.record("orders", &write(&[(1, 0, 99)])).unwrap();
        let err = acked.record("orders", &write(&[(1, 49, 60)])).unwrap_err();
        assert!(!err.is_retryable());
        assert_eq!(err.kind(), rivven_connect::ErrorKind::Fatal);
        let text = err.message();
        assert!(
            text.starts_with(
                "the broker lost 51 acknowledged messages of partition 1 of topic `orders`: \
                 of offsets 0..=99, which it had acknowledged, 51 are no longer readable \
                 (the first is 49), its end is now 49; events up to there were committed \
                 upstream and are gone from the broker"
            ),
            "{text}"
        );
        // Nothing of the failed write is recorded.
        assert_eq!(acked.iter().collect::<Vec<_>>(), [(1, 99)]);
        // The very next offset is no loss.
        acked.record("orders", &write(&[(1, 100, 100)])).unwrap();
    }

    #[test]
    fn an_end_at_or_below_an_acknowledged_offset_is_a_loss() {
        let mut acked = AckedOffsets::default();
        acked.record("t", &write(&[(0, 0, 99), (1, 0, 9)])).unwrap();
        let ends = |e0: u64, e1: Option<u64>| move |p: u32| if p == 0 { Some(e0) } else { e1 };
        acked.check_ends("t", ends(100, Some(10))).unwrap();
        acked.check_ends("t", ends(150, Some(12))).unwrap();
        let err = acked.check_ends("t", ends(100, Some(9))).unwrap_err();
        assert!(
            err.message()
                .starts_with("the broker lost 1 acknowledged messages of partition 1 of topic `t`"),
            "{err}"
        );
        let err = acked.check_ends("t", ends(49, Some(10))).unwrap_err();
        assert!(err.message().contains("lost 51 acknowledged"), "{err}");
        assert!(err.message().contains("its end is now 49"), "{err}");
        // A partition the broker no longer has lost everything.
        let err = acked.check_ends("t", ends(100, None)).unwrap_err();
        assert!(err.message().contains("lost 10 acknowledged"), "{err}");
        // Nothing acknowledged: nothing to lose.
        AckedOffsets::default()
            .check_ends("t", |_| Some(0))
            .unwrap();
    }

    #[test]
    fn an_incomplete_read_back_says_at_least() {
        let missing = Missing {
            count: 20_000,
            first: 5,
            complete: false,
        };
        let text = lost("t", 0, (0, 90_000), missing, 90_001).to_string();
        assert!(text.contains("lost at least 20000 acknowledged"), "{text}");
        assert!(
            text.contains("at least 20000 are no longer readable (the first is 5)"),
            "{text}"
        );
    }

    #[test]
    fn an_unreadable_position_names_group_partition_and_both_offsets() {
        let err = unreadable_position("g", "t", 2, 120, 70);
        assert!(!err.is_retryable());
        let text = err.message();
        assert!(
            text.starts_with(
                "group `g` is at offset 120 of partition 2 of topic `t` but the broker's end \
                 is 70: the broker lost 50 messages"
            ),
            "{text}"
        );
        assert!(text.contains("refuses to skip"), "{text}");
        let text = offsets_skipped("g", "t", 1, 5, 9).to_string();
        assert!(
            text.contains(
                "group `g` is at offset 5 of partition 1 of topic `t` but the broker returned \
                 offset 9 next: the broker lost offsets 5..9"
            ),
            "{text}"
        );
        let text = unreadable_position("g", "t", 0, 3, 70).to_string();
        assert!(
            text.contains(
                "group `g` is at offset 3 of partition 0 of topic `t` below the broker's end 70, \
                 but that offset is not readable"
            ),
            "{text}"
        );
    }
}
