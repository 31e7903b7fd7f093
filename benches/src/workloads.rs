//! The workloads of the `pipeline` harness. Each runs as a hand-written
//! single-threaded loop (`Mode::Loop`: the same connectors and transforms
//! called directly, one event at a time, no actors), through the
//! rivven-connect runtime (`Mode::Runtime`), and W1/W1f also as a plain
//! serde_json loop (`Mode::Plain`, see [`crate::plain`]) and through the real
//! binary (`Mode::Binary`, `Mode::BinaryBare`, see [`crate::binary`]).

use futures::StreamExt;
use rivven_connect::registry::Registry;
use rivven_connect::runtime::{
    AnySink, AnySource, AnyTransform, MemoryOffsetStore, Pipeline, PipelineSettings, Runtime,
};
use rivven_connect::BatchConfig;
use rivven_connect::{ConnectorError, Result, SourceEvent, TransformOutput};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sinks::{Blackhole, NoConfig, Throttled};

/// Events per runtime batch: large enough that an actor hop is noise.
pub const BATCH: usize = 1024;
/// Unacknowledged batches per pipeline.
pub const IN_FLIGHT: usize = 4;

/// How a workload runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Hand-written loop over raw `serde_json::Value`: no `SourceEvent`, no connectors.
    Plain,
    /// Hand-written single-threaded loop over the same connectors and transforms.
    Loop,
    /// The rivven-connect runtime, in process.
    Runtime,
    /// The `rivven-connect` binary on a YAML file.
    Binary,
    /// The same YAML without the two transforms.
    BinaryBare,
}

impl Mode {
    /// Its name on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Loop => "loop",
            Mode::Runtime => "runtime",
            Mode::Binary => "binary",
            Mode::BinaryBare => "binary_bare",
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    /// Workload name.
    pub workload: String,
    /// Loop or runtime.
    pub mode: Mode,
    /// Events read from the source.
    pub events_in: u64,
    /// Events written by the sink.
    pub events_out: u64,
    /// Bytes written by the sink.
    pub bytes_out: u64,
    /// Wall time of the job, measured inside the process that ran it.
    pub seconds: f64,
    /// Wall time of the whole process, spawn to exit (set by the harness).
    #[serde(default)]
    pub process_seconds: f64,
    /// User + system CPU time of the whole process (set by the harness).
    #[serde(default)]
    pub cpu_seconds: f64,
    /// Peak RSS of the process that ran it.
    pub peak_rss: u64,
    /// Workload-specific figures.
    pub extra: Value,
}

impl Measured {
    /// Input events per second.
    pub fn events_per_sec(&self) -> f64 {
        self.events_in as f64 / self.seconds.max(1e-9)
    }

    /// CPU microseconds per input event.
    pub fn cpu_us_per_event(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.events_in.max(1) as f64
    }

    /// Output megabytes per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes_out as f64 / 1e6 / self.seconds.max(1e-9)
    }
}

fn missing(what: &str) -> ConnectorError {
    ConnectorError::configuration(format!("built-in `{what}` is not registered"))
}

fn source(registry: &Registry, name: &str, config: Value) -> Result<Arc<dyn AnySource>> {
    registry
        .source(name)
        .ok_or_else(|| missing(name))?
        .build(config)
}

fn transform(registry: &Registry, name: &str, config: Value) -> Result<Arc<dyn AnyTransform>> {
    registry
        .transform(name)
        .ok_or_else(|| missing(name))?
        .build(config)
}

fn sink(registry: &Registry, name: &str, config: Value) -> Result<Arc<dyn AnySink>> {
    registry
        .sink(name)
        .ok_or_else(|| missing(name))?
        .build(config)
}

/// The job's transforms: drop cancelled orders, hide the customer's email.
fn order_transforms(registry: &Registry) -> Result<Vec<Arc<dyn AnyTransform>>> {
    Ok(vec![
        transform(
            registry,
            "filter",
            json!({"condition": "status != 'cancelled'"}),
        )?,
        transform(
            registry,
            "mask_field",
            json!({"fields": ["customer_email"], "replacement": "***"}),
        )?,
    ])
}

fn datagen_orders(n: u64, cdc: bool) -> Value {
    json!({"pattern": "orders", "events_per_second": 0, "max_events": n, "seed": 42, "cdc_mode": cdc})
}

