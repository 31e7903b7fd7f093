//! Snapshot, then stream: what a CDC source does at start-up, decided in one
//! place from `snapshot_mode`, the committed state and the upstream cursor,
//! and the snapshot's progress checkpoints.
//!
//! The *upstream cursor* is what the server keeps for the source: a
//! PostgreSQL replication slot, or for MySQL the binlog that holds the
//! committed position. [`plan`] turns the three inputs into a [`Plan`]:
//!
//! | `snapshot_mode` | snapshot when                                   | then   |
//! |-----------------|-------------------------------------------------|--------|
//! | `initial`       | no committed position                           | stream |
//! | `always`        | every start                                     | stream |
//! | `never`         | never                                           | stream |
//! | `when_needed`   | no committed position, or the cursor is gone    | stream |
//! | `initial_only`  | until one snapshot completed                    | finish |
//!
//! A cursor that is gone (or that the server invalidated) while a position
//! is committed is an error ([`CursorGone`]) unless the mode snapshots
//! again (`when_needed`, `always`): a new cursor starts at the server's
//! current position, and streaming from it would silently skip everything
//! in between.
//!
//! ```
//! use rivven_connect_cdc::common::resume::ResumeState;
//! use rivven_connect_cdc::common::snapshot::{plan, CursorAction, CursorStatus, SnapshotMode, StreamFrom};
//!
//! // First start: no state, no cursor.
//! let first = plan(SnapshotMode::Initial, &ResumeState::<u64>::default(), CursorStatus::Missing).unwrap();
//! assert_eq!(first.cursor, CursorAction::Create);
//! assert!(first.snapshot.is_some());
//! assert!(first.snapshot_at_new_cursor(), "no gap, no duplicate at the seam");
//! assert_eq!(first.stream, Some(StreamFrom::NewCursor));
//!
//! // A restart: resume after the committed position.
//! let resume = ResumeState { position: Some(42_u64), snapshot: None };
//! let again = plan(SnapshotMode::Initial, &resume, CursorStatus::Usable).unwrap();
//! assert!(again.snapshot.is_none());
//! assert_eq!(again.stream, Some(StreamFrom::Committed(42)));
//!
//! // The cursor vanished meanwhile: never skip silently.
//! assert!(plan(SnapshotMode::Initial, &resume, CursorStatus::Missing).is_err());
//! ```

use rivven_connect::{Result, State};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::resume::{Position, ResumeState, SnapshotProgress, SnapshotStatus, SNAPSHOT_KEY};

/// When the source reads the tables' existing rows before streaming changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotMode {
    /// On the first run (no committed position yet), then stream.
    #[default]
    Initial,
    /// On every start, then stream (after the committed position, if any).
    Always,
    /// Never: stream changes only.
    Never,
    /// When there is no committed position or the upstream cursor (e.g.
    /// the replication slot) is gone.
    WhenNeeded,
    /// Snapshot once and finish; no streaming.
    InitialOnly,
}

impl SnapshotMode {
    /// Every mode, for exhaustive tests.
    pub const ALL: [SnapshotMode; 5] = [
        SnapshotMode::Initial,
        SnapshotMode::Always,
        SnapshotMode::Never,
        SnapshotMode::WhenNeeded,
        SnapshotMode::InitialOnly,
    ];

    /// Every mode but `initial_only` streams after (or without) a snapshot.
    pub fn streams(self) -> bool {
        self != SnapshotMode::InitialOnly
    }

    /// The modes that snapshot again when the cursor is gone.
    fn resnapshots(self) -> bool {
        matches!(self, SnapshotMode::WhenNeeded | SnapshotMode::Always)
    }
}

/// The upstream cursor as the source found it at start-up (when the mode
/// does not stream, nothing is looked up: pass [`CursorStatus::Missing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorStatus {
    /// It exists and can stream.
    Usable,
    /// It does not exist.
    Missing,
    /// It exists but the server can no longer stream from it (PostgreSQL:
    /// `wal_status = lost`): drop it before creating a new one.
    Lost,
}

impl CursorStatus {
    /// Every status, for exhaustive tests.
    pub const ALL: [CursorStatus; 3] = [
        CursorStatus::Usable,
        CursorStatus::Missing,
        CursorStatus::Lost,
    ];
}

/// What to do with the upstream cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorAction {
    /// Use it as it is (or, when nothing streams, leave it alone).
    Keep,
    /// Create it (a snapshot, if any, reads at its consistent point).
    Create,
    /// Drop the lost cursor, then create it as for [`Create`](Self::Create).
    Recreate,
}

/// Where streaming starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamFrom<P> {
    /// After the committed position.
    Committed(P),
    /// Where the existing cursor stands (nothing committed yet).
    Cursor,
    /// At the consistent point of the cursor created in this run.
    NewCursor,
}

/// The snapshot to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotPlan {
    /// Tables an interrupted snapshot finished: skip them.
    pub done: Vec<String>,
}

/// What a source does at start-up; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<P> {
    /// The upstream cursor.
    pub cursor: CursorAction,
    /// The snapshot, if one runs.
    pub snapshot: Option<SnapshotPlan>,
    /// Where streaming starts, if the source streams.
    pub stream: Option<StreamFrom<P>>,
}

