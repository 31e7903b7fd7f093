//! The [`Source`] trait.

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::catalog::{Catalog, ConfiguredCatalog};
use crate::check::CheckResult;
use crate::connector::config::SourceConfig;
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::state::State;

/// Produces events from an external system.
///
/// The runtime calls [`Source::read`] once per (re)start with the last
/// committed [`State`], pulls the stream while it holds credit, and calls
/// [`Source::commit`] after the state that covers a batch has been durably
/// committed — never earlier. A stream that ends finishes the pipeline
/// cleanly (a bounded source).
///
/// Positions are reported through events: either a [`SourceEvent::state`]
/// event carrying the whole state, or per-event updates with
/// [`SourceEvent::with_state`] / the builder's `.state(key, value)`.
#[async_trait]
pub trait Source: Send + Sync + 'static {
    /// Configuration type.
    type Config: SourceConfig;

    /// Name, version and configuration schema. The default is the spec the
    /// config's derive (`#[derive(SourceConfig)]`) built from its attributes.
    fn spec() -> ConnectorSpec {
        crate::connector::config::default_spec::<Self::Config>(
            <Self::Config as crate::SourceConfig>::__derived_spec(),
            std::any::type_name::<Self>(),
            crate::ConnectorKind::Source,
        )
    }

    /// Check connectivity and prerequisites. Report problems in the result;
    /// return `Err` only when the check itself could not run. The runtime
    /// checks before each (re)start of a pipeline.
    ///
    /// The default passes: override it when the source reads from another
    /// system, so that a wrong address or missing permission is reported
    /// by `check` (and a server that is down is waited for) rather than
    /// found by the first read.
    async fn check(&self, _config: &Self::Config) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }

    /// The streams this source offers. The default is an empty catalog:
    /// streams not known before reading, all of them read.
    async fn discover(&self, _config: &Self::Config) -> Result<Catalog> {
        Ok(Catalog::default())
    }

    /// Read events, resuming after `state` when given.
    async fn read(
        &self,
        config: &Self::Config,
        catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>>;

    /// Called once `state` is durably committed: confirm the position upstream
    /// (replication slot, binlog position, message acks). The default does nothing.
    async fn commit(&self, _config: &Self::Config, _state: &State) -> Result<()> {
        Ok(())
    }

    /// The upstream cursor this source must be the only reader of, if any —
    /// for example a replication slot (`postgres://host:5432/db#slot=rivven`).
    ///
    /// Two readers of one cursor confirm it past each other's events, so the
    /// runtime refuses to start two pipelines whose sources return the same
    /// value, naming both. The default (`None`) means any number of readers
    /// can read independently (a file, a generator).
    fn exclusive_resource(&self, _config: &Self::Config) -> Option<String> {
        None
    }
}
