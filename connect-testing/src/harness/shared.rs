//! `Shared<C>`: hands the runtime a connector the harness keeps owning.
//!
//! The runtime takes its connectors by value; a harness that must run a
//! pipeline more than once (a resume run) and give the connector back to the
//! test afterwards wraps it in an `Arc` and delegates every trait method.

use async_trait::async_trait;
use futures::stream::BoxStream;
use rivven_connect::{
    Catalog, CheckResult, ConfiguredCatalog, ConnectorSpec, Result, Sink, Source, SourceEvent,
    State, Transform, TransformOutput, WriteResult,
};
use std::sync::Arc;

/// A connector shared between the harness and the runtime.
pub(crate) struct Shared<C>(pub(crate) Arc<C>);

#[async_trait]
impl<S: Source> Source for Shared<S> {
    type Config = S::Config;

    fn spec() -> ConnectorSpec {
        S::spec()
    }

    async fn check(&self, config: &S::Config) -> Result<CheckResult> {
        self.0.check(config).await
    }

    async fn discover(&self, config: &S::Config) -> Result<Catalog> {
        self.0.discover(config).await
    }

    async fn read(
        &self,
        config: &S::Config,
        catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        self.0.read(config, catalog, state).await
    }

    async fn commit(&self, config: &S::Config, state: &State) -> Result<()> {
        self.0.commit(config, state).await
    }
}

#[async_trait]
impl<K: Sink> Sink for Shared<K> {
    type Config = K::Config;

    fn spec() -> ConnectorSpec {
        K::spec()
    }

    async fn check(&self, config: &K::Config) -> Result<CheckResult> {
        self.0.check(config).await
    }

    async fn write(
        &self,
        config: &K::Config,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        self.0.write(config, events).await
    }
}

#[async_trait]
impl<T: Transform> Transform for Shared<T> {
    type Config = T::Config;

    fn spec() -> ConnectorSpec {
        T::spec()
    }

    async fn transform(&self, config: &T::Config, event: SourceEvent) -> Result<TransformOutput> {
        self.0.transform(config, event).await
    }
}
