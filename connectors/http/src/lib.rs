//! `rivven-connect-http`: the http family for rivven-connect — HTTP APIs as
//! destinations and sources, through reqwest with rustls (the ring provider,
//! handed to reqwest ready-made: no process-wide provider is needed).
//!
//! - [`webhook`] (feature `webhook`, on by default): the `http-webhook` sink —
//!   one request per event or JSON array / JSON Lines batches, retries of
//!   `408/425/429/5xx` and connection errors with jitter and `Retry-After`,
//!   a circuit breaker, refused events (`4xx`) failed per event for the
//!   dead-letter queue, HMAC-SHA256 signatures, idempotency keys, gzip,
//!   concurrent requests with per-key order.
//! - [`rest`] (feature `rest`, on by default): the `http` source — polls a
//!   REST API every `interval_ms`, follows its pagination (a cursor in the
//!   body, offset/limit or the `Link` header), takes the records at a JSON
//!   pointer and keeps an incremental cursor in the state, so a restart
//!   resumes after the last committed record.
//!
//! Every request is counted in `rivven_http_requests_total{connector,
//! outcome}` (outcome `success`, `refused`, `auth` or `failed`) through the
//! `metrics` facade, so the runtime's `/metrics` serves it.
//!
//! The connectors register themselves (their config derive's `connector =
//! …`), so linking this crate makes them available by name in YAML; a binary
//! that does not otherwise reference the crate calls [`link`] once.
//!
//! ```
//! rivven_connect_http::link();
//! let registry = rivven_connect::registry::Registry::discovered().unwrap();
//! # #[cfg(feature = "webhook")]
//! assert!(registry.sink("http-webhook").is_some());
//! # #[cfg(feature = "rest")]
//! assert!(registry.source("http").is_some());
//! ```
#![warn(missing_docs, missing_debug_implementations)]

pub mod client;
pub mod options;
#[cfg(feature = "rest")]
pub mod rest;
#[cfg(feature = "webhook")]
pub mod webhook;

/// Makes sure this crate — and so its connectors' registrations — is linked
/// into the binary calling it. A no-op at run time.
#[inline(never)]
pub fn link() {
    std::hint::black_box(());
}