impl<P> Plan<P> {
    /// Whether the snapshot reads at the consistent point of a cursor created
    /// for it (seamless: the stream continues exactly where the snapshot
    /// ends). Otherwise it reads the current rows in a new transaction while
    /// the stream resumes from an older position, so changes made since may
    /// arrive twice (never lost).
    pub fn snapshot_at_new_cursor(&self) -> bool {
        self.snapshot.is_some() && matches!(self.stream, Some(StreamFrom::NewCursor))
    }

    /// Nothing to do: no snapshot and no stream (`initial_only`, done).
    pub fn is_idle(&self) -> bool {
        self.snapshot.is_none() && self.stream.is_none()
    }
}

/// The cursor is gone (or lost) while a position is committed, and the
/// mode does not snapshot again: streaming would skip changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorGone<P> {
    /// The committed position that can no longer be resumed.
    pub committed: P,
    /// `true`: the server invalidated the cursor; `false`: it does not exist.
    pub lost: bool,
}

/// Decides what a source does at start-up (the table in the [module docs](self)).
pub fn plan<P: Clone>(
    mode: SnapshotMode,
    resume: &ResumeState<P>,
    cursor: CursorStatus,
) -> std::result::Result<Plan<P>, CursorGone<P>> {
    let streaming = mode.streams();
    let action = match cursor {
        _ if !streaming => CursorAction::Keep,
        CursorStatus::Usable => CursorAction::Keep,
        CursorStatus::Missing | CursorStatus::Lost => {
            if let (Some(committed), false) = (&resume.position, mode.resnapshots()) {
                return Err(CursorGone {
                    committed: committed.clone(),
                    lost: cursor == CursorStatus::Lost,
                });
            }
            if cursor == CursorStatus::Lost {
                CursorAction::Recreate
            } else {
                CursorAction::Create
            }
        }
    };
    let snapshot = match mode {
        SnapshotMode::Initial => resume.position.is_none(),
        SnapshotMode::Always => true,
        SnapshotMode::Never => false,
        SnapshotMode::WhenNeeded => resume.position.is_none() || action != CursorAction::Keep,
        SnapshotMode::InitialOnly => !resume.snapshot_complete(),
    };
    let done = resume.tables_done().to_vec();
    let stream = match (&resume.position, action) {
        _ if !streaming => None,
        (_, CursorAction::Create | CursorAction::Recreate) => Some(StreamFrom::NewCursor),
        (Some(p), CursorAction::Keep) => Some(StreamFrom::Committed(p.clone())),
        (None, CursorAction::Keep) => Some(StreamFrom::Cursor),
    };
    Ok(Plan {
        cursor: action,
        snapshot: snapshot.then_some(SnapshotPlan { done }),
        stream,
    })
}

/// A snapshot in progress: which tables remain, and the progress
/// checkpoints to emit after each table and at the end.
///
/// ```
/// use rivven_connect_cdc::common::snapshot::SnapshotRun;
/// use serde_json::json;
///
/// # #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
/// # struct Offset(u64);
/// # impl rivven_connect_cdc::common::resume::Position for Offset { const KEY: &'static str = "offset"; }
/// let mut run = SnapshotRun::new(Some(Offset(7)), vec!["shop.a".into()]);
/// assert!(run.is_done("shop.a"));
/// let state = run.table_done("shop.b").unwrap();
/// assert_eq!(state.global["snapshot"], json!({"status": "running", "offset": 7, "done": ["shop.a", "shop.b"]}));
/// let end = run.complete(true).unwrap();
/// assert_eq!(end.global["offset"], json!(7), "streaming starts at the consistent point");
/// ```
#[derive(Debug, Clone)]
pub struct SnapshotRun<P> {
    point: Option<P>,
    done: Vec<String>,
}

impl<P: Position> SnapshotRun<P> {
    /// A snapshot at consistent point `point` (`None` when no stream
    /// follows), resuming after the tables in `done`.
    pub fn new(point: Option<P>, done: Vec<String>) -> Self {
        Self { point, done }
    }

    /// Whether `table` was already read (by an interrupted run).
    pub fn is_done(&self, table: &str) -> bool {
        self.done.iter().any(|t| t == table)
    }

    /// Tables read so far.
    pub fn done(&self) -> &[String] {
        &self.done
    }

    /// The consistent point.
    pub fn point(&self) -> Option<&P> {
        self.point.as_ref()
    }

    /// Records that `table` was read; the progress checkpoint to emit (after
    /// the table's last row) so a restart skips it.
    pub fn table_done(&mut self, table: impl Into<String>) -> Result<State> {
        self.done.push(table.into());
        self.progress(SnapshotStatus::Running, self.done.clone(), false)
    }

    /// The checkpoint that ends the snapshot; with `then_stream`, it also
    /// commits the consistent point as the position streaming resumes from.
    pub fn complete(&self, then_stream: bool) -> Result<State> {
        self.progress(SnapshotStatus::Complete, Vec::new(), then_stream)
    }

    fn progress(&self, status: SnapshotStatus, done: Vec<String>, position: bool) -> Result<State> {
        let progress = SnapshotProgress {
            status,
            point: self.point.clone(),
            done,
        };
        let mut state = State::new();
        state.set_global(SNAPSHOT_KEY, progress.to_value()?);
        if let (true, Some(p)) = (position, &self.point) {
            state.merge(super::resume::checkpoint(p)?);
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests;
