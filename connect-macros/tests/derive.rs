//! The config derives on the connector-development guide's examples (`004_*`): specs,
//! schemas, validation on load, registration and hygiene.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use futures::stream::BoxStream;
use rivven_connect::prelude::*;
use rivven_connect::registry::{Category, Registry};
use rivven_connect::{SinkConfigDerive, SourceConfigDerive, TransformConfigDerive};
use serde_json::{json, Value};

// ---- 004 "Source Connectors" -------------------------------------------------------------

#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfigDerive)]
#[source(
    name = "my-source",
    version = "1.0.0",
    description = "Custom data source"
)]
pub struct MySourceConfig {
    /// Base URL of the API.
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

// ---- 004 "Sink Connectors" ---------------------------------------------------------------

#[derive(Debug, Deserialize, Validate, JsonSchema, SinkConfigDerive)]
#[sink(name = "my-sink", version = "1.0.0", batching, batch_size = 1000)]
pub struct MySinkConfig {
    pub destination: String,

    #[serde(default)]
    pub compress: bool,
}

// ---- 004 "Transform Connectors" ----------------------------------------------------------

#[derive(Debug, Deserialize, Validate, JsonSchema, TransformConfigDerive)]
#[transform(name = "filter-transform", version = "1.0.0")]
pub struct FilterConfig {
    pub field: String,
    pub pattern: String,
}

// ---- 004 "Configuration Validation" ------------------------------------------------------

#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfigDerive)]
#[source(name = "validated-source", version = "1.0.0")]
pub struct ValidatedConfig {
    #[validate(url)]
    pub endpoint: String,

    #[validate(email)]
    pub notification_email: Option<String>,

    #[validate(range(min = 1, max = 100))]
    pub concurrency: usize,

    #[validate(length(min = 1, max = 256))]
    pub table_name: String,

    #[validate(custom(function = "validate_cron"))]
    pub schedule: Option<String>,
}

fn validate_cron(cron: &str) -> Result<(), validator::ValidationError> {
    if cron.split_whitespace().count() == 5 {
        Ok(())
    } else {
        Err(validator::ValidationError::new("cron"))
    }
}

// ---- 004 "Example: HTTP Webhook Sink" ----------------------------------------------------

#[derive(Debug, Deserialize, Validate, JsonSchema, SinkConfigDerive)]
#[sink(name = "http-webhook", version = "1.0.0", batching, batch_size = 100)]
pub struct WebhookSinkConfig {
    #[validate(url)]
    pub url: String,

    #[serde(default)]
    pub headers: std::collections::HashMap<String, String>,

    #[serde(default = "default_webhook_timeout")]
    pub timeout_ms: u64,

