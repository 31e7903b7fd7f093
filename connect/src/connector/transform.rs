//! The [`Transform`] trait and [`TransformOutput`].

use async_trait::async_trait;

use crate::connector::config::TransformConfig;
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;

/// Changes, drops or splits events in flight.
///
/// Returning `Err` for a record hands that record to the pipeline's
/// `on_error` policy (skip, stop or dead-letter); a panic fails the stage and
/// the pipeline restarts from its last committed state.
#[async_trait]
pub trait Transform: Send + Sync + 'static {
    /// Configuration type.
    type Config: TransformConfig;

    /// Name, version and configuration schema. The default is the spec the
    /// config's derive (`#[derive(TransformConfig)]`) built from its attributes.
    fn spec() -> ConnectorSpec {
        crate::connector::config::default_spec::<Self::Config>(
            <Self::Config as crate::TransformConfig>::__derived_spec(),
            std::any::type_name::<Self>(),
            crate::ConnectorKind::Transform,
        )
    }

    /// Transform one event.
    async fn transform(&self, config: &Self::Config, event: SourceEvent)
        -> Result<TransformOutput>;

    /// The synchronous, in-place form of [`transform`](Self::transform), for
    /// transforms that neither await nor split events: change `event` where it
    /// is and say whether to keep it (`Some(Ok(true))`), drop it
    /// (`Some(Ok(false))`) or reject it (`Some(Err(..))`, handled by
    /// `on_error` like an error of `transform`). The runtime then transforms a
    /// batch without moving each event into and out of a future.
    ///
    /// The default, `None`, means the transform has no in-place form and the
    /// runtime calls `transform`. A transform answers `None` for every event or
    /// for none, and leaves the event untouched when it does. Both forms must
    /// do the same thing; the simplest way is for `transform` to call this one:
    ///
    /// ```
    /// use rivven_connect::prelude::*;
    /// use serde_json::json;
    ///
    /// # #[derive(Debug, Clone, serde::Deserialize, serde::Serialize, validator::Validate, schemars::JsonSchema, TransformConfig)]
    /// # #[transform(name = "tag-doc", version = "0.1.0", description = "Tags events")]
    /// # struct TagConfig {}
    /// struct Tag;
    ///
    /// #[async_trait]
    /// impl Transform for Tag {
    ///     type Config = TagConfig;
    ///
    ///     async fn transform(&self, config: &TagConfig, mut event: SourceEvent) -> Result<TransformOutput> {
    ///         Ok(match self.transform_in_place(config, &mut event) {
    ///             Some(Ok(true)) | None => TransformOutput::Emit(event),
    ///             Some(Ok(false)) => TransformOutput::Drop,
    ///             Some(Err(e)) => return Err(e),
    ///         })
    ///     }
    ///
    ///     fn transform_in_place(&self, _: &TagConfig, event: &mut SourceEvent) -> Option<Result<bool>> {
    ///         transforms::add_field(event, "tag", json!("seen"));
    ///         Some(Ok(true))
    ///     }
    /// }
    /// ```
    fn transform_in_place(
        &self,
        config: &Self::Config,
        event: &mut SourceEvent,
    ) -> Option<Result<bool>> {
        let _ = (config, event);
        None
    }
}

/// [`Transform::transform`] through [`Transform::transform_in_place`], for
/// transforms that have both.
pub(crate) fn in_place_output(
    outcome: Option<Result<bool>>,
    event: SourceEvent,
) -> Result<TransformOutput> {
    match outcome {
        Some(Ok(true)) | None => Ok(TransformOutput::Emit(event)),
        Some(Ok(false)) => Ok(TransformOutput::Drop),
        Some(Err(e)) => Err(e),
    }
}

/// What a transform made of one event.
///
/// ```
/// use rivven_connect::prelude::*;
/// use serde_json::json;
///
/// let event = SourceEvent::record("test", json!({"id": 1}));
/// let output = TransformOutput::single(event)
///     .map(|mut e| { transforms::add_field(&mut e, "tag", json!("processed")); e })
///     .filter(|e| transforms::has_field(e, "id"));
/// assert_eq!(output.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
// `Emit` is the per-event hot path: boxing it would add an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum TransformOutput {
    /// Pass on one event.
    Emit(SourceEvent),
    /// Drop the event (it still counts as acknowledged).
    Drop,
    /// Pass on several events.
    Multiple(Vec<SourceEvent>),
}

impl TransformOutput {
    /// One event.
    pub fn single(event: SourceEvent) -> Self {
        TransformOutput::Emit(event)
    }

    /// Apply `f` to every event.
    pub fn map<F: FnMut(SourceEvent) -> SourceEvent>(self, mut f: F) -> Self {
        match self {
            TransformOutput::Emit(e) => TransformOutput::Emit(f(e)),
            TransformOutput::Drop => TransformOutput::Drop,
            TransformOutput::Multiple(v) => {
                TransformOutput::Multiple(v.into_iter().map(f).collect())
            }
        }
    }

    /// Keep only the events for which `keep` is true.
    pub fn filter<F: FnMut(&SourceEvent) -> bool>(self, mut keep: F) -> Self {
        match self {
            TransformOutput::Emit(e) if keep(&e) => TransformOutput::Emit(e),
            TransformOutput::Emit(_) | TransformOutput::Drop => TransformOutput::Drop,
            TransformOutput::Multiple(v) => {
                TransformOutput::Multiple(v.into_iter().filter(|e| keep(e)).collect())
            }
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        match self {
            TransformOutput::Emit(_) => 1,
            TransformOutput::Drop => 0,
            TransformOutput::Multiple(v) => v.len(),
        }
    }

    /// Whether no event is emitted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append the events to `out`.
    pub fn extend_into(self, out: &mut Vec<SourceEvent>) {
        match self {
            TransformOutput::Emit(e) => out.push(e),
            TransformOutput::Drop => {}
            TransformOutput::Multiple(v) => out.extend(v),
        }
    }

    /// The events.
    pub fn into_events(self) -> Vec<SourceEvent> {
        let mut out = Vec::with_capacity(self.len());
        self.extend_into(&mut out);
        out
    }
}

impl From<SourceEvent> for TransformOutput {
    fn from(event: SourceEvent) -> Self {
        TransformOutput::Emit(event)
    }
}

impl From<Vec<SourceEvent>> for TransformOutput {
    fn from(events: Vec<SourceEvent>) -> Self {
        TransformOutput::Multiple(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn map_filter_and_into_events() {
        let a = SourceEvent::record("s", json!({"id": 1}));
        let b = SourceEvent::record("s", json!({"x": 1}));
        let out = TransformOutput::Multiple(vec![a.clone(), b])
            .filter(|e| e.data.get("id").is_some())
            .map(|mut e| {
                e.stream = "t".into();
                e
            });
        let events = out.into_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].stream, "t");
        assert!(TransformOutput::single(a).filter(|_| false).is_empty());
        assert_eq!(TransformOutput::Drop.map(|e| e).len(), 0);
    }
}
