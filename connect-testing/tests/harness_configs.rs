//! `TestHarness` takes connector configs that are neither `Clone` nor `Default`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::stream::BoxStream;
use rivven_connect::prelude::*;
use rivven_connect_testing::prelude::*;
use serde_json::json;

/// A config a user wrote without `Clone` (or `Default`).
#[derive(Debug, Deserialize, Validate, JsonSchema)]
struct CountConfig {
    #[validate(range(min = 1))]
    count: u64,
}

impl SourceConfig for CountConfig {}

/// Emits `config.count` events (a `MockSource` underneath).
struct Counting;

#[async_trait]
impl Source for Counting {
    type Config = CountConfig;

    fn spec() -> ConnectorSpec {
        MockSource::spec()
    }

    async fn check(&self, _config: &CountConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }

    async fn discover(&self, _config: &CountConfig) -> Result<Catalog> {
        MockSource::new().discover(&MockConfig::default()).await
    }

    async fn read(
        &self,
        config: &CountConfig,
        catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        MockSource::counting(config.count)
            .read(&MockConfig::default(), catalog, state)
            .await
    }
}

#[tokio::test]
async fn with_configs_takes_a_config_that_is_not_clone() {
    let config = CountConfig::from_value(json!({"count": 12})).unwrap();
    let harness = TestHarness::with_configs(Counting, config, MockSink::new(), MockConfig {});
    let first = harness.run_pipeline().await.unwrap();
    assert!(first.success, "{first:?}");
    assert_eq!(first.events_written, 12);
    // A second run borrows the same config and resumes from the committed state.
    let again = harness.run_pipeline().await.unwrap();
    assert!(again.success, "{again:?}");
    assert_eq!(again.events_read, 0);
    assert!(assertions::exactly_once(
        0..12,
        &harness.sink().written_events(),
        "id"
    ));
}
