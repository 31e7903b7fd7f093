//! The `rivven` source and sink: topics on a Rivven broker (`rivvend`).
//!
//! ```yaml
//! sinks:
//!   to_broker:
//!     connector: rivven
//!     config:
//!       bootstrap_servers: ["broker1:9092", "broker2:9092"]
//!       topic: orders
//!       partitions: 3
//! sources:
//!   from_broker:
//!     connector: rivven
//!     config:
//!       bootstrap_servers: ["broker1:9092", "broker2:9092"]
//!       topic: orders
//!       consumer_group: orders-to-file
//! ```
//!
//! # Messages
//! Each event is one message: the value is the whole [`SourceEvent`] as
//! JSON (stream, type, key, timestamp, data, metadata), so the `rivven`
//! source rebuilds the event exactly (numbers beyond `f64` included: the
//! JSON text is kept as written); the key is the event's `key` — a string
//! key as its UTF-8 bytes, any other JSON key as its JSON text — so that
//! events with one key land on one partition, in order (rivven's murmur2
//! partitioner, the one rivven-client and the broker use). Events without a
//! key go round-robin over the partitions: no order to keep, so spread.
//!
//! # Delivery
//! - The sink writes a batch as one batched produce request per partition
//!   (rivven's `PublishBatch`; never a round trip per event), the partitions
//!   in parallel over one connection each (up to 16): `rivvend` 0.0.22 syncs
//!   its log once per message (~6 ms here) but groups the syncs of
//!   concurrent connections, so more partitions write faster. A write
//!   returns only when the broker acknowledged every message of the batch,
//!   and fails when no acknowledgement comes within `request_timeout_ms`; a
//!   failed
//!   message fails the write with a retryable error (the runtime writes the
//!   batch again: at-least-once, a retried batch can be on the topic twice).
//!   A message larger than the broker's request limit is rejected per record
//!   (it follows the pipeline's `on_error`) instead of failing the batch
//!   forever.
//! - The source emits each message's event with the partition's next offset
//!   as its state; [`Source::commit`](rivven_connect::Source::commit) — which
//!   the runtime calls only after the sink durably wrote those events —
//!   commits the group's offsets on the broker. A restarted source resumes
//!   from the runtime's committed state, else from the group's committed
//!   offsets on the broker, else from `auto_offset_reset`. A message that is
//!   not a serialized event is a bad record (`on_error`: skip, dead letter
//!   with the raw payload, or stop), never dropped silently.
//! - End-to-end durability is bounded by the broker's: `rivvend` 0.0.22
//!   acknowledges a publish before it is on disk, and loses acknowledged
//!   messages when it is killed (`kill -9`); a clean stop (`SIGTERM`) keeps
//!   them. rivven-connect itself never commits a source position for a batch
//!   the broker did not acknowledge.
//! - A loss is detected when it can be, never passed over. rivvend may
//!   keep its end offsets when it loses messages (a hole below the end) or
//!   hand the lost offsets out again (other messages fill them). The sink
//!   keeps, per partition, the offsets the broker acknowledged since it last
//!   read them back, each with a fingerprint of the message (16 bytes per
//!   offset, the newest 100 000 per partition); after a reconnect (its own,
//!   or one its producers made by themselves) it reads them back, and an
//!   offset that is not readable or holds another message — or an
//!   acknowledgement or end offset at or below an acknowledged offset — fails
//!   the write with a non-retryable
//!   error naming topic, partition, the offsets and the broker's end, and
//!   every later write of that sink too (its events were committed upstream
//!   and are gone). The source refuses to read on from an offset it cannot
//!   read (a hole, a gap in the offsets the broker returns, a position past
//!   the end), naming group, partition and offsets, instead of stalling
//!   there or skipping.
//!
//! # Connection
//! `bootstrap_servers` are tried in order, the first reachable one wins
//! (each within `connection_timeout_ms`); a lost connection fails the
//! current operation with a retryable error and the next one connects again
//! (the runtime backs off between retries). Topic metadata (the partition
//! count) is read again every `metadata_refresh_ms`: the source then also
//! reads partitions added meanwhile.
//!
//! # Not supported by rivven-client 0.0.22
//! Each is a configuration error, never silently ignored:
//! SASL mechanisms other than `SCRAM-SHA-256` (`PLAIN`, `SCRAM-SHA-512`), a
//! `replication_factor` other than 1 (the protocol's topic creation has no
//! replication factor), and `tls.enabled` in a build without the `tls`
//! feature.
//!
//! [`SourceEvent`]: rivven_connect::SourceEvent

mod codec;
mod connection;
mod loss;
mod offsets;
mod sink;
mod source;
mod topic;

pub use connection::{SaslSettings, TlsSettings, SCRAM_SHA_256};
pub use offsets::TopicOffsets;
pub use sink::{RivvenSink, RivvenSinkConfig, RivvenSinkConfigSpec, MAX_MESSAGE_BYTES};
pub use source::{
    AutoOffsetReset, PartitionLag, RivvenSource, RivvenSourceConfig, RivvenSourceConfigSpec,
};

/// Default `connection_timeout_ms`.
pub const DEFAULT_CONNECTION_TIMEOUT_MS: u64 = 10_000;
/// Default `request_timeout_ms`.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Default `metadata_refresh_ms`.
pub const DEFAULT_METADATA_REFRESH_MS: u64 = 300_000;
/// Default `partitions` of an auto-created topic.
pub const DEFAULT_PARTITIONS: u32 = 3;