    #[serde(default)]
    pub retry_count: usize,
}

fn default_webhook_timeout() -> u64 {
    10_000
}

fn schema(spec: &ConnectorSpec) -> &Value {
    spec.config_schema.as_ref().unwrap()
}

#[test]
fn source_spec_has_metadata_schema_descriptions_and_defaults() {
    assert_eq!(MySourceConfigSpec::name(), "my-source");
    assert_eq!(MySourceConfigSpec::version(), "1.0.0");
    let spec = MySourceConfigSpec::spec();
    assert_eq!(spec.kind, rivven_connect::ConnectorKind::Source);
    assert_eq!(spec.description.as_deref(), Some("Custom data source"));
    let s = schema(&spec);
    assert_eq!(s["properties"]["endpoint"]["format"], "uri");
    assert_eq!(
        s["properties"]["endpoint"]["description"],
        "Base URL of the API."
    );
    assert_eq!(s["properties"]["batch_size"]["minimum"], 1);
    assert_eq!(s["properties"]["batch_size"]["maximum"], 1000);
    assert_eq!(s["properties"]["timeout_ms"]["default"], 30_000);
}

#[test]
fn sink_spec_and_batch_config() {
    assert_eq!(MySinkConfigSpec::batch_config().max_records, 1000);
    assert_eq!(WebhookSinkConfigSpec::batch_config().max_records, 100);
    let spec = MySinkConfigSpec::spec();
    assert!(spec.supports_batching);
    assert_eq!(spec.kind, rivven_connect::ConnectorKind::Sink);
    assert_eq!(schema(&spec)["properties"]["compress"]["default"], false);
    let webhook = WebhookSinkConfigSpec::spec();
    assert_eq!(schema(&webhook)["properties"]["url"]["format"], "uri");
    assert_eq!(
        schema(&webhook)["properties"]["timeout_ms"]["default"],
        10_000
    );
}

#[test]
fn transform_spec_and_defaults() {
    assert_eq!(FilterConfigSpec::name(), "filter-transform");
    let spec = FilterConfigSpec::spec();
    assert_eq!(spec.kind, rivven_connect::ConnectorKind::Transform);
    assert_eq!(schema(&spec)["required"], json!(["field", "pattern"]));
}

#[test]
fn validation_rules_appear_in_the_schema() {
    let spec = ValidatedConfigSpec::spec();
    let p = &schema(&spec)["properties"];
    assert_eq!(p["endpoint"]["format"], "uri");
    assert_eq!(p["notification_email"]["format"], "email");
    assert_eq!(
        (
            p["concurrency"]["minimum"].clone(),
            p["concurrency"]["maximum"].clone()
        ),
        (json!(1), json!(100))
    );
    assert_eq!(
        (
            p["table_name"]["minLength"].clone(),
            p["table_name"]["maxLength"].clone()
        ),
        (json!(1), json!(256))
    );
    assert_eq!(p["schedule"]["x-validator"], "validate_cron");
}

#[test]
fn invalid_configs_are_rejected_naming_field_and_rule() {
    let good = json!({"endpoint": "https://api.example.com", "concurrency": 4, "table_name": "users",
                      "notification_email": "ops@example.com", "schedule": "0 * * * *"});
    assert!(ValidatedConfig::from_value(good.clone()).is_ok());

    let mut bad = good.clone();
    bad["concurrency"] = json!(500);
    bad["notification_email"] = json!("not-an-email");
    bad["schedule"] = json!("every minute");
    let err = ValidatedConfig::from_value(bad).unwrap_err().to_string();
    assert!(
        err.contains("`concurrency` failed rule `range` (max = 100, min = 1)"),
        "{err}"
    );
    assert!(
        err.contains("`notification_email` failed rule `email`"),
        "{err}"
    );
    assert!(err.contains("`schedule` failed rule `cron`"), "{err}");

    let mut wrong_type = good;
    wrong_type["concurrency"] = json!("four");
    let err = ValidatedConfig::from_value(wrong_type)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at `concurrency`"), "{err}");

    let err = MySinkConfig::from_yaml("destination: /tmp/out\ncompress: maybe\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("compress"), "{err}");
    let ok = MySinkConfig::from_yaml("destination: /tmp/out\n").unwrap();
    assert!(!ok.compress);
}

// ---- defaults, secrets, serde renames ----------------------------------------------------

/// A config with every default.
#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfigDerive)]
#[serde(rename_all = "camelCase")]
pub struct PostgresCdcConfig {
    /// Database host.
    pub host_name: String,
    /// Password of the replication user.
    pub password: rivven_connect::SecretString,
    #[serde(rename = "api-token")]
    pub token: Option<rivven_connect::SecretString>,
}

#[test]
fn defaults_and_secrets() {
    assert_eq!(PostgresCdcConfigSpec::name(), "postgres-cdc");
    assert_eq!(PostgresCdcConfigSpec::version(), "0.0.1");
    assert_eq!(
        PostgresCdcConfigSpec::spec().description.as_deref(),
        Some("A config with every default."),
        "doc comment as description"
    );
    let spec = PostgresCdcConfigSpec::spec();
    let p = &schema(&spec)["properties"];
    assert_eq!(p["password"]["writeOnly"], true);
    assert_eq!(p["password"]["x-secret"], true);
    assert_eq!(p["api-token"]["x-secret"], true);
    assert_eq!(p["hostName"]["description"], "Database host.");

    let config =
        PostgresCdcConfig::from_value(json!({"hostName": "db", "password": "hunter2"})).unwrap();
    assert_eq!(config.password.expose_secret(), "hunter2");
    let shown = format!("{config:?} {}", serde_json::to_string(&spec).unwrap());
    assert!(!shown.contains("hunter2"), "{shown}");
}

// ---- registration ------------------------------------------------------------------------

#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfigDerive)]
#[source(name = "ticker", category = "messaging", tags = ["demo", "clock"], connector = Ticker)]
pub struct TickerConfig {
    #[validate(range(min = 1))]
    pub count: u64,
}

#[derive(Default)]
pub struct Ticker;

#[async_trait]
impl Source for Ticker {
    type Config = TickerConfig;
    fn spec() -> ConnectorSpec {
        TickerConfigSpec::spec()
    }
    async fn check(&self, _: &TickerConfig) -> Result<CheckResult> {
        CheckResult::builder().check_passed("clock").build()
    }
    async fn discover(&self, _: &TickerConfig) -> Result<Catalog> {
        Ok(Catalog::default())
    }
    async fn read(
        &self,
        c: &TickerConfig,
        _: &ConfiguredCatalog,
        _: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        use futures::StreamExt;
        let n = c.count;
        Ok(futures::stream::iter(
            (0..n).map(|i| Ok(SourceEvent::record("ticks", json!({"id": i})))),
        )
        .boxed())
    }
}

#[derive(Debug, Deserialize, Validate, JsonSchema, SinkConfigDerive)]
#[sink(name = "counting-sink", batching, batch_size = 7, connector = CountingSink)]
pub struct CountingSinkConfig {}

#[derive(Default)]
pub struct CountingSink;

#[async_trait]
impl Sink for CountingSink {
    type Config = CountingSinkConfig;
    fn spec() -> ConnectorSpec {
        CountingSinkConfigSpec::spec()
    }
    async fn check(&self, _: &CountingSinkConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }
    async fn write(
        &self,
        _: &CountingSinkConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        use futures::StreamExt;
        let n = events.count().await as u64;
        let mut r = WriteResult::new();
        r.add_success(n, 0);
        Ok(r)
    }
}

#[async_trait]
impl BatchSink for CountingSink {
    fn batch_config(&self, _: &CountingSinkConfig) -> BatchConfig {
        CountingSinkConfigSpec::batch_config()
    }
    async fn write_batch(
        &self,
        _: &CountingSinkConfig,
        events: Vec<SourceEvent>,
    ) -> Result<WriteResult> {
        let mut r = WriteResult::new();
        r.add_success(events.len() as u64, 0);
        Ok(r)
    }
}

#[test]
fn derived_connectors_are_discovered_by_name() {
    let registry = Registry::discovered().unwrap();
    let ticker = registry
        .source("ticker")
        .expect("ticker registered by its derive");
    assert_eq!(ticker.category, Category::Messaging);
    assert_eq!(ticker.tags, vec!["demo", "clock"]);
    assert!(
        ticker.type_name.ends_with("::Ticker"),
        "{}",
        ticker.type_name
    );
    assert!(registry
        .by_category(Category::Messaging)
        .iter()
        .any(|m| m.name == "ticker"));
    assert!(registry.search("CLOCK").iter().any(|m| m.name == "ticker"));

    let built = ticker.build(json!({"count": 3})).unwrap();
    assert_eq!(built.spec().name, "ticker");
    let err = ticker.build(json!({"count": 0})).err().unwrap().to_string();
    assert!(
        err.contains("source connector `ticker`") && err.contains("`count` failed rule `range`"),
        "{err}"
    );

    let sink = registry
        .sink("counting-sink")
        .unwrap()
        .build(json!({}))
        .unwrap();
    assert_eq!(
        sink.batch_config().map(|b| b.max_records),
        Some(7),
        "registered as a batch sink"
    );
    assert!(
        registry.source("datagen").is_some(),
        "built-ins are included"
    );
}

#[test]
fn explicit_registration_also_works() {
    let mut registry = Registry::new();
    registry.register_source::<Ticker>().unwrap();
    assert!(registry.source("ticker").is_some());
    assert!(registry.source("datagen").is_none());

    // The same type registered by its derive and explicitly is not a name clash.
    let mut discovered = Registry::discovered().unwrap();
    discovered.register_source::<Ticker>().unwrap();
}

#[tokio::test]
async fn a_registered_connector_runs_in_a_pipeline() {
    use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, Runtime};
    let registry = Registry::discovered().unwrap();
    let source = registry
        .source("ticker")
        .unwrap()
        .build(json!({"count": 25}))
        .unwrap();
    let sink = registry
        .sink("counting-sink")
        .unwrap()
        .build(json!({}))
        .unwrap();
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("ticks")
                .any_source("ticker", source)
                .any_sink("counting-sink", sink),
        )
        .start()
        .await
        .unwrap();
    let status = runtime.wait().await;
    assert_eq!(status.pipeline("ticks").unwrap().events_written, 25);
}
