//! Detecting acknowledged messages the broker lost. `rivvend` 0.0.22
//! acknowledges a publish before it is on disk, so a `kill -9` takes
//! messages it acknowledged with it — and it keeps its end offsets, so the
//! loss shows as offsets below the end that are no longer readable (a hole;
//! measured: after 100 acknowledged, offset 0 of one partition gone, most
//! of another's messages returned under offset 0). The sink's events were
//! then committed upstream and exist nowhere any more: it cannot undo that,
//! but it must say so. The sink remembers per partition what the broker
//! acknowledged since its last restart was survived and, when the broker
//! may have restarted, reads that range back; the source refuses a position
//! it cannot read past. Either way a loss is an error that names it, never
//! a silent skip.

use std::collections::BTreeMap;

use rivven_client::Client;
use rivven_connect::{ConnectorError, Result};

use super::connection::client_error;

/// At most this many of a partition's newest acknowledged offsets are read
/// back after a broker restart (older ones are taken as on disk).
pub(crate) const MAX_VERIFIED: u64 = 100_000;
/// Messages per read while reading back.
const VERIFY_FETCH: u32 = 1000;
/// Reads at most per partition while reading back (a hole costs one read
/// per missing offset): beyond, the count is a lower bound.
const MAX_VERIFY_READS: u32 = 20_000;

/// Per partition the highest offset the broker acknowledged and the lowest
/// one acknowledged since the broker was last known to have kept everything
/// (of writes that returned success: their events may be committed
/// upstream).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AckedOffsets {
    partitions: BTreeMap<u32, Acked>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Acked {
    highest: u64,
    /// The first offset not yet read back after a restart.
    unverified: Option<u64>,
}

/// The lowest and highest offset the broker acknowledged of one partition
/// in one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckRange {
    pub lowest: u64,
    pub highest: u64,
}

impl AckRange {
    /// The range of one offset.
    pub(crate) fn at(offset: u64) -> Self {
        Self {
            lowest: offset,
            highest: offset,
        }
    }

    /// Widen to include `offset`.
    pub(crate) fn include(&mut self, offset: u64) {
        self.lowest = self.lowest.min(offset);
        self.highest = self.highest.max(offset);
    }
}

/// What a read-back found missing in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Missing {
    /// Offsets not readable (a lower bound when `complete` is false).
    pub count: u64,
    /// The first of them.
    pub first: u64,
    /// Whether the whole range was read.
    pub complete: bool,
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

    /// `(partition, first, last)` of the acknowledged offsets to read back
    /// after a restart (at most [`MAX_VERIFIED`] per partition).
    pub(crate) fn unverified(&self) -> Vec<(u32, u64, u64)> {
        self.partitions
            .iter()
            .filter_map(|(p, a)| {
                let from = a.unverified?;
                let from = from.max((a.highest + 1).saturating_sub(MAX_VERIFIED));
                Some((*p, from, a.highest))
            })
            .collect()
    }

    /// The broker kept everything up to `upto` of `partition` (read back
    /// after a restart).
    pub(crate) fn verified(&mut self, partition: u32, upto: u64) {
        if let Some(a) = self.partitions.get_mut(&partition) {
            if a.highest <= upto {
                a.unverified = None;
            } else {
                a.unverified = a.unverified.map(|u| u.max(upto + 1));
            }
        }
    }

    /// Take in one successful write's acknowledgements. Offsets only grow:
    /// a partition whose new messages got offsets at or below one already
    /// acknowledged lost those (a broker that reuses offsets it lost).
    /// Nothing is recorded when it fails.
    pub(crate) fn record(&mut self, topic: &str, write: &BTreeMap<u32, AckRange>) -> Result<()> {
        for (partition, range) in write {
            if let Some(a) = self.partitions.get(partition) {
                if range.lowest <= a.highest {
                    let missing = Missing {
                        count: a.highest + 1 - range.lowest,
                        first: range.lowest,
                        complete: true,
                    };
                    let from = a.unverified.unwrap_or(range.lowest).min(range.lowest);
                    return Err(lost(
                        topic,
                        *partition,
                        (from, a.highest),
                        missing,
                        range.lowest,
                    ));
                }
            }
        }
        for (partition, range) in write {
            let a = self.partitions.entry(*partition).or_insert(Acked {
                highest: range.highest,
                unverified: Some(range.lowest),
            });
            a.highest = a.highest.max(range.highest);
            a.unverified.get_or_insert(range.lowest);
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
                let from = a.unverified.unwrap_or(end).min(end);
                return Err(lost(topic, *partition, (from, a.highest), missing, end));
            }
        }
        Ok(())
    }
}

/// Read `first..=last` of `partition` back: the offsets that are not
/// readable (each offset once, at its own offset — a message the broker
/// returns under another offset does not count, as a consumer skips it).
pub(crate) async fn read_back(
    client: &mut Client,
    topic: &str,
    partition: u32,
    first: u64,
    last: u64,
) -> Result<Option<Missing>> {
    let mut missing: Option<Missing> = None;
    let (mut at, mut reads) = (first, 0u32);
    while at <= last {
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
        let mut next = at;
        for m in &messages {
            if m.offset == next {
                next += 1;
            }
        }
        if next == at {
            // `at` is not readable.
            let m = missing.get_or_insert(Missing {
                count: 0,
                first: at,
                complete: true,
            });
            m.count += 1;
            next = at + 1;
        }
        at = next;
    }
    Ok(missing)
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

    fn write(ranges: &[(u32, u64, u64)]) -> BTreeMap<u32, AckRange> {
        ranges
            .iter()
            .map(|&(p, lowest, highest)| (p, AckRange { lowest, highest }))
            .collect()
    }

    #[test]
    fn growing_offsets_are_recorded_per_partition_until_verified() {
        let mut acked = AckedOffsets::default();
        assert!(acked.is_empty());
        acked.record("t", &write(&[(0, 0, 9), (2, 5, 7)])).unwrap();
        acked.record("t", &write(&[(0, 10, 19)])).unwrap();
        assert_eq!(acked.iter().collect::<Vec<_>>(), [(0, 19), (2, 7)]);
        assert_eq!(acked.unverified(), [(0, 0, 19), (2, 5, 7)]);
        acked.verified(0, 19);
        acked.verified(2, 6);
        assert_eq!(acked.unverified(), [(2, 7, 7)]);
        acked.record("t", &write(&[(0, 20, 29)])).unwrap();
        assert_eq!(acked.unverified(), [(0, 20, 29), (2, 7, 7)]);
        let mut range = AckRange::at(7);
        range.include(3);
        range.include(11);
        assert_eq!(
            range,
            AckRange {
                lowest: 3,
                highest: 11
            }
        );
    }

    #[test]
    fn at_most_the_newest_max_verified_offsets_are_read_back() {
        let mut acked = AckedOffsets::default();
        acked
            .record("t", &write(&[(0, 0, MAX_VERIFIED + 99)]))
            .unwrap();
        assert_eq!(acked.unverified(), [(0, 100, MAX_VERIFIED + 99)]);
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
