//! # rivven-connect
//!
//! An SDK and supervised actor runtime for moving data between systems.
//! Sources produce [`SourceEvent`]s, transforms change them, sinks write them;
//! each runs as a supervised actor, batches flow under a credit window, and
//! offsets are committed only after the sink has durably written.
//!
//! ## Where to start
//!
//! | you want to | start at |
//! |---|---|
//! | run pipelines from YAML | the `rivven-connect` binary (crate `rivven-connect-cli`): `rivven-connect init`, then the [configuration reference](https://github.com/rivven/rivven-connect/blob/main/docs/reference/README.md) |
//! | embed pipelines in your service | [`Runtime::builder()`](runtime::Runtime::builder) and [`Pipeline::builder`](runtime::Pipeline::builder), below and in [`examples/embedded_service.rs`](https://github.com/rivven/rivven-connect/blob/main/examples/embedded_service.rs) |
//! | write a source | the [`Source`] trait with a [`SourceConfig`] derive ([`mod@derive`] lists the attributes) |
//! | write a sink | the [`Sink`] trait (and [`BatchSink`]) with a [`SinkConfig`] derive |
//! | write a transform | the [`Transform`] trait with a [`TransformConfig`] derive; the built-in ones are in [`smt`] |
//! | start a connector crate | `rivven-connect new source my-source` (also `sink`, `transform`): a crate with the connector, its tests and a binary |
//! | test a connector | the `rivven-connect-testing` crate: `TestHarness` on the real runtime, mocks, compliance checks |
//! | learn what the runtime expects of a connector | the [connector-development guide](https://github.com/rivven/rivven-connect/blob/main/docs/connector-development.md) |
//! | see complete programs | the [examples](https://github.com/rivven/rivven-connect/tree/main/examples) |
//!
//! The `[dependencies]` a connector crate needs (this crate re-exports the others:
//! [`tokio`], [`serde_json`], [`futures`], [`async_trait`], [`schemars`], [`serde`],
//! [`validator`], [`tracing`]) are in the README's
//! [Dependencies](https://github.com/rivven/rivven-connect#dependencies) section;
//! [`prelude`] is the one import a connector usually needs.
//!
//! ## Embedding
//!
//! ```no_run
//! use rivven_connect::prelude::*;
//! use rivven_connect::builtin::{DatagenConfig, DatagenSource, StdoutSink, StdoutSinkConfig};
//! use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, Runtime};
//!
//! # async fn run() -> rivven_connect::Result<()> {
//! let datagen = DatagenConfig::from_value(json!({"pattern": "orders", "max_events": 100}))?;
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
//!
//! ## A source
//!
//! ```
//! use rivven_connect::prelude::*;
//!
//! /// Emits `count` numbered records.
//! #[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfig)]
//! #[source(name = "ticker", version = "0.1.0", connector = Ticker)]
//! pub struct TickerConfig {
//!     /// How many records to emit.
//!     #[validate(range(min = 1))]
//!     pub count: u64,
//! }
//!
//! #[derive(Debug, Default)]
//! pub struct Ticker;
//!
//! #[async_trait]
//! impl Source for Ticker {
//!     type Config = TickerConfig;
//!     fn spec() -> ConnectorSpec {
//!         TickerConfigSpec::spec()
//!     }
//!     async fn check(&self, _: &TickerConfig) -> Result<CheckResult> {
//!         Ok(CheckResult::success())
//!     }
//!     async fn discover(&self, _: &TickerConfig) -> Result<Catalog> {
//!         Ok(Catalog::new(vec![Stream::new("ticks", json!({"type": "object"}))]))
//!     }
//!     async fn read(
//!         &self,
//!         config: &TickerConfig,
//!         _: &ConfiguredCatalog,
//!         _: Option<State>,
//!     ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
//!         let ids = 0..config.count;
//!         Ok(stream::iter(ids.map(|id| Ok(SourceEvent::record("ticks", json!({ "id": id })))))
//!             .boxed())
//!     }
//! }
//! assert_eq!(Ticker::spec().name, "ticker");
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
pub mod format;
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

// The crates of the public API, so that a user needs no dependency of their own on
// them (and always has the versions this crate is built with).
pub use async_trait;
pub use futures;
pub use schemars;
pub use serde;
pub use serde_json;
pub use tokio;
pub use tracing;
pub use validator;

/// The module paths of the original rivven-connect (`rivven_connect::traits::batch::chunk_events`, …).
pub mod traits {
    pub use crate::connector::*;
    /// Batch processing helpers.
    pub mod batch {
        pub use crate::util::batch::*;
    }
}

/// Everything a connector author usually needs.
///
/// Besides the SDK's types and traits, the prelude brings into scope the crates
/// `rivven-connect` is built on under their own names — `tokio` (so `#[tokio::main]`
/// and `#[tokio::test]` work), `serde_json` (and its `json!`), `futures` (and
/// `stream`, `StreamExt`, `BoxStream`) and `schemars` (which the `JsonSchema`
/// derive expands to) — so a crate that depends on `rivven-connect` alone can use
/// them. In a module that glob-imports the prelude these names shadow a dependency
/// of your own with the same name.
///
/// Two derives expand to paths that only a direct dependency satisfies:
/// `Deserialize` needs `serde` and `Validate` needs `validator` (0.21) in your
/// `[dependencies]` — the exact block is in the README's
/// [Dependencies](https://github.com/rivven/rivven-connect#dependencies) section.
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
    pub use futures::stream::{self, BoxStream, StreamExt};
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
    pub use serde_json::json;
    pub use validator::Validate;
    pub use {futures, schemars, serde_json, tokio};
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
