//! [`AckToken`]: acknowledgement of one message, for message sources.
//!
//! Positional sources (an LSN, a binlog offset, a file offset) confirm
//! upstream in [`Source::commit`](crate::Source::commit). Brokers acknowledge
//! *messages* instead: MQTT packet ids, AMQP delivery tags, JetStream acks,
//! Redis stream ids, SQS receipt handles. A message source attaches one
//! [`AckToken`] to each event ([`SourceEvent::with_ack`](crate::SourceEvent::with_ack)),
//! or to the error of a record it could not read
//! ([`ConnectorError::with_ack`](crate::ConnectorError::with_ack)), and the
//! runtime resolves every token exactly once, in the order the source
//! produced them:
//!
//! - [`AckOutcome::Delivered`] once the checkpoint covering the event is
//!   committed: the sink wrote it durably (or a transform dropped it, or
//!   `on_error` skipped or dead-lettered it — it was handled) and the offset
//!   store saved the state;
//! - [`AckOutcome::Rejected`] when the pipeline drops the event unacknowledged
//!   (a stage failed or restarted, the pipeline stopped before the commit):
//!   the broker should redeliver it.
//!
//! Tokens live only with in-flight batches, so at most
//! `max_in_flight_batches × batch_size` are outstanding.

use std::fmt;

/// How the runtime resolved a message's [`AckToken`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckOutcome {
    /// The checkpoint covering the message is committed: acknowledge it upstream.
    Delivered,
    /// The pipeline dropped the message unacknowledged: let the broker redeliver it.
    Rejected,
}

/// What a message source does when one of its tokens is resolved.
///
/// Implemented for every `FnOnce(AckOutcome) + Send + Sync + 'static`, so a
/// closure is enough. It runs on a runtime thread (from the checkpointer, or
/// wherever a dropped token is dropped) and must be quick and must not block
/// or panic: hand the acknowledgement to the connection's own task (a channel
/// send preserves the order) when the broker's API is async.
pub trait Acknowledge: Send + Sync + 'static {
    /// Resolve the message; called exactly once.
    fn resolve(self: Box<Self>, outcome: AckOutcome);
}

impl<F> Acknowledge for F
where
    F: FnOnce(AckOutcome) + Send + Sync + 'static,
{
    fn resolve(self: Box<Self>, outcome: AckOutcome) {
        (*self)(outcome)
    }
}

/// An in-memory acknowledgement handle for one message, created by a message
/// source and resolved by the runtime.
///
/// A token is never serialized and is no part of an event's equality; a
/// cloned event carries no token (the original keeps it). Resolving consumes
/// the token, so it happens at most once; a token dropped unresolved counts
/// as [`AckOutcome::Rejected`], so a message can never be acknowledged by
/// accident.
///
/// ```
/// use rivven_connect::{AckOutcome, AckToken, SourceEvent};
/// use serde_json::json;
/// use tokio::sync::mpsc;
///
/// // The connection task receives (delivery tag, outcome) in order and
/// // acks or nacks on the broker's API.
/// let (acks, mut outcomes) = mpsc::unbounded_channel();
/// let token = |tag: u64| {
///     let acks = acks.clone();
///     AckToken::new(move |outcome: AckOutcome| {
///         let _ = acks.send((tag, outcome));
///     })
/// };
///
/// let event = SourceEvent::record("orders", json!({"id": 1})).with_ack(token(1));
/// assert!(event.has_ack());
/// assert!(!event.clone().has_ack(), "a clone carries no token");
///
/// // What the runtime does once the checkpoint covering the event is committed:
/// let mut event = event;
/// if let Some(token) = event.take_ack() {
///     token.ack();
/// }
/// // A token the pipeline drops is rejected: the broker redelivers tag 2.
/// drop(token(2));
///
/// assert_eq!(outcomes.try_recv().ok(), Some((1, AckOutcome::Delivered)));
/// assert_eq!(outcomes.try_recv().ok(), Some((2, AckOutcome::Rejected)));
/// ```
pub struct AckToken {
    handle: Option<Box<dyn Acknowledge>>,
}

impl AckToken {
    /// A token that calls `acknowledge` when the runtime resolves it.
    pub fn new(acknowledge: impl Acknowledge) -> Self {
        Self {
            handle: Some(Box::new(acknowledge)),
        }
    }

    /// Resolve as [`AckOutcome::Delivered`].
    pub fn ack(self) {
        self.resolve(AckOutcome::Delivered);
    }

    /// Resolve as [`AckOutcome::Rejected`].
    pub fn nack(self) {
        self.resolve(AckOutcome::Rejected);
    }

    /// Resolve with `outcome`.
    pub fn resolve(mut self, outcome: AckOutcome) {
        if let Some(handle) = self.handle.take() {
            handle.resolve(outcome);
        }
    }
}

impl Drop for AckToken {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.resolve(AckOutcome::Rejected);
        }
    }
}

// A token is only ever resolved (once) or dropped, never inspected, so a panic
// that interrupts it can break no invariant anyone observes: events and errors
// that carry one stay unwind-safe, as they were before tokens existed.
impl std::panic::UnwindSafe for AckToken {}
impl std::panic::RefUnwindSafe for AckToken {}

impl fmt::Debug for AckToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AckToken")
    }
}

/// The slot a [`SourceEvent`](crate::SourceEvent) keeps its token in: cloning
/// gives an empty slot, every two slots are equal, and serde skips it.
#[derive(Default)]
pub(crate) struct AckSlot(pub(crate) Option<AckToken>);

impl Clone for AckSlot {
    fn clone(&self) -> Self {
        Self(None)
    }
}

impl PartialEq for AckSlot {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl fmt::Debug for AckSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(_) => f.write_str("Some(AckToken)"),
            None => f.write_str("None"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn recorder() -> (Arc<Mutex<Vec<AckOutcome>>>, impl Fn() -> AckToken) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let for_tokens = log.clone();
        let make = move || {
            let log = for_tokens.clone();
            AckToken::new(move |o| log.lock().unwrap_or_else(|e| e.into_inner()).push(o))
        };
        (log, make)
    }

    fn outcomes(log: &Mutex<Vec<AckOutcome>>) -> Vec<AckOutcome> {
        log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    #[test]
    fn resolved_once_and_dropping_rejects() {
        let (log, token) = recorder();
        token().ack();
        token().nack();
        drop(token());
        token().resolve(AckOutcome::Delivered);
        assert_eq!(
            outcomes(&log),
            [
                AckOutcome::Delivered,
                AckOutcome::Rejected,
                AckOutcome::Rejected,
                AckOutcome::Delivered
            ]
        );
    }

    #[test]
    fn slot_is_invisible_to_clone_and_eq() {
        let (log, token) = recorder();
        let slot = AckSlot(Some(token()));
        let copy = slot.clone();
        assert!(copy.0.is_none());
        assert_eq!(slot, copy);
        assert_eq!(format!("{slot:?}"), "Some(AckToken)");
        drop(copy);
        assert!(
            outcomes(&log).is_empty(),
            "dropping a clone resolves nothing"
        );
        drop(slot);
        assert_eq!(outcomes(&log), [AckOutcome::Rejected]);
    }
}
