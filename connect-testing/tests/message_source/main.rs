//! Message sources and acknowledgement tokens through the real runtime, one
//! behaviour per file, against the in-memory [`MockBroker`]'s books.
//!
//! [`MockBroker`]: rivven_connect_testing::MockBroker

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod acks_wait_for_the_commit;
mod handled_messages_are_acked;
mod unacked_messages_are_redelivered_after_a_restart;
mod unacked_tokens_stay_within_the_credit_window;
