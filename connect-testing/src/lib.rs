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

mod eventually;
pub mod mock;

pub use eventually::eventually;
pub use mock::{MockConfig, MockSink, MockSource, MockTransform};

/// Everything a connector test usually needs.
pub mod prelude {
    pub use crate::eventually;
    pub use crate::mock::{MockConfig, MockSink, MockSource, MockTransform};
}
