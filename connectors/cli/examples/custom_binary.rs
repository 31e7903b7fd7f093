//! A custom `rivven-connect` binary: every built-in connector, the families
//! enabled as features of `rivven-connect-cli`, plus a connector of your own,
//! usable by name in YAML (`connector: countdown`) with no registration code.
//!
//! ```text
//! cargo run -p rivven-connect-cli --example custom_binary -- connectors --search countdown
//! ```
//!
//! In your own crate the dependencies are `rivven-connect` (the SDK),
//! `rivven-connect-cli` (this command line), `serde` and `validator = "0.21"`
//! (the README's Dependencies section); `rivven-connect new source <name>`
//! writes such a crate.

use futures::stream::{self, BoxStream, StreamExt};
use rivven_connect::prelude::*;
use serde_json::json;

/// Counts down to zero.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "countdown",
    version = "1.0.0",
    description = "Counts down from `from` to 1",
    connector = Countdown
)]
pub struct CountdownConfig {
    /// The first number.
    #[validate(range(min = 1, max = 1_000_000))]
    pub from: u64,
}

/// The `countdown` source.
#[derive(Default)]
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
        // Resume below the last committed number.
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

fn main() -> std::process::ExitCode {
    rivven_connect_cli::main()
}
