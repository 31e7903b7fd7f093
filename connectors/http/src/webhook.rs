//! The `http-webhook` sink: events to an HTTP endpoint, through
//! [reqwest](https://docs.rs/reqwest) (rustls with the ring provider).
//!
//! ```yaml
//! sinks:
//!   alerts:
//!     connector: http-webhook
//!     config:
//!       url: https://api.example.com/webhook
//!       headers: { Authorization: "Bearer ${TOKEN}" }
//!       batch_size: 100
//!       retry: { max_attempts: 5, initial_backoff_ms: 500, max_backoff_ms: 30000 }
//!       signature: { secret: "${WEBHOOK_SECRET}" }
//!       max_concurrent_requests: 4
//! pipelines:
//!   p:
//!     source: orders
//!     sink: alerts
//!     settings: { on_error: dead_letter, dead_letter: refused }
//! ```
//!
//! # Requests
//! With `batch_size: 1` each event's `data` is one request's body; with more,
//! up to `batch_size` events go in one request as a JSON array of their
//! `data` (or JSON Lines with `format: jsonl`). Every request carries an
//! `Idempotency-Key` (a digest of its events' positions: a replay of the same
//! events after a restart has the same key), optionally a `sha256=<hex>`
//! HMAC-SHA256 signature of the body (before compression) and, above
//! `gzip_min_bytes`, a gzip body. Header values are secrets: never logged.
//!
//! # Delivery
//! A write returns once every request of its batch was answered `2xx`
//! (at-least-once: the runtime commits the source's position only then).
//! Connection errors, timeouts, `408`, `425`, `429` and `5xx` are retried
//! (`retry`, exponential backoff with jitter, `Retry-After` waited out when
//! longer); once the attempts are used up the write fails and the pipeline
//! restarts from its committed position. Any other `4xx` refuses the
//! request's events: they are failed in the write's result, with the status
//! and the start of the answer's body, and the pipeline's `on_error`
//! disposes of them (`dead_letter` writes them to the dead-letter sink).
//! `401`, `403` and `407` are about the credentials, not the events: the
//! write fails with an `Auth` error. A circuit breaker counts failed attempts
//! over all requests: once open, no request is sent until `open_ms` passed,
//! then one probe decides.
//!
//! # Order
//! With `max_concurrent_requests: n` the batch is split into `n` lanes
//! sending at once: all events of one key take the same lane, in order, and a
//! lane whose request is still failing sends nothing after it; the keys (and
//! the requests of events without a key) are spread so that the lanes carry
//! about as many events each. Batches are written one after the other.

pub mod body;
pub mod config;
pub mod sink;

pub use config::{BodyFormat, Method, SignatureOptions, WebhookSinkConfig};
pub use sink::WebhookSink;
