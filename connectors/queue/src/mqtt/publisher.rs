//! The sink's side of a connection: which publishes were handed to rumqttc
//! and which of them the broker acknowledged, across writes.
//!
//! A write hands its publishes over and (pipelined) returns once each went
//! out on the socket; the acknowledgements of the last ones arrive while the
//! next write publishes. What is handed but not acknowledged is *pending*:
//! counted back from the newest event, as `WriteResult::pending` wants it.
//! A connection lost (or timed out) while publishes of earlier writes wait
//! for their acknowledgement loses them for this sink: it then fails every
//! write and flush until the runtime discards what is pending and replays it
//! from its committed state.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rivven_connect::ConnectorError;

use super::client::{AckStep, Client, Connection, Polled, Refusal, RequestError};
use super::config::{BrokerAddr, Qos};

/// One PUBLISH of a batch.
pub(super) struct Message {
    /// The event's index in the batch.
    pub index: usize,
    pub topic: String,
    pub payload: bytes::Bytes,
    /// MQTT 5 only.
    pub properties: Option<rumqttc::v5::mqttbytes::v5::PublishProperties>,
}

/// The connection and what is in flight on it.
#[derive(Default)]
pub(super) struct Publisher {
    /// The client and its event loop, once connected.
    pub connection: Option<(Client, Connection)>,
    track: Track,
}

/// What the broker answered of the current write's messages in a round (by
/// event index).
#[derive(Default)]
pub(super) struct Answered {
    /// Messages the broker accepted (QoS 0: written to the socket).
    pub accepted: Vec<usize>,
    /// Messages the broker refused with an MQTT 5 reason code.
    pub refused: Vec<(usize, Refusal)>,
}

/// A publish handed to rumqttc, until the broker answered it.
struct Outstanding {
    /// The write that handed it over.
    write: u64,
    /// Its event's index in that write's batch.
    index: usize,
    /// Its event's position among all events handed so far.
    position: u64,
    /// Payload bytes.
    bytes: u64,
    /// Its QoS (which acknowledgement completes it).
    qos: Qos,
    /// When its write began: it times out `write_timeout_ms` later.
    since: Instant,
}

/// The bookkeeping of publishes across writes.
#[derive(Default)]
struct Track {
    /// Events handed over by completed writes (failed ones included).
    handed: u64,
    /// Writes begun so far: the current one's number.
    writes: u64,
    /// Sequence number of the next publish handed over.
    next_seq: u64,
    /// Publishes awaiting their answer, by sequence number (oldest first).
    outstanding: BTreeMap<u64, Outstanding>,
    /// Queued publishes whose PUBLISH has not gone out yet, oldest first.
    unsent: VecDeque<u64>,
    /// Packet id → sequence number of a publish that went out.
    awaiting: HashMap<u16, u64>,
    /// Accepted publishes not reported in a result yet: count, bytes.
    acked: (u64, u64),
    /// Why publishes of earlier writes were lost, until they are discarded.
    lost: Option<String>,
}

impl Publisher {
    /// Begins a write: its number. Fails while publishes of earlier writes
    /// are lost.
    pub fn begin(&mut self) -> Result<u64, ConnectorError> {
        self.check_lost()?;
        self.track.writes += 1;
        Ok(self.track.writes)
    }

    /// Ends a write of `events` events that returns `Ok`.
    pub fn end(&mut self, events: usize) {
        self.track.handed += events as u64;
    }

    fn check_lost(&self) -> Result<(), ConnectorError> {
        self.track.check_lost()
    }

    /// Events handed over and not acknowledged yet, counted back from the
    /// newest (those of the current write included once it ends).
    pub fn pending(&self) -> u64 {
        self.track
            .outstanding
            .values()
            .next()
            .map_or(0, |o| self.track.handed.saturating_sub(o.position))
    }

    /// Accepted publishes since the last call: count, payload bytes.
    pub fn take_acked(&mut self) -> (u64, u64) {
        std::mem::take(&mut self.track.acked)
    }

