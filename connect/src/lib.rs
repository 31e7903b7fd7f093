//! # rivven-connect
//!
//! An SDK and supervised actor runtime for moving data between systems.
//! Sources produce [`SourceEvent`]s, transforms change them, sinks write them;
//! each runs as a supervised actor, batches flow under a credit window, and
//! offsets are committed only after the sink has durably written.
//!
//! ```no_run
//! use rivven_connect::prelude::*;
//! use rivven_connect::builtin::{DatagenConfig, DatagenSource, StdoutSink, StdoutSinkConfig};
//! use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, Runtime};
//!
//! # async fn run() -> rivven_connect::Result<()> {
//! let datagen: DatagenConfig = serde_json::from_value(serde_json::json!({
//!     "pattern": "orders", "max_events": 100
//! }))?;
//! let runtime = Runtime::builder()
//!     .offset_store(MemoryOffsetStore::new())
//!     .pipeline(
//!         Pipeline::builder("demo")
//!             .source(DatagenSource::new(), datagen)
//!             .sink(StdoutSink::new(), StdoutSinkConfig::default()),
//!     )
//!     .start()
//!     .await?;
//! runtime.wait().await;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

// The derives expand to `::rivven_connect::…`; this makes that path work in this crate too.
#[allow(unused_extern_crates)]
extern crate self as rivven_connect;

pub mod builtin;
mod catalog;
mod check;
pub mod config;
mod connector;
pub mod derive;
mod error;
mod event;
pub mod http;
#[macro_use]
mod macros;
pub mod registry;
pub mod runtime;
mod secret;
pub mod smt;
mod spec;
mod state;
pub mod topic;
pub mod transforms;
pub mod util;

pub use catalog::{Catalog, ConfiguredCatalog, ConfiguredStream, Stream, SyncMode};
pub use check::{CheckDetail, CheckResult, CheckResultBuilder};
pub use connector::{
    BatchConfig, BatchSink, RecordFailure, Sink, SinkConfig, Source, SourceConfig, Transform,
    TransformConfig, TransformOutput, WriteResult,
};
pub use error::{BoxError, ConnectError, ConnectorError, ErrorKind, Result};
pub use event::{
    approx_value_size, AckOutcome, AckToken, Acknowledge, EventMetadata, EventType, LogLevel,
    SourceEvent, SourceEventBuilder,
};
/// The `metrics` facade the runtime records into: connectors use
/// `rivven_connect::metrics::counter!` and friends (see [`util::metrics`]).
pub use metrics;
/// Config derives (see [`mod@derive`]); the original rivven-connect's `…Derive` names are aliases.
pub use rivven_connect_macros::{
    SinkConfig, SinkConfig as SinkConfigDerive, SourceConfig, SourceConfig as SourceConfigDerive,
    TransformConfig, TransformConfig as TransformConfigDerive,
};
pub use secret::{PathSegment, SecretPath, SecretString};
pub use spec::{ConnectorKind, ConnectorSpec, ConnectorSpecBuilder};
pub use state::{State, StateBuilder, StreamState};
pub use topic::{
    CaseConversion, NormalizationConfig, TopicMetadata, TopicResolver, TopicResolverBuilder,
};
pub use util::exports::*;

/// The module paths of the original rivven-connect (`rivven_connect::traits::batch::chunk_events`, …).
pub mod traits {
    pub use crate::connector::*;
    /// Batch processing helpers.
    pub mod batch {
        pub use crate::util::batch::*;
    }
}

/// Everything a connector author usually needs, plus the crates the derives expand to.
pub mod prelude {
    pub use crate::transforms;
    pub use crate::util::exports::*;
    pub use crate::{
        AckOutcome, AckToken, BatchConfig, BatchSink, Catalog, CheckResult, ConfiguredCatalog,
        ConfiguredStream, ConnectorError, ConnectorSpec, ErrorKind, EventType, LogLevel, Result,
        SecretString, Sink, SinkConfig, SinkConfigDerive, Source, SourceConfig, SourceConfigDerive,
        SourceEvent, State, Stream, StreamState, SyncMode, Transform, TransformConfig,
        TransformConfigDerive, TransformOutput, WriteResult,
    };
    pub use async_trait::async_trait;
    pub use futures::stream::BoxStream;
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
    pub use validator::Validate;
}

#[doc(hidden)]
pub mod __private {
    pub use crate::derive;
    pub use crate::registry;
    pub use crate::{
        BatchConfig, ConnectorKind, ConnectorSpec, SinkConfig, SourceConfig, TransformConfig,
    };
    pub use async_trait;
    pub use futures;
    pub use inventory;
    pub use schemars;
    pub use serde;
    pub use serde_json;
    pub use validator;
}

/// The README's code blocks, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// The connector-development guide's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/connector-development.md")]
struct GuideDoctests;
