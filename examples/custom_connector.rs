//! A custom source and sink written with the config derives, discovered through the
//! registry by name (no registration line) and run in a pipeline.
//!
//! ```text
//! cargo run -p rivven-connect --example custom_connector
//! ```

// --- connector code starts here ---------------------------------------------------------
use futures::stream::{BoxStream, StreamExt};
use rivven_connect::prelude::*;
use serde_json::json;

/// Emits the Fibonacci numbers, resuming after the last committed one.
#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "fibonacci", version = "1.0.0", incremental, connector = Fibonacci)]
pub struct FibonacciConfig {
    /// How many numbers to emit.
    #[validate(range(min = 1, max = 90))]
    pub count: u64,
}

#[derive(Default)]
pub struct Fibonacci;

#[async_trait]
impl Source for Fibonacci {
    type Config = FibonacciConfig;
    fn spec() -> ConnectorSpec {
        FibonacciConfigSpec::spec()
    }
    async fn check(&self, _: &FibonacciConfig) -> Result<CheckResult> {
        CheckResult::builder().check_passed("arithmetic").build()
    }
    async fn discover(&self, _: &FibonacciConfig) -> Result<Catalog> {
        Ok(Catalog::new(vec![Stream::new(
            "fib",
            json!({"type": "object"}),
        )]))
    }
    async fn read(
        &self,
        c: &FibonacciConfig,
        _: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let start = state
            .and_then(|s| s.get_stream("fib")?.data.get("next")?.as_u64())
            .unwrap_or(0);
        let numbers = (0..c.count).scan((0u64, 1u64), |(a, b), i| {
            let n = *a;
            (*a, *b) = (*b, *a + *b);
            Some((i, n))
        });
        let events =
            numbers.skip(start as usize).map(|(i, n)| {
                Ok(SourceEvent::record("fib", json!({"i": i, "n": n}))
                    .with_state("next", json!(i + 1)))
            });
        Ok(futures::stream::iter(events.collect::<Vec<_>>()).boxed())
    }
}

/// Prints events that pass a divisibility filter.
#[derive(Debug, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(name = "divisible-printer", batching, batch_size = 16, connector = DivisiblePrinter)]
pub struct DivisiblePrinterConfig {
    /// Print only numbers divisible by this.
    #[validate(range(min = 1))]
    pub divisor: u64,
}

#[derive(Default)]
pub struct DivisiblePrinter;

#[async_trait]
impl Sink for DivisiblePrinter {
    type Config = DivisiblePrinterConfig;
    fn spec() -> ConnectorSpec {
        DivisiblePrinterConfigSpec::spec()
    }
    async fn check(&self, _: &DivisiblePrinterConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }
    async fn write(
        &self,
        c: &DivisiblePrinterConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        self.write_batch(c, events.collect().await).await
    }
}

#[async_trait]
impl BatchSink for DivisiblePrinter {
    fn batch_config(&self, _: &DivisiblePrinterConfig) -> BatchConfig {
        DivisiblePrinterConfigSpec::batch_config()
    }
    async fn write_batch(
        &self,
        c: &DivisiblePrinterConfig,
        events: Vec<SourceEvent>,
    ) -> Result<WriteResult> {
        for e in events
            .iter()
            .filter(|e| e.data["n"].as_u64().is_some_and(|n| n % c.divisor == 0))
        {
            println!("{}", e.data);
        }
        let mut result = WriteResult::new();
        result.add_success(events.len() as u64, 0);
        Ok(result)
    }
}
// --- connector code ends here -----------------------------------------------------------

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    use rivven_connect::registry::Registry;
    use rivven_connect::runtime::{MemoryOffsetStore, Pipeline, Runtime};

    // Found by name: the derives registered both connectors.
    let registry = Registry::discovered()?;
    for m in registry.search("i") {
        eprintln!(
            "[registry] {:?} {} {} — {}",
            m.kind, m.name, m.version, m.description
        );
    }
    let source = registry
        .source("fibonacci")
        .ok_or("fibonacci not registered")?
        .build(json!({"count": 40}))?;
    let sink = registry
        .sink("divisible-printer")
        .ok_or("printer not registered")?
        .build(json!({"divisor": 2}))?;

    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("fib")
                .any_source("fibonacci", source)
                .any_sink("divisible-printer", sink),
        )
        .start()
        .await?;
    let status = runtime.wait().await;
    let p = status.pipeline("fib").ok_or("no status")?;
    eprintln!(
        "[final] {} read={} written={}",
        p.state, p.events_read, p.events_written
    );

    // A bad config is refused before anything runs, naming the connector, field and rule.
    if let Some(Err(e)) = registry
        .source("fibonacci")
        .map(|s| s.build(json!({"count": 500})))
    {
        eprintln!("[config] {e}");
    }
    if !status.all_succeeded() {
        return Err("pipeline failed".into());
    }
    Ok(())
}
