//! The testing examples of the original rivven-connect's documentation, as written: `000_*` "Testing Utilities" and
//! `004_*` "Testing". Changes are imports only, except where marked `// seed:`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    unused_variables,
    unused_imports
)]

use rivven_connect::prelude::*;
use rivven_connect_testing::prelude::*; // seed: the testing utilities live in rivven-connect-testing
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn testing_utilities() -> Result<()> {
    // Mock source for testing sinks
    let source = MockSource::new().with_events(vec![
        SourceEvent::record("users", json!({"id": 1, "name": "Alice"})),
        SourceEvent::record("users", json!({"id": 2, "name": "Bob"})),
    ]);

    // Mock sink for testing sources
    let sink = MockSink::new();

    // Mock with deliberate failures
    let failing_source = MockSource::new().fail_with("connection refused");

    let failing_sink = MockSink::new().fail_after(100); // Fail after 100 events

    // Test harness for integration tests
    let harness = TestHarness::new(source, sink);
    let result = harness.run_pipeline().await?;

    assert!(result.success);
    assert_eq!(result.events_written, 2);
    assert!(result.duration < Duration::from_secs(1));

    // Verify sink received correct events
    let written = harness.sink().written_events();
    assert_eq!(written.len(), 2);

    // Quick event generation
    use rivven_connect_testing::events; // seed: was rivven_connect::traits::testing::events

    // Generate numbered events
    let events = events::with_ids("orders", 0..100);

    // Generate events with custom data
    let events = events::with_generator(
        "users",
        10,
        |i| json!({"id": i, "name": format!("User {}", i)}),
    );

    // Generate CDC events
    let inserts = events::cdc_inserts("products", 50);

    // Assertions for common patterns
    use rivven_connect_testing::assertions; // seed: was rivven_connect::traits::testing::assertions

    assert!(assertions::all_records(&events));
    assert!(assertions::all_have_field(&events, "id"));
    assert!(assertions::ordered_by::<i64>(&events, "id"));

    // Not in the seed: the failing mocks it builds do fail.
    let failed = TestHarness::new(failing_source, MockSink::new())
        .run_pipeline()
        .await?;
    assert!(!failed.success);
    assert!(failed.error.unwrap().contains("connection refused"));
    assert_eq!(inserts.len(), 50);
    Ok(())
}

// --- 004: the connector-development guide's MySource / MySink ----------------------------

use rivven_connect::{SinkConfigDerive, SourceConfigDerive};

#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfigDerive)]
#[source(
    name = "my-source",
    version = "1.0.0",
    description = "Custom data source"
)]
pub struct MySourceConfig {
    #[validate(url)]
    pub endpoint: String,

    #[validate(range(min = 1, max = 1000))]
    pub batch_size: usize,

    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_timeout() -> u64 {
    30_000
}

pub struct MySource;

#[async_trait]
impl Source for MySource {
    type Config = MySourceConfig;

    fn spec() -> ConnectorSpec {
        MySourceConfigSpec::spec()
    }

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        CheckResult::builder()
            .check_if("endpoint_reachable", || Ok(()))
            .build()
    }

    async fn discover(&self, config: &Self::Config) -> Result<Catalog> {
        Ok(Catalog::default())
    }

    async fn read(
        &self,
        config: &Self::Config,
        catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        // seed: the guide leaves this `todo!()`; a connector must return a stream.
        use futures::StreamExt;
        let n = config.batch_size as u64;
        Ok(futures::stream::iter(
            (0..n).map(|i| Ok(SourceEvent::record("items", json!({"id": i})))),
        )
        .boxed())
    }
}

#[derive(Debug, Deserialize, Validate, JsonSchema, SinkConfigDerive)]
#[sink(name = "my-sink", version = "1.0.0", batching, batch_size = 1000)]
pub struct MySinkConfig {
    pub destination: String,

    #[serde(default)]
    pub compress: bool,
}

pub struct MySink;

#[async_trait]
impl Sink for MySink {
    type Config = MySinkConfig;

    fn spec() -> ConnectorSpec {
        MySinkConfigSpec::spec()
    }

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        CheckResult::builder()
            .check_if("destination_writable", || Ok(()))
            .build()
    }

    async fn write(
        &self,
        config: &Self::Config,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        use futures::StreamExt;

        let mut result = WriteResult::new();
        let mut events = std::pin::pin!(events);

        while let Some(event) = events.next().await {
            // seed: `event.data.len()` — data is a JSON value; approx_size() is its encoded size
            result.add_success(1, event.approx_size() as u64);
        }

        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rivven_connect::prelude::*;
    use rivven_connect_testing::unit::{events, TestHarness}; // seed: import added

    #[tokio::test]
    async fn test_source_check() {
        let source = MySource;
        let config = MySourceConfig {
            endpoint: "https://api.example.com".to_string(),
            batch_size: 100,
            timeout_ms: 30_000,
        };

        let result = source.check(&config).await.unwrap();
        assert!(result.is_success());
    }

    #[tokio::test]
    async fn test_sink_write() {
        let harness = TestHarness::new();
        let sink = MySink;
        let config = MySinkConfig {
            destination: "/tmp/test".to_string(),
            compress: false,
        };

        let events = harness.create_events(vec![
            events::record("test", json!({"id": 1})),
            events::record("test", json!({"id": 2})),
        ]);

        let result = sink.write(&config, events).await.unwrap();
        assert_eq!(result.records_written, 2);
    }

    // Not in the seed: the guide's connectors pass the compliance checks.
    #[tokio::test]
    async fn guide_connectors_are_compliant() {
        use rivven_connect_testing::prelude::*;
        SourceCompliance::new(
            MySource,
            json!({"endpoint": "https://api.example.com", "batch_size": 5}),
        )
        .resume(Resume::Skip) // the guide's source keeps no position
        .assert()
        .await;
        SinkCompliance::new(MySink, json!({"destination": "/tmp/x"}))
            .assert()
            .await;
    }
}
