//! The `redis-streams` source and sink: Redis streams through the
//! [redis](https://docs.rs/redis) crate (tokio; TLS with rustls).
//!
//! ```yaml
//! sources:
//!   orders:
//!     connector: redis-streams
//!     config: { url: "redis://cache:6379/0", stream: orders, group: to-file, consumer: worker-1 }
//! sinks:
//!   out:
//!     connector: redis-streams
//!     config: { url: "redis://cache:6379/0", stream: "{stream}", max_len: 100000 }
//! ```
//!
//! # Source delivery
//! The source is consumer `consumer` of group `group` (created at
//! `start_id` with `MKSTREAM` when missing). It first re-reads its own
//! pending entries (`XREADGROUP … 0`: delivered to it before and never
//! acknowledged — a crash, a restart, a failed sink), then new ones
//! (`XREADGROUP … >` with `COUNT` = the free credit, `BLOCK block_ms`).
//! Each entry is `XACK`ed, on a second connection, only when the runtime
//! resolves its token `Delivered` (after the commit covering it); a rejected
//! entry stays pending and comes again when the source starts again. A lost
//! connection is retried with backoff (pending entries are re-read:
//! at-least-once); refused credentials are an `Auth` error, not retried.
//! Entries another consumer of the group left pending for `claim_idle_ms`
//! (default 5 min; it died, or was renamed) are taken over with
//! `XAUTOCLAIM` — right after the own pending entries and then that often —
//! and delivered; pending entries deleted from the stream meanwhile (e.g.
//! trimmed by `MAXLEN`) cannot be, and are reported as an error, never
//! skipped silently. Keep `consumer` stable across restarts all the same:
//! the own pending entries come back at once, without waiting for the claim.
//!
//! The event's data is the `payload_field` (default `payload`) decoded as
//! described for `parse_json_payload`; an entry without that field becomes
//! an object of all its fields. Field `key` is the event key;
//! `include_metadata` adds `redis_stream` and `redis_id`.
//!
//! # Sink delivery
//! A batch is one pipeline of `XADD <stream> [MAXLEN ~ n] * payload <data>
//! [key <key>]`; an entry the server refuses (e.g. the key holds another
//! type: `WRONGTYPE`) is a per-record failure (dead letter queue), a lost
//! connection fails the write retryably.
//!
//! # TLS
//! A `rediss://` URL connects with TLS (rustls): the server's certificate
//! must chain to `tls.ca_file` (PEM) or the system's roots and name the
//! URL's host; `tls.client_cert_file`/`tls.client_key_file` present a
//! client certificate (Redis' `tls-auth-clients`). `tls` with a plain
//! `redis://` URL is a configuration error, never a silent plain
//! connection.

mod config;
mod sink;
mod source;

pub use sink::{RedisStreamsSink, RedisStreamsSinkConfig, RedisStreamsSinkConfigSpec};
pub use source::{RedisStreamsSource, RedisStreamsSourceConfig, RedisStreamsSourceConfigSpec};