    /// Drops the connection after `cause` ended it (or a timeout): what the
    /// current write (`write`) had in flight is forgotten (the write sends
    /// it again on a new connection). With publishes of earlier writes in
    /// flight, they are lost: the error saying so, which every write and
    /// flush returns until [`Publisher::discard`].
    pub fn connection_lost(
        &mut self,
        write: u64,
        cause: &ConnectorError,
    ) -> Result<(), ConnectorError> {
        self.connection = None;
        let track = &mut self.track;
        track.unsent.clear();
        track.awaiting.clear();
        let earlier = track
            .outstanding
            .values()
            .filter(|o| o.write < write)
            .count();
        track.outstanding.clear();
        if earlier == 0 {
            // Lost already (a refusal of an earlier write's publish), or not at all.
            return track.check_lost();
        }
        if track.lost.is_some() {
            return track.check_lost();
        }
        track.lost = Some(format!(
            "{earlier} publish(es) of earlier writes were unacknowledged when the connection ended ({cause})"
        ));
        Err(ConnectorError::new(
            cause.kind(),
            format!(
                "{earlier} publish(es) of earlier writes lost their acknowledgement: {cause}; \
                 the pipeline replays them from its committed position"
            ),
        )
        .with_retryable(cause.is_retryable()))
    }

    /// Forgets everything in flight (the pipeline replays it) and the loss;
    /// the connection is dropped too: its late answers belong to nothing.
    pub fn discard(&mut self) {
        let pending = self.pending();
        if pending > 0 || self.track.lost.is_some() {
            tracing::info!(
                events = pending,
                lost = self.track.lost.is_some(),
                "dropping unacknowledged publishes: the pipeline replays them"
            );
        }
        let writes = self.track.writes;
        *self = Self::default();
        self.track.writes = writes;
    }

    /// Hands `messages` of write `write` (positions from their index) to the
    /// connection and polls it until each went out on the socket and, unless
    /// `pipelined`, was answered (QoS 0: went out). Acknowledgements of
    /// earlier writes are collected meanwhile. A publish unanswered
    /// `timeout` after its write began ends the round. Returns the answers
    /// to these messages and the error that ended the connection, if any.
    #[allow(clippy::too_many_arguments)]
    pub async fn round(
        &mut self,
        write: u64,
        qos: Qos,
        retain: bool,
        messages: &[&Message],
        pipelined: bool,
        since: Instant,
        timeout: Duration,
        addr: &BrokerAddr,
    ) -> (Answered, Option<ConnectorError>) {
        let mut answered = Answered::default();
        let Some((client, eventloop)) = self.connection.as_mut() else {
            let e = ConnectorError::fatal("MQTT sink connection missing");
            return (answered, Some(e));
        };
        let track = &mut self.track;
        let mut queued = 0usize; // next message to hand over
        loop {
            // Keep the request channel fed without blocking the event loop.
            while let Some(m) = messages.get(queued) {
                match client.try_publish(
                    &m.topic,
                    qos,
                    retain,
                    m.payload.clone(),
                    m.properties.as_ref(),
                ) {
                    Ok(()) => {
                        track.queue(write, m, qos, since);
                        queued += 1;
                    }
                    Err(RequestError::Full) => break,
                    Err(RequestError::Closed(e)) => {
                        let e = ConnectorError::connection(format!(
                            "MQTT broker {addr}: publish to `{}`: {e}",
                            m.topic
                        ));
                        return (answered, Some(e));
                    }
                }
            }
            let done = queued == messages.len()
                && track.unsent.is_empty()
                && (pipelined || !track.outstanding.values().any(|o| o.write == write));
            if done {
                return (answered, None);
            }
            let oldest = track.outstanding.values().next().map_or(since, |o| o.since);
            let deadline = oldest + timeout;
            match tokio::time::timeout_at(deadline.into(), eventloop.poll(addr)).await {
                Ok(Ok(event)) => track.apply(event, write, &mut answered),
                Ok(Err(e)) => {
                    // Answers read together with the end of the connection.
                    for event in eventloop.drain_buffered() {
                        track.apply(event, write, &mut answered);
                    }
                    return (answered, Some(e));
                }
                Err(_) => {
                    let e = ConnectorError::timeout(format!(
                        "MQTT broker {addr}: {} publish(es) unacknowledged after the write timeout",
                        track.outstanding.len()
                    ));
                    return (answered, Some(e));
                }
            }
            if let Err(e) = track.check_lost() {
                return (answered, Some(e));
            }
        }
    }

