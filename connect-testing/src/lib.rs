//! Test utilities for rivven-connect: mock connectors that run through the
//! real runtime, and polling helpers that replace fixed sleeps.
//!
//! ```
//! use rivven_connect_testing::prelude::*;
//! use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, Runtime};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let sink = MockSink::new();
//! let runtime = Runtime::builder()
//!     .offset_store(MemoryOffsetStore::new())
//!     .pipeline(Pipeline::builder("p").source(MockSource::counting(10), MockConfig::default()).sink(sink.clone(), MockConfig::default()))
//!     .start()
//!     .await
//!     .unwrap();
//! let status = runtime.wait().await;
//! assert!(status.all_succeeded());
//! assert_eq!(sink.written_count(), 10);
//! # }
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod assertions;
pub mod compliance;
pub mod events;
mod eventually;
pub mod harness;
pub mod mock;
pub mod services;

pub use compliance::{
    assert_sink_compliance, assert_source_compliance, ComplianceReport, Resume, SinkCompliance,
    SourceCompliance,
};
pub use eventually::eventually;
pub use harness::{run_sink, run_source, run_source_with, PipelineResult, TestHarness};
pub use mock::{MockBroker, MockConfig, MockMessageSource, MockSink, MockSource, MockTransform};

/// Everything a connector test usually needs: the mocks, the harnesses,
/// the single-connector helpers, the compliance checks, `events::`
/// generators and `assertions::`, the connector and config traits (for
/// `MyConfig::from_value(json!({..}))`), `SourceEvent`, `PipelineSettings`
/// and `futures::StreamExt` (for reading a source's stream by hand) — and
/// everything of `rivven_connect::prelude` (`tokio` for `#[tokio::test]`,
/// `json!`, …), so a test file needs this one import.
///
/// ```
/// use rivven_connect_testing::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> rivven_connect::Result<()> {
/// // `MockConfig` is all three kinds of config, so name the one meant;
/// // a connector's own config is one kind: `MyConfig::from_value(..)`.
/// let config = <MockConfig as SourceConfig>::from_value(serde_json::json!({}))?;
/// let source = MockSource::counting(3);
/// let catalog = source.discover(&config).await?.configure_all();
/// let mut stream = source.read(&config, &catalog, None).await?;
/// assert!(stream.next().await.is_some());
///
/// let harness = TestHarness::with_configs(source, config, MockSink::new(), MockConfig::default())
///     .with_settings(PipelineSettings::default().with_batch_size(2));
/// let result = harness.run_pipeline().await?;
/// assert!(assertions::exactly_once(0..3, &harness.sink().written_events(), "id"));
/// assert_eq!(result.events_written, 3);
/// # Ok(()) }
/// ```
pub mod prelude {
    pub use rivven_connect::prelude::*;

    pub use crate::compliance::{
        assert_sink_compliance, assert_source_compliance, Resume, SinkCompliance, SourceCompliance,
    };
    pub use crate::eventually;
    pub use crate::harness::{run_sink, run_source, run_source_with, PipelineResult, TestHarness};
    pub use crate::mock::{
        MockBroker, MockConfig, MockMessageSource, MockSink, MockSource, MockTransform,
    };
    pub use crate::{assertions, events};
    pub use futures::StreamExt;
    pub use rivven_connect::runtime::PipelineSettings;
    pub use rivven_connect::{
        ConnectorError, Sink, SinkConfig, Source, SourceConfig, SourceEvent, Transform,
        TransformConfig,
    };
}

/// The single-connector `TestHarness` of the connector-development guide:
/// call one connector's methods directly.
///
/// ```
/// use rivven_connect::prelude::*;
/// use rivven_connect_testing::unit::{events, TestHarness};
/// use rivven_connect_testing::{MockConfig, MockSink};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let harness = TestHarness::new();
/// let events = harness.create_events(vec![
///     events::record("test", json!({"id": 1})),
///     events::record("test", json!({"id": 2})),
/// ]);
/// let result = MockSink::new().write(&MockConfig::default(), events).await.unwrap();
/// assert_eq!(result.records_written, 2);
/// # }
/// ```
pub mod unit {
    pub use crate::events;
    pub use crate::harness::UnitHarness as TestHarness;
}
