//! The supervised actor runtime.
//!
//! ```text
//! Runtime (root actor; one per embedding, no global state)
//!  └─ PipelineSupervisor (one per pipeline; owns the restart policy)
//!      ├─ SourceActor        pulls the source while it holds credit; batches by size/linger
//!      ├─ TransformActor × n one per transform, in order
//!      ├─ SinkActor          re-batches, writes with retries, acknowledges
//!      └─ Checkpointer       commits state in order, then calls Source::commit
//! ```
//!
//! Delivery is at-least-once: the state covering batch *n* is committed only
//! after batches ≤ *n* were written, dropped by a transform, or written to the
//! dead-letter sink. Memory is bounded by `max_in_flight_batches × batch_size`
//! whatever the source's speed: ractor mailboxes are unbounded, so the credit
//! window is the backpressure.
//!
//! A record rejected by any stage (the source could not read it, a transform
//! or the sink refused it) takes one path, the pipeline's `on_error`: skip,
//! dead-letter or stop. Message sources' [`AckToken`](crate::AckToken)s ride
//! beside their batch and are resolved in order by the checkpointer: delivered
//! once the commit covering them succeeded, rejected if the batch is dropped.
//!
//! ```no_run
//! # use rivven_connect::runtime::*;
//! # async fn demo(pipeline: PipelineBuilder) -> rivven_connect::Result<()> {
//! let runtime = Runtime::builder()
//!     .offset_store(MemoryOffsetStore::new())
//!     .pipeline(pipeline)
//!     .start()
//!     .await?;
//! println!("{:?}", runtime.status().await);
//! let final_status = runtime.shutdown(std::time::Duration::from_secs(30)).await;
//! assert!(final_status.all_succeeded());
//! # Ok(())
//! # }
//! ```

mod any;
mod checkpointer;
mod dispose;
pub(crate) mod exclusive;
mod messages;
mod offset_store;
mod pipeline;
mod root;
mod settings;
mod sink_actor;
mod source_actor;
mod stats;
mod supervisor;
pub mod topics;
mod transform_actor;

pub use any::{
    AnySink, AnySource, AnyTransform, BatchSinkAdapter, SinkAdapter, SourceAdapter,
    TransformAdapter, TransformedBatch,
};
pub use offset_store::{FileOffsetStore, MemoryOffsetStore, OffsetStore};
pub use pipeline::{Pipeline, PipelineBuilder};
#[cfg(feature = "http")]
pub(crate) use root::RuntimeView;
pub use root::{Runtime, RuntimeBuilder, DEFAULT_DATA_DIR};
pub use settings::{OnError, PipelineSettings, RestartPolicy};
pub use stats::{PipelineState, PipelineStatus, RuntimeStatus};