    /// Polls the connection until every publish handed over is answered,
    /// or the oldest waited `timeout` since its write began.
    pub async fn drain(
        &mut self,
        timeout: Duration,
        addr: &BrokerAddr,
    ) -> Result<(), ConnectorError> {
        self.check_lost()?;
        let next = self.track.writes + 1; // no write: every publish is earlier
        while let Some(oldest) = self.track.outstanding.values().next().map(|o| o.since) {
            let Some((_, eventloop)) = self.connection.as_mut() else {
                let e = ConnectorError::connection(format!("MQTT broker {addr}: not connected"));
                return self.connection_lost(next, &e);
            };
            let mut answered = Answered::default();
            let polled = tokio::time::timeout_at((oldest + timeout).into(), eventloop.poll(addr));
            let cause = match polled.await {
                Ok(Ok(event)) => {
                    self.track.apply(event, next, &mut answered);
                    self.track.check_lost()?;
                    continue;
                }
                Ok(Err(e)) => {
                    for event in eventloop.drain_buffered() {
                        self.track.apply(event, next, &mut answered);
                    }
                    if self.track.outstanding.is_empty() {
                        // Everything was answered before the end.
                        self.connection = None;
                        return Ok(());
                    }
                    e
                }
                Err(_) => ConnectorError::timeout(format!(
                    "MQTT broker {addr}: {} publish(es) unacknowledged after the write timeout",
                    self.track.outstanding.len()
                )),
            };
            return self.connection_lost(next, &cause);
        }
        Ok(())
    }
}

impl Track {
    /// An error while publishes of earlier writes are lost.
    fn check_lost(&self) -> Result<(), ConnectorError> {
        match &self.lost {
            None => Ok(()),
            Some(why) => Err(ConnectorError::connection(format!(
                "{why}; the pipeline must replay them from its committed position"
            ))),
        }
    }

    fn queue(&mut self, write: u64, m: &Message, qos: Qos, since: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.outstanding.insert(
            seq,
            Outstanding {
                write,
                index: m.index,
                position: self.handed + m.index as u64,
                bytes: m.payload.len() as u64,
                qos,
                since,
            },
        );
        self.unsent.push_back(seq);
    }

    /// Takes `seq`'s publish as accepted.
    fn accept(&mut self, seq: u64, write: u64, answered: &mut Answered) {
        if let Some(o) = self.outstanding.remove(&seq) {
            self.acked.0 += 1;
            self.acked.1 += o.bytes;
            if o.write == write {
                answered.accepted.push(o.index);
            }
        }
    }

