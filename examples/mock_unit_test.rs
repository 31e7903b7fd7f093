//! The three-line connector test: a custom source run through the real
//! runtime into a `MockSink`, then one assertion on what was written.
//!
//! ```text
//! cargo test -p rivven-connect --example mock_unit_test
//! cargo run -p rivven-connect --example mock_unit_test
//! ```

use futures::stream::{self, BoxStream, StreamExt};
use rivven_connect::prelude::*;
use serde_json::json;

/// Counts down from `from` to 1.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "countdown", version = "1.0.0")]
pub struct CountdownConfig {
    /// First number.
    #[validate(range(min = 1))]
    pub from: u64,
}

/// The source under test.
pub struct Countdown;

#[async_trait]
impl Source for Countdown {
    type Config = CountdownConfig;
    fn spec() -> ConnectorSpec {
        CountdownConfigSpec::spec()
    }
    async fn check(&self, _: &CountdownConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }
    async fn discover(&self, _: &CountdownConfig) -> Result<Catalog> {
        Ok(Catalog::new(vec![Stream::new(
            "countdown",
            json!({"type": "object"}),
        )]))
    }
    async fn read(
        &self,
        config: &CountdownConfig,
        _: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let next = state
            .and_then(|s| s.get_stream("countdown")?.data.get("next")?.as_u64())
            .unwrap_or(config.from);
        Ok(stream::iter((1..=next).rev().map(|n| {
            Ok(
                SourceEvent::record("countdown", json!({ "n": n }))
                    .with_state("next", json!(n - 1)),
            )
        }))
        .boxed())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    use rivven_connect_testing::prelude::*;
    let harness = TestHarness::with_configs(
        Countdown,
        CountdownConfig { from: 5 },
        MockSink::new(),
        MockConfig::default(),
    );
    let result = harness.run_pipeline().await?;
    println!(
        "wrote {} events in {:?}",
        result.events_written, result.duration
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rivven_connect_testing::prelude::*;

    #[tokio::test]
    async fn countdown_delivers_every_number_once() -> Result<()> {
        let harness = TestHarness::with_configs(
            Countdown,
            CountdownConfig { from: 100 },
            MockSink::new(),
            MockConfig::default(),
        );
        harness.run_pipeline().await?;
        assert!(assertions::exactly_once(
            1..=100,
            &harness.sink().written_events(),
            "n"
        ));
        Ok(())
    }

    #[tokio::test]
    async fn countdown_is_compliant() {
        SourceCompliance::new(Countdown, json!({"from": 30}))
            .assert()
            .await;
    }
}