/// Run `workload` in `mode` with `n` events; files go under `dir`.
pub async fn run(workload: &str, mode: Mode, n: u64, seconds: f64, dir: &Path) -> Result<Measured> {
    let registry = Registry::builtin();
    let out = dir.join(format!("{workload}-{mode:?}.jsonl").to_lowercase());
    let _ = std::fs::remove_file(&out);
    let started = Instant::now();
    let (events_in, events_out, extra) = match workload {
        "w1" | "w1f" => {
            let src = if workload == "w1" {
                source(&registry, "datagen", datagen_orders(n, false))?
            } else {
                let input = input_file(dir, n)?;
                source(&registry, "file", json!({"path": input}))?
            };
            let ts = order_transforms(&registry)?;
            let (i, o, extra) = match mode {
                Mode::Plain => {
                    let counts = if workload == "w1" {
                        crate::plain::w1(n, 42, &out)
                    } else {
                        crate::plain::w1f(&input_file(dir, n)?, &out)
                    }
                    .map_err(|e| ConnectorError::io(format!("plain loop: {e}")))?;
                    (counts.read, counts.written, Value::Null)
                }
                Mode::Loop => {
                    let (i, o) = jsonl_loop(src, &ts, &out).await?;
                    (i, o, Value::Null)
                }
                Mode::Runtime => {
                    let file = sink(&registry, "file", json!({"path": out}))?;
                    let (i, o, status) = through_runtime(workload, src, ts, file).await?;
                    fsync(&out)?;
                    (i, o, buffered(&status))
                }
                Mode::Binary | Mode::BinaryBare => return Err(in_process_only(mode)),
            };
            (i, o, extra)
        }
        "w2" => {
            let src = source(&registry, "datagen", datagen_orders(n, true))?;
            let ts = vec![transform(&registry, "extract_new_record_state", json!({}))?];
            let (i, o, extra) = match mode {
                Mode::Loop => {
                    let (i, o) = count_loop(src, &ts).await?;
                    (i, o, Value::Null)
                }
                Mode::Runtime => {
                    let hole: Arc<dyn AnySink> =
                        Arc::new(rivven_connect::runtime::SinkAdapter::new(
                            Blackhole::default(),
                            NoConfig {},
                        ));
                    let (i, o, status) = through_runtime(workload, src, ts, hole).await?;
                    (i, o, buffered(&status))
                }
                other => return Err(in_process_only(other)),
            };
            (i, o, extra)
        }
        "w3" => slow_sink(&registry, seconds).await?,
        "w5" => crate::lowrate::run(seconds, &out).await?,
        other => {
            return Err(ConnectorError::configuration(format!(
                "unknown workload `{other}`"
            )))
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let bytes_out = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    Ok(Measured {
        workload: workload.to_string(),
        mode,
        events_in,
        events_out,
        bytes_out,
        seconds,
        process_seconds: 0.0,
        cpu_seconds: 0.0,
        peak_rss: crate::peak_rss(),
        extra,
    })
}

fn in_process_only(mode: Mode) -> ConnectorError {
    ConnectorError::configuration(format!(
        "mode `{}` does not run in process for this workload",
        mode.name()
    ))
}

/// The W1f input, `<dir>/orders-<n>.jsonl`: generated once per size and kept.
pub fn input_file(dir: &Path, n: u64) -> Result<PathBuf> {
    let path = dir.join(format!("orders-{n}.jsonl"));
    if !path.exists() {
        let tmp = dir.join(format!("orders-{n}.jsonl.tmp"));
        crate::write_orders_jsonl(&tmp, n, 7)
            .map_err(|e| ConnectorError::io(format!("writing the input: {e}")))?;
        std::fs::rename(&tmp, &path).map_err(|e| ConnectorError::io(e.to_string()))?;
    }
    Ok(path)
}

fn fsync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| ConnectorError::io(format!("fsync {}: {e}", path.display())))
}

/// Apply the transforms to one event, as a pipeline would.
async fn apply(
    ts: &[Arc<dyn AnyTransform>],
    event: SourceEvent,
    out: &mut Vec<SourceEvent>,
) -> Result<()> {
    let mut current = vec![event];
    for t in ts {
        let mut next = Vec::with_capacity(current.len());
        for e in current {
            match t.transform(e).await? {
                TransformOutput::Emit(e) => next.push(e),
                TransformOutput::Drop => {}
                TransformOutput::Multiple(v) => next.extend(v),
            }
        }
        current = next;
    }
    out.extend(current);
    Ok(())
}

