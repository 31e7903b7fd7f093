//! `Shared<C>`: hands the runtime a connector the harness keeps owning.
//!
//! The runtime takes its connectors and their configs by value; a harness
//! that must run a pipeline more than once (a resume run) and give the
//! connector back to the test afterwards wraps it in an `Arc` and delegates
//! every trait method. The config goes the same way ([`SharedConfig`]), so
//! a connector's config need not be `Clone`.

use async_trait::async_trait;
use futures::stream::BoxStream;
use rivven_connect::{
    Catalog, CheckResult, ConfiguredCatalog, ConnectorSpec, Result, Sink, SinkConfig, Source,
    SourceConfig, SourceEvent, State, Transform, TransformConfig, TransformOutput, WriteResult,
};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::sync::Arc;
use validator::{Validate, ValidationErrors};

/// A connector shared between the harness and the runtime.
pub(crate) struct Shared<C>(pub(crate) Arc<C>);

/// A config shared between the harness and each run's pipeline: cloning it
/// clones the `Arc`, not the config. Everything else (deserializing,
/// validation, schema) is the wrapped config's.
pub(crate) struct SharedConfig<C>(pub(crate) Arc<C>);

impl<C> Clone for SharedConfig<C> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<'de, C: Deserialize<'de>> Deserialize<'de> for SharedConfig<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        C::deserialize(deserializer).map(|c| Self(Arc::new(c)))
    }
}

impl<C: Validate> Validate for SharedConfig<C> {
    fn validate(&self) -> std::result::Result<(), ValidationErrors> {
        self.0.validate()
    }
}

impl<C: JsonSchema> JsonSchema for SharedConfig<C> {
    fn inline_schema() -> bool {
        C::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        C::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        C::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        C::json_schema(generator)
    }
}

impl<C: SourceConfig> SourceConfig for SharedConfig<C> {}
impl<C: SinkConfig> SinkConfig for SharedConfig<C> {}
impl<C: TransformConfig> TransformConfig for SharedConfig<C> {}

#[async_trait]
impl<S: Source> Source for Shared<S> {
    type Config = SharedConfig<S::Config>;

    fn spec() -> ConnectorSpec {
        S::spec()
    }

    async fn check(&self, config: &SharedConfig<S::Config>) -> Result<CheckResult> {
        self.0.check(&config.0).await
    }

    async fn discover(&self, config: &SharedConfig<S::Config>) -> Result<Catalog> {
        self.0.discover(&config.0).await
    }

    async fn read(
        &self,
        config: &SharedConfig<S::Config>,
        catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        self.0.read(&config.0, catalog, state).await
    }

    async fn commit(&self, config: &SharedConfig<S::Config>, state: &State) -> Result<()> {
        self.0.commit(&config.0, state).await
    }
}

#[async_trait]
impl<K: Sink> Sink for Shared<K> {
    type Config = SharedConfig<K::Config>;

    fn spec() -> ConnectorSpec {
        K::spec()
    }

    async fn check(&self, config: &SharedConfig<K::Config>) -> Result<CheckResult> {
        self.0.check(&config.0).await
    }

    async fn write(
        &self,
        config: &SharedConfig<K::Config>,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        self.0.write(&config.0, events).await
    }

    async fn flush(&self, config: &SharedConfig<K::Config>) -> Result<WriteResult> {
        self.0.flush(&config.0).await
    }

    fn discard_pending(&self, config: &SharedConfig<K::Config>) {
        self.0.discard_pending(&config.0)
    }
}

#[async_trait]
impl<T: Transform> Transform for Shared<T> {
    type Config = SharedConfig<T::Config>;

    fn spec() -> ConnectorSpec {
        T::spec()
    }

    async fn transform(
        &self,
        config: &SharedConfig<T::Config>,
        event: SourceEvent,
    ) -> Result<TransformOutput> {
        self.0.transform(&config.0, event).await
    }
}
