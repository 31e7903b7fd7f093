//! The committed position of a CDC source, typed: where streaming resumes and
//! how far an interrupted snapshot got.
//!
//! A source's [`State`] holds two global entries:
//!
//! ```json
//! { "lsn": "0/16B3748",
//!   "snapshot": { "status": "running", "lsn": "0/16B3700", "done": ["public.a"] } }
//! ```
//!
//! - `<KEY>` (the [`Position::KEY`], `lsn` for PostgreSQL): the end of the
//!   last committed transaction (or heartbeat); streaming resumes after it.
//! - `snapshot`: `status` (`running` or `complete`), `<KEY>` (the snapshot's
//!   consistent point, `null` when no stream follows it) and `done` (the
//!   tables an interrupted snapshot finished, in order; empty once complete).
//!
//! The runtime merges state events key by key, so a checkpoint carries only
//! `<KEY>` ([`checkpoint`]) and a snapshot progress event only `snapshot`
//! (see [`SnapshotRun`](super::snapshot::SnapshotRun)).
//!
//! Reading is strict: a known key holding something else than what the
//! source writes is an error naming the key, never "no state" — treating a
//! corrupt position as absent would snapshot again (or create a new cursor
//! and skip every change in between). Unknown keys are left alone.

use std::fmt;

use rivven_connect::{ConnectorError, Result, State};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `State.global` key of the snapshot's progress.
pub const SNAPSHOT_KEY: &str = "snapshot";

/// A CDC source's position type (PostgreSQL: an LSN; MySQL: a binlog file
/// and offset or a GTID set), stored in [`State`] by its serde form.
pub trait Position:
    Serialize + DeserializeOwned + Clone + fmt::Debug + PartialEq + Send + Sync + 'static
{
    /// The `State.global` key of the committed position, also used for the
    /// consistent point inside the `snapshot` entry (e.g. `lsn`).
    const KEY: &'static str;
}

/// Where a snapshot stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    /// Started, not finished: the tables in `done` are complete.
    Running,
    /// Every table was read.
    Complete,
}

/// The `snapshot` entry of a source's state.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotProgress<P> {
    /// Running or complete.
    pub status: SnapshotStatus,
    /// The snapshot's consistent point (`None` when no stream follows it).
    pub point: Option<P>,
    /// Tables finished so far (qualified names, in the order they were read).
    pub done: Vec<String>,
}

/// A CDC source's committed state, typed.
///
/// ```
/// use rivven_connect::State;
/// use rivven_connect_cdc::common::resume::{Position, ResumeState};
/// use serde_json::json;
///
/// #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
/// struct Offset(u64);
/// impl Position for Offset {
///     const KEY: &'static str = "offset";
/// }
///
/// let state = State::builder().global("offset", json!(42)).build();
/// let resume = ResumeState::<Offset>::from_state(Some(&state)).unwrap();
/// assert_eq!(resume.position, Some(Offset(42)));
/// assert!(resume.tables_done().is_empty());
///
/// let garbage = State::builder().global("offset", json!("forty-two")).build();
/// let err = ResumeState::<Offset>::from_state(Some(&garbage)).unwrap_err();
/// assert!(err.to_string().contains("`offset`"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ResumeState<P> {
    /// End of the last committed transaction (or heartbeat).
    pub position: Option<P>,
    /// The snapshot's progress, if one was ever started.
    pub snapshot: Option<SnapshotProgress<P>>,
}

impl<P> Default for ResumeState<P> {
    fn default() -> Self {
        Self {
            position: None,
            snapshot: None,
        }
    }
}

impl<P: Position> ResumeState<P> {
    /// Reads the committed state (`None`: nothing committed yet). A known key
    /// with a malformed value is a `Config` error naming the key.
    pub fn from_state(state: Option<&State>) -> Result<Self> {
        let Some(state) = state else {
            return Ok(Self::default());
        };
        let position = match state.global.get(P::KEY) {
            None => None,
            Some(v) => Some(typed::<P>(v, P::KEY)?),
        };
        let snapshot = match state.global.get(SNAPSHOT_KEY) {
            None => None,
            Some(v) => Some(SnapshotProgress::from_value(v)?),
        };
        Ok(Self { position, snapshot })
    }

