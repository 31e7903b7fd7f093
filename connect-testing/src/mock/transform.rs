//! [`MockTransform`]: a transform made from a closure.

use async_trait::async_trait;
use rivven_connect::{
    ConnectorKind, ConnectorSpec, Result, SourceEvent, Transform, TransformOutput,
};
use std::sync::Arc;

use super::MockConfig;

type TransformFn = Arc<dyn Fn(SourceEvent) -> Result<TransformOutput> + Send + Sync>;

/// A transform that applies a closure to every event.
#[derive(Clone)]
pub struct MockTransform {
    f: TransformFn,
}

impl std::fmt::Debug for MockTransform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockTransform").finish_non_exhaustive()
    }
}

impl MockTransform {
    /// A transform running `f`.
    pub fn new(f: impl Fn(SourceEvent) -> Result<TransformOutput> + Send + Sync + 'static) -> Self {
        Self { f: Arc::new(f) }
    }

    /// Pass every event through unchanged.
    pub fn identity() -> Self {
        Self::new(|e| Ok(TransformOutput::Emit(e)))
    }
}

#[async_trait]
impl Transform for MockTransform {
    type Config = MockConfig;

    fn spec() -> ConnectorSpec {
        ConnectorSpec::builder("mock-transform", env!("CARGO_PKG_VERSION"))
            .kind(ConnectorKind::Transform)
            .description("Closure transform for tests")
            .config_schema_from::<MockConfig>()
            .build()
    }

    async fn transform(&self, _config: &MockConfig, event: SourceEvent) -> Result<TransformOutput> {
        (self.f)(event)
    }
}
