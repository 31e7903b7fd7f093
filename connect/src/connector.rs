//! The connector traits: [`Source`], [`Sink`], [`BatchSink`] and [`Transform`].
//!
//! The signatures follow the connector-development guide (seed `004`), which
//! wins over the architecture overview where the two differ: transforms take
//! their config and return a [`TransformOutput`]; `Source` gains a defaulted
//! [`Source::commit`] hook that the runtime calls only after a position is
//! durably committed.

mod config;
mod sink;
mod source;
mod transform;

pub use config::{SinkConfig, SourceConfig, TransformConfig};
pub use sink::{BatchConfig, BatchSink, RecordFailure, Sink, WriteResult};
pub use source::Source;
pub(crate) use transform::in_place_output;
pub use transform::{Transform, TransformOutput};
