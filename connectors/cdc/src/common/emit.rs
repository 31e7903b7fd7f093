//! The last step of every change: deduplication, then the event and, after a
//! delete, its tombstone — `cdc_features` applied the same way by every source.
//!
//! ```
//! use rivven_connect::{EventType, SourceEvent};
//! use rivven_connect_cdc::common::emit::Emitter;
//! use rivven_connect_cdc::common::features::CdcFeaturesConfig;
//! use serde_json::json;
//!
//! let features: CdcFeaturesConfig = serde_json::from_value(json!({
//!     "deduplication": {"enabled": true}, "tombstones": {"enabled": true}
//! })).unwrap();
//! let mut emitter = Emitter::new(&features);
//! let mut delete = SourceEvent::cdc(EventType::Delete, "shop.t", Some(json!({"id": 1})), None);
//! delete.key = Some(json!({"id": 1}));
//! let mut out = Vec::new();
//! emitter.emit(delete.clone(), &json!(["bin.000001", 400, 0]), &mut out);
//! assert_eq!(out.len(), 2, "the delete and its tombstone");
//! emitter.emit(delete, &json!(["bin.000001", 400, 0]), &mut out);
//! assert_eq!(out.len(), 2, "the same change again is dropped");
//! ```

use std::time::Instant;

use rivven_connect::{EventType, Result, SourceEvent};
use serde_json::Value;

use super::envelope::EnvelopeBuilder;
use super::features::{fingerprint, CdcFeaturesConfig, Deduplicator, TombstoneConfig};

/// Applies `cdc_features` to a source's change events. Start a new one with
/// every read from a committed position (see [`Deduplicator`] for why).
#[derive(Debug)]
pub struct Emitter {
    dedup: Option<Deduplicator>,
    tombstones: TombstoneConfig,
}

impl Emitter {
    /// An emitter for these features.
    pub fn new(features: &CdcFeaturesConfig) -> Self {
        Self {
            dedup: features.deduplication.deduplicator(),
            tombstones: features.tombstones.clone(),
        }
    }

    /// Pushes `event` (and its tombstone after a delete, when asked for) to
    /// `out`, unless deduplication has seen this change before. `identity`
    /// names the change uniquely in its source (e.g. the transaction and the
    /// change's place in it); with the stream, key and operation it is what
    /// deduplication remembers. Returns whether the event was emitted.
    pub fn emit(
        &mut self,
        event: SourceEvent,
        identity: &Value,
        out: &mut Vec<Result<SourceEvent>>,
    ) -> bool {
        if let Some(dedup) = &mut self.dedup {
            let key = event.key.clone().unwrap_or(Value::Null);
            let op = event.event_type.cdc_op().unwrap_or("");
            let print = fingerprint(&event.stream, &key, identity, op);
            if dedup.check_and_insert(print, Instant::now()) {
                tracing::debug!(stream = %event.stream, %identity, "dropping a duplicate change");
                return false;
            }
        }
        let tombstone = (event.event_type == EventType::Delete
            && self.tombstones.wants_tombstone())
        .then(|| EnvelopeBuilder::tombstone(&event));
        out.push(Ok(event));
        if let Some(t) = tombstone {
            out.push(Ok(t));
        }
        true
    }
}
