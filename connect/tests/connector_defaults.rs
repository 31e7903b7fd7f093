//! A connector writes only what it does: `spec()` comes from its config's
//! derive, `check()` passes and `discover()` is an empty catalog (every
//! stream read) unless the connector overrides them.
#![allow(clippy::unwrap_used)]

use rivven_connect::prelude::*;
use rivven_connect::ConnectorKind;

/// Emits `count` records.
#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "defaults-source", version = "1.2.3", category = "utility", tags = ["t"])]
pub struct DefaultsConfig {
    /// How many.
    pub count: u64,
}

#[derive(Debug, Default)]
struct Defaults;

#[async_trait]
impl Source for Defaults {
    type Config = DefaultsConfig;
    async fn read(
        &self,
        config: &DefaultsConfig,
        _: &ConfiguredCatalog,
        _: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let events = (0..config.count).map(|id| Ok(SourceEvent::record("n", json!({ "id": id }))));
        Ok(stream::iter(events).boxed())
    }
}

/// A transform config written by hand (no derive): the default spec is
/// named after the connector type and carries the config's schema.
#[derive(Debug, Default, Deserialize, Validate, JsonSchema)]
pub struct HandConfig {}

impl TransformConfig for HandConfig {}

#[derive(Debug, Default)]
struct Hand;

#[async_trait]
impl Transform for Hand {
    type Config = HandConfig;
    async fn transform(&self, _: &HandConfig, event: SourceEvent) -> Result<TransformOutput> {
        Ok(TransformOutput::single(event))
    }
}

#[tokio::test]
async fn spec_check_and_discover_default_to_the_derived_spec_a_pass_and_every_stream() {
    let spec = <Defaults as Source>::spec();
    assert_eq!(spec, DefaultsConfigSpec::spec());
    assert_eq!(
        (spec.name.as_str(), spec.version.as_str()),
        ("defaults-source", "1.2.3")
    );
    assert_eq!(spec.kind, ConnectorKind::Source);
    assert!(spec.config_schema.is_some());

    let config = DefaultsConfig::from_value(json!({"count": 3})).unwrap();
    assert!(Defaults.check(&config).await.unwrap().is_success());
    let catalog = Defaults.discover(&config).await.unwrap();
    assert!(catalog.streams.is_empty());

    let events = rivven_connect_testing::run_source(&Defaults, &config)
        .await
        .unwrap();
    assert_eq!(events.len(), 3);
}

#[test]
fn a_hand_written_config_gets_a_spec_named_after_the_connector() {
    let spec = <Hand as Transform>::spec();
    assert!(spec.name.ends_with("Hand"), "{}", spec.name);
    assert_eq!(spec.kind, ConnectorKind::Transform);
    assert!(spec.config_schema.is_some());
}
