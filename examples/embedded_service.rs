//! A tokio service that embeds the rivven-connect runtime.
//!
//! It starts two pipelines — `orders` (datagen → enrich transform → JSONL
//! file) and `preview` (datagen → stdout) —, prints status while they run,
//! and shuts down gracefully on completion or on Ctrl-C/SIGTERM.
//!
//! ```text
//! cargo run -p rivven-connect --example embedded_service
//! ```

use async_trait::async_trait;
use rivven_connect::builtin::{
    DatagenConfig, DatagenSource, FileSink, FileSinkConfig, StdoutSink, StdoutSinkConfig,
};
use rivven_connect::prelude::*;
use rivven_connect::runtime::{FileOffsetStore, Pipeline, PipelineSettings, Runtime};
use serde_json::json;
use std::time::Duration;

/// Config of the example's own transform.
#[derive(Debug, Clone, Deserialize, Validate, JsonSchema)]
struct EnrichConfig {
    /// Value written into every event's `service` field.
    #[validate(length(min = 1))]
    service: String,
}

impl TransformConfig for EnrichConfig {}

/// A custom transform: tags every event and drops cancelled orders.
struct Enrich;

#[async_trait]
impl Transform for Enrich {
    type Config = EnrichConfig;

    fn spec() -> ConnectorSpec {
        ConnectorSpec::builder("enrich", "0.1.0")
            .description("Tags events with the service name and drops cancelled orders")
            .config_schema_from::<EnrichConfig>()
            .build()
    }

    async fn transform(
        &self,
        config: &EnrichConfig,
        mut event: SourceEvent,
    ) -> Result<TransformOutput> {
        if transforms::field_contains(&event, "status", "cancelled") {
            return Ok(TransformOutput::Drop);
        }
        transforms::add_field(&mut event, "service", json!(config.service));
        Ok(TransformOutput::Emit(event))
    }
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    // The embedding service owns logging; the runtime only emits `tracing` events.
    let data_dir = std::env::temp_dir().join(format!("rivven-embedded-{}", std::process::id()));
    let orders: DatagenConfig = serde_json::from_value(json!({
        "pattern": "orders", "events_per_second": 0, "max_events": 20_000, "seed": 42, "stream_name": "orders"
    }))?;
    let preview: DatagenConfig = serde_json::from_value(json!({
        "pattern": "users", "events_per_second": 20, "max_events": 10, "seed": 7, "stream_name": "users"
    }))?;
    let output = data_dir.join("orders.jsonl");
    let file: FileSinkConfig = serde_json::from_value(json!({ "path": output }))?;

    let runtime = Runtime::builder()
        .offset_store(FileOffsetStore::new(data_dir.join("offsets")))
        .pipeline(
            Pipeline::builder("orders")
                .source(DatagenSource::new(), orders)
                .transform(
                    Enrich,
                    EnrichConfig {
                        service: "embedded-example".into(),
                    },
                )
                .sink(FileSink::new(), file)
                .settings(PipelineSettings::default().with_batch_size(1_000)),
        )
        .pipeline(
            Pipeline::builder("preview")
                .source(DatagenSource::new(), preview)
                .sink(StdoutSink::new(), StdoutSinkConfig::default()),
        )
        .start()
        .await?;

    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let run = runtime.run_until_signal(Duration::from_secs(30));
    tokio::pin!(run);
    let status = loop {
        tokio::select! {
            status = &mut run => break status,
            _ = ticker.tick() => {
                for p in runtime.status().await.pipelines {
                    eprintln!("[status] {:<8} {:<10} read={} written={} dropped={}", p.name, p.state, p.events_read, p.events_written, p.events_dropped);
                }
            }
        }
    };
    for p in &status.pipelines {
        eprintln!(
            "[final]  {:<8} {:<10} read={} written={} dropped={} restarts={}",
            p.name, p.state, p.events_read, p.events_written, p.events_dropped, p.restarts
        );
    }
    eprintln!("orders written to {}", output.display());
    if status.all_succeeded() {
        Ok(())
    } else {
        Err("a pipeline failed".into())
    }
}
