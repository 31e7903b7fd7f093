//! The CDC core every database source shares; a source adds only its wire
//! protocol and its type mapping.
//!
//! - [`envelope`]: rows → events. The Debezium-style envelope
//!   (`before`/`after`/`op`/`ts_ms`/`source`), the key, the stream name
//!   (`topic_routing`), the column filter, the metadata, truncates and
//!   tombstones — generic over the source's [`SourceCoordinates`].
//! - [`resume`]: the committed [`State`](rivven_connect::State), typed:
//!   [`ResumeState<P>`] over the source's [`Position`] type, read strictly
//!   (a malformed entry is an error naming its key) in the layout the
//!   sources have always written.
//! - [`snapshot`]: snapshot, then stream. [`SnapshotMode`], the start-up
//!   [`plan`](snapshot::plan) (snapshot? which tables remain? stream from
//!   where? what to do with the upstream cursor?) and the snapshot's progress
//!   checkpoints ([`SnapshotRun`]).
//! - [`features`]: `cdc_features` (deduplication, tombstones) and
//!   `column_filters`; [`emit`] applies them to each change.
//! - [`json`]: JSON documents given as text, exact or kept as text.
//! - [`tls`]: the `tls` block (mode and CA); [`check`]: the one-line
//!   summary of a failed `check`.
//!
//! # Plugging in a new CDC source
//! A source (say MySQL over the binlog) brings:
//! 1. its position type — a binlog file and offset, or a GTID set —
//!    implementing [`Position`] (serde form + the `State` key);
//! 2. its coordinates, implementing [`SourceCoordinates`] (the `source`
//!    block's fields, the event position, transaction id, commit time,
//!    snapshot flag);
//! 3. at start-up: [`ResumeState::from_state`], the status of its upstream
//!    cursor (does the committed binlog file still exist?) and
//!    [`snapshot::plan`]; then a [`SnapshotRun`] emitting a checkpoint after
//!    each table, and the stream emitting [`resume::checkpoint`] at each
//!    committed transaction;
//! 4. its rows as JSON maps, handed to [`EnvelopeBuilder::event`] with the
//!    table's [`TableShape`] (built once per table by
//!    [`EnvelopeBuilder::table`]), then [`features`]' deduplicator and
//!    tombstones (both in [`emit::Emitter`]).
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use rivven_connect::{EventType, State};
//! use rivven_connect_cdc::common::envelope::{EnvelopeBuilder, SourceCoordinates, TableRef};
//! use rivven_connect_cdc::common::resume::{checkpoint, Position, ResumeState};
//! use rivven_connect_cdc::common::snapshot::{plan, CursorStatus, SnapshotMode, SnapshotRun, StreamFrom};
//! use serde::{Deserialize, Serialize};
//! use serde_json::{json, Map, Value};
//!
//! /// A binlog position.
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! struct Binlog { file: String, pos: u64 }
//! impl Position for Binlog {
//!     const KEY: &'static str = "binlog";
//! }
//!
//! /// Where one row event sits.
//! struct At<'a> { binlog: &'a Binlog, snapshot: bool }
//! impl SourceCoordinates for At<'_> {
//!     const CONNECTOR: &'static str = "toy-cdc";
//!     fn source_fields(&self, source: &mut Map<String, Value>) {
//!         source.insert("file".into(), json!(self.binlog.file));
//!         source.insert("pos".into(), json!(self.binlog.pos));
//!     }
//!     fn position(&self) -> Value { json!(self.binlog) }
//!     fn transaction_id(&self) -> Option<String> { None }
//!     fn commit_time(&self) -> Option<DateTime<Utc>> { None }
//!     fn is_snapshot(&self) -> bool { self.snapshot }
//! }
//!
//! # fn main() -> rivven_connect::Result<()> {
//! // Start-up: nothing committed, the binlog is there.
//! let resume = ResumeState::<Binlog>::from_state(None)?;
//! let plan = plan(SnapshotMode::Initial, &resume, CursorStatus::Usable).expect("nothing to lose");
//! assert!(plan.snapshot.is_some());
//! assert_eq!(plan.stream, Some(StreamFrom::Cursor));
//!
//! // The snapshot, at the binlog position read under the snapshot's lock.
//! let point = Binlog { file: "bin.000003".into(), pos: 154 };
//! let envelope = EnvelopeBuilder::new(None, &Default::default(), &Default::default())?;
//! let orders = envelope.table(TableRef::new("shop", None, "orders"), vec!["id".into()]);
//! let mut run = SnapshotRun::new(Some(point.clone()), Vec::new());
//! let row = json!({"id": 1, "total": 9}).as_object().cloned();
//! let event = envelope.event(&orders, EventType::Snapshot, None, row, &At { binlog: &point, snapshot: true });
//! assert_eq!(event.data["op"], "r");
//! assert_eq!(event.data["source"]["file"], "bin.000003");
//! let progress: State = run.table_done(orders.table.qualified())?;
//! let end: State = run.complete(true)?;
//!
//! // Streaming: a checkpoint per committed transaction.
//! let next = Binlog { file: "bin.000003".into(), pos: 400 };
//! let mut committed = progress;
//! committed.merge(end);
//! committed.merge(checkpoint(&next)?);
//! let restart = ResumeState::<Binlog>::from_state(Some(&committed))?;
//! assert_eq!(restart.position, Some(next));
//! assert!(restart.snapshot_complete());
//! # Ok(())
//! # }
//! ```

pub mod check;
pub mod emit;
pub mod envelope;
pub mod features;
pub mod json;
pub mod resume;
pub mod snapshot;
pub mod tls;

pub use envelope::{EnvelopeBuilder, SourceCoordinates, TableRef, TableShape};
pub use resume::{Position, ResumeState};
pub use snapshot::{SnapshotMode, SnapshotRun};