    /// This state as [`State`], in the layout [`from_state`](Self::from_state) reads.
    pub fn to_state(&self) -> Result<State> {
        let mut state = State::new();
        if let Some(p) = &self.position {
            state.set_global(P::KEY, to_value(p, P::KEY)?);
        }
        if let Some(s) = &self.snapshot {
            state.set_global(SNAPSHOT_KEY, s.to_value()?);
        }
        Ok(state)
    }
}

impl<P> ResumeState<P> {
    /// Whether a snapshot ran to completion.
    pub fn snapshot_complete(&self) -> bool {
        self.snapshot
            .as_ref()
            .is_some_and(|s| s.status == SnapshotStatus::Complete)
    }

    /// The tables an interrupted (still running) snapshot finished; empty
    /// when none is running, so a finished snapshot skips nothing next time.
    pub fn tables_done(&self) -> &[String] {
        match &self.snapshot {
            Some(s) if s.status == SnapshotStatus::Running => &s.done,
            _ => &[],
        }
    }
}

/// The committed position, read alone (e.g. in `Source::commit`): `None`
/// when `state` has none, an error naming the key when it is malformed.
pub fn position_of<P: Position>(state: &State) -> Result<Option<P>> {
    state
        .global
        .get(P::KEY)
        .map(|v| typed::<P>(v, P::KEY))
        .transpose()
}

/// A checkpoint: the state that commits `position` (only its key).
pub fn checkpoint<P: Position>(position: &P) -> Result<State> {
    Ok(State::builder()
        .global(P::KEY, to_value(position, P::KEY)?)
        .build())
}

impl<P: Position> SnapshotProgress<P> {
    fn from_value(value: &Value) -> Result<Self> {
        let Some(map) = value.as_object() else {
            return Err(malformed(SNAPSHOT_KEY, value, "expected an object"));
        };
        let status = match map.get("status") {
            Some(v) => typed::<SnapshotStatus>(v, "snapshot.status")?,
            None => {
                return Err(ConnectorError::config(
                    "committed state: `snapshot.status` is missing; fix or delete this pipeline's committed offsets",
                ))
            }
        };
        let point = match map.get(P::KEY) {
            None | Some(Value::Null) => None,
            Some(v) => Some(typed::<P>(v, &format!("snapshot.{}", P::KEY))?),
        };
        let done = match map.get("done") {
            None => Vec::new(),
            Some(v) => typed::<Vec<String>>(v, "snapshot.done")?,
        };
        Ok(Self {
            status,
            point,
            done,
        })
    }

    pub(crate) fn to_value(&self) -> Result<Value> {
        let mut map = Map::with_capacity(3);
        map.insert("status".into(), to_value(&self.status, "snapshot.status")?);
        let point = match &self.point {
            Some(p) => to_value(p, P::KEY)?,
            None => Value::Null,
        };
        map.insert(P::KEY.into(), point);
        map.insert("done".into(), to_value(&self.done, "snapshot.done")?);
        Ok(Value::Object(map))
    }
}

fn typed<T: DeserializeOwned>(value: &Value, key: &str) -> Result<T> {
    T::deserialize(value).map_err(|e| malformed(key, value, &e.to_string()))
}

fn to_value<T: Serialize>(value: &T, key: &str) -> Result<Value> {
    serde_json::to_value(value)
        .map_err(|e| ConnectorError::fatal(format!("state `{key}` cannot be written as JSON: {e}")))
}

fn malformed(key: &str, value: &Value, why: &str) -> ConnectorError {
    ConnectorError::config(format!(
        "committed state: `{key}` is malformed ({}; found {}); fix or delete this pipeline's committed offsets to start over",
        clip(why),
        clip(&value.to_string())
    ))
}

/// At most 80 bytes of `text` (a corrupt value may be huge).
fn clip(text: &str) -> String {
    if text.len() <= 80 {
        return text.to_string();
    }
    let mut end = 80;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests;