    /// Matches an event of the connection to the publishes in flight.
    fn apply(&mut self, event: Polled, write: u64, answered: &mut Answered) {
        match event {
            Polled::Sent(pkid) => {
                // rumqttc sends publishes in the order they were queued.
                let Some(seq) = self.unsent.pop_front() else {
                    return;
                };
                match self.outstanding.get(&seq).map(|o| o.qos) {
                    Some(Qos::AtMostOnce) => self.accept(seq, write, answered),
                    Some(_) => {
                        self.awaiting.insert(pkid, seq);
                    }
                    None => {}
                }
            }
            Polled::Acked {
                pkid,
                step,
                refused,
            } => {
                let Some(&seq) = self.awaiting.get(&pkid) else {
                    return;
                };
                // QoS 1 completes with PUBACK, QoS 2 with PUBCOMP; a
                // refusal (MQTT 5 reason code) ends either.
                let completes = refused.is_some()
                    || match self.outstanding.get(&seq).map(|o| o.qos) {
                        Some(Qos::AtLeastOnce) => step == AckStep::Ack,
                        _ => step == AckStep::Comp,
                    };
                if !completes {
                    return;
                }
                self.awaiting.remove(&pkid);
                let Some(refusal) = refused else {
                    self.accept(seq, write, answered);
                    return;
                };
                let Some(o) = self.outstanding.remove(&seq) else {
                    return;
                };
                if o.write == write {
                    answered.refused.push((o.index, refusal));
                } else {
                    // A refusal can no longer be reported with its event's
                    // write (writes are pipelined with MQTT 3.1.1 only,
                    // whose PUBACK has no reason code).
                    self.lost = Some(format!(
                        "the broker refused a publish of an earlier write ({}, reason code 0x{:02x})",
                        refusal.reason, refusal.code
                    ));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(index: usize) -> Message {
        Message {
            index,
            topic: "t".into(),
            payload: bytes::Bytes::from_static(b"{}"),
            properties: None,
        }
    }

    fn ack(pkid: u16, step: AckStep) -> Polled {
        Polled::Acked {
            pkid,
            step,
            refused: None,
        }
    }

    #[test]
    fn pending_counts_back_from_the_oldest_unacknowledged_publish() {
        let mut publisher = Publisher::default();
        let since = Instant::now();
        let write = publisher.begin().unwrap_or_default();
        // Event 1 of 4 failed (not published): positions 0, 2, 3.
        for index in [0, 2, 3] {
            publisher
                .track
                .queue(write, &message(index), Qos::AtLeastOnce, since);
        }
        publisher.end(4);
        let mut answered = Answered::default();
        for pkid in 1..=3 {
            publisher
                .track
                .apply(Polled::Sent(pkid), write, &mut answered);
        }
        assert_eq!(publisher.pending(), 4);
        // The next write collects the PUBACKs, in any order: the pending
        // count shrinks only as the oldest ones are acknowledged.
        let next = publisher.begin().unwrap_or_default();
        publisher
            .track
            .apply(ack(1, AckStep::Ack), next, &mut answered);
        assert_eq!(publisher.pending(), 2);
        publisher
            .track
            .apply(ack(3, AckStep::Ack), next, &mut answered);
        assert_eq!(publisher.pending(), 2);
        publisher
            .track
            .apply(ack(2, AckStep::Ack), next, &mut answered);
        assert_eq!(publisher.pending(), 0);
        // Earlier writes' acknowledgements are counted, not answered.
        assert!(answered.accepted.is_empty());
        assert_eq!(publisher.take_acked(), (3, 6));
        assert_eq!(publisher.take_acked(), (0, 0));
    }

    #[test]
    fn a_connection_lost_with_earlier_publishes_in_flight_fails_until_discarded() {
        let mut publisher = Publisher::default();
        let since = Instant::now();
        let first = publisher.begin().unwrap_or_default();
        publisher
            .track
            .queue(first, &message(0), Qos::AtLeastOnce, since);
        publisher.end(1);
        let second = publisher.begin().unwrap_or_default();
        publisher
            .track
            .queue(second, &message(0), Qos::AtLeastOnce, since);
        let cause = ConnectorError::connection("reset");
        let lost = publisher.connection_lost(second, &cause);
        let Err(e) = lost else {
            panic!("the first write's publish is lost: {lost:?}");
        };
        assert!(e.is_retryable());
        assert!(e.to_string().contains("1 publish(es)"), "{e}");
        assert!(publisher.begin().is_err());
        publisher.discard();
        assert_eq!(publisher.pending(), 0);
        let third = publisher.begin().unwrap_or_default();
        // Only the current write's publishes in flight: sent again by it.
        publisher
            .track
            .queue(third, &message(0), Qos::AtLeastOnce, since);
        assert!(publisher.connection_lost(third, &cause).is_ok());
        assert!(publisher.begin().is_ok());
    }

    #[test]
    fn a_qos_2_publish_completes_with_its_pubcomp_not_its_pubrec() {
        let mut publisher = Publisher::default();
        let since = Instant::now();
        let write = publisher.begin().unwrap_or_default();
        publisher
            .track
            .queue(write, &message(0), Qos::ExactlyOnce, since);
        let mut answered = Answered::default();
        publisher.track.apply(Polled::Sent(7), write, &mut answered);
        publisher
            .track
            .apply(ack(7, AckStep::Rec), write, &mut answered);
        assert!(answered.accepted.is_empty());
        publisher
            .track
            .apply(ack(7, AckStep::Comp), write, &mut answered);
        assert_eq!(answered.accepted, [0]);
    }
}