/// The baseline: read, transform, serialize `data` as a JSON line, write; one
/// thread. Syncs the file every [`BATCH`] lines, as the runtime's file sink
/// (default `fsync: true`) syncs each batch.
async fn jsonl_loop(
    src: Arc<dyn AnySource>,
    ts: &[Arc<dyn AnyTransform>],
    out: &Path,
) -> Result<(u64, u64)> {
    let file = std::fs::File::create(out).map_err(|e| ConnectorError::io(e.to_string()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut stream = src.read(None).await?;
    let (mut read, mut written) = (0u64, 0u64);
    let mut kept = Vec::with_capacity(1);
    while let Some(event) = stream.next().await {
        let event = event?;
        if !event.is_data() {
            continue;
        }
        read += 1;
        apply(ts, event, &mut kept).await?;
        for e in kept.drain(..) {
            serde_json::to_writer(&mut w, &e.data)
                .map_err(|e| ConnectorError::io(e.to_string()))?;
            w.write_all(b"\n")
                .map_err(|e| ConnectorError::io(e.to_string()))?;
            written += 1;
            if written % BATCH as u64 == 0 {
                // The same work as the runtime's file sink (`fsync: true`, its
                // default): each batch reaches the disk before the next one.
                w.flush().map_err(|e| ConnectorError::io(e.to_string()))?;
                w.get_ref()
                    .sync_data()
                    .map_err(|e| ConnectorError::io(e.to_string()))?;
            }
        }
    }
    let file = w
        .into_inner()
        .map_err(|e| ConnectorError::io(e.to_string()))?;
    file.sync_all()
        .map_err(|e| ConnectorError::io(e.to_string()))?;
    Ok((read, written))
}

/// The baseline for a no-op sink: read, transform, count.
async fn count_loop(src: Arc<dyn AnySource>, ts: &[Arc<dyn AnyTransform>]) -> Result<(u64, u64)> {
    let mut stream = src.read(None).await?;
    let (mut read, mut out) = (0u64, 0u64);
    let mut kept = Vec::with_capacity(1);
    while let Some(event) = stream.next().await {
        let event = event?;
        if !event.is_data() {
            continue;
        }
        read += 1;
        apply(ts, event, &mut kept).await?;
        out += kept.len() as u64;
        kept.clear();
    }
    Ok((read, out))
}

/// The runtime's high-water mark of unacknowledged events, against its bound.
fn buffered(status: &rivven_connect::runtime::PipelineStatus) -> Value {
    let s = settings();
    json!({"max_buffered_events": status.max_in_flight_events,
           "buffer_bound": s.max_in_flight_batches * s.batch_size})
}

fn settings() -> PipelineSettings {
    PipelineSettings::default()
        .with_batch_size(BATCH)
        .with_max_in_flight_batches(IN_FLIGHT)
        .with_sink_batch(BatchConfig::new(BATCH, 50))
        .with_check_before_start(false)
}

async fn through_runtime(
    name: &str,
    src: Arc<dyn AnySource>,
    ts: Vec<Arc<dyn AnyTransform>>,
    sink: Arc<dyn AnySink>,
) -> Result<(u64, u64, rivven_connect::runtime::PipelineStatus)> {
    let mut p = Pipeline::builder(name).any_source("source", src);
    for (i, t) in ts.into_iter().enumerate() {
        p = p.any_transform(format!("t{i}"), t);
    }
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(p.any_sink("sink", sink).settings(settings()))
        .start()
        .await?;
    let p = run_to_end(runtime, name).await?;
    Ok((p.events_read, p.events_written, p))
}

/// Wait for `runtime` to finish and return pipeline `name`'s status; a
/// pipeline that did not succeed is an error with its last error.
pub(crate) async fn run_to_end(
    runtime: Runtime,
    name: &str,
) -> Result<rivven_connect::runtime::PipelineStatus> {
    let status = runtime.wait().await;
    let p = status
        .pipeline(name)
        .cloned()
        .ok_or_else(|| ConnectorError::fatal("no status"))?;
    if !status.all_succeeded() {
        return Err(ConnectorError::fatal(format!(
            "pipeline failed: {:?}",
            p.last_error
        )));
    }
    Ok(p)
}

/// W3: unlimited datagen into a 2 000 events/s sink for `seconds`.
async fn slow_sink(registry: &Registry, seconds: f64) -> Result<(u64, u64, Value)> {
    let src = source(registry, "datagen", datagen_orders(0, false))?;
    let throttled = Throttled {
        events_per_second: 2_000,
        count: Default::default(),
    };
    let count = Arc::clone(&throttled.count);
    let settings = PipelineSettings::default().with_check_before_start(false);
    let bound = (settings.max_in_flight_batches * settings.batch_size) as u64;
    let sink: Arc<dyn AnySink> = Arc::new(rivven_connect::runtime::SinkAdapter::new(
        throttled,
        NoConfig {},
    ));
    let runtime = Runtime::builder()
        .offset_store(MemoryOffsetStore::new())
        .pipeline(
            Pipeline::builder("w3")
                .any_source("source", src)
                .any_sink("sink", sink)
                .settings(settings),
        )
        .start()
        .await?;
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let status = runtime.shutdown(Duration::from_secs(30)).await;
    let p = status
        .pipeline("w3")
        .cloned()
        .ok_or_else(|| ConnectorError::fatal("no status"))?;
    Ok((
        p.events_read,
        count.load(Ordering::Relaxed),
        json!({"max_buffered_events": p.max_in_flight_events, "buffer_bound": bound}),
    ))
}
