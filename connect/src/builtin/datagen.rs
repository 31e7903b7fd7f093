//! `datagen`: synthetic data with no external dependency, for tests and demos.
//!
//! Option names and defaults follow the original rivven-connect's source-connector
//! reference: `pattern` is required, `events_per_second` defaults to 1 and
//! `stream_name` to `datagen`; the pattern list is the union of the patterns its
//! documents name (`sequence`, `random`, `users`, `orders`, `events`, `metrics`,
//! `key_value`, `pageviews`).
//!
//! Resuming: every event reports `sequence` (events produced so far) in its stream state;
//! after a restart generation continues after the last committed event. With a `seed`
//! the rows — all fields except wall-clock timestamps — are identical across runs and
//! restarts; without one a random seed is chosen and stored in the state.
//!
//! CDC mode: 60 % inserts, 30 % updates (with `before`/`after`), 10 % deletes, always of
//! rows that exist at that point. Live keys are capped at [`MAX_LIVE_KEYS`]; at the cap
//! inserts become deletes so memory stays bounded on unlimited runs.

mod patterns;

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use validator::Validate;

pub use patterns::DataPattern;
use patterns::Rng;

use crate::catalog::{Catalog, ConfiguredCatalog, Stream};
use crate::check::CheckResult;
use crate::connector::Source;
use crate::error::Result;
use crate::event::SourceEvent;
use crate::spec::ConnectorSpec;
use crate::state::State;
use crate::util::rate_limit::{RateLimiter, RateLimiterConfig};
use crate::SourceConfig;

/// Upper bound on rows alive at once in CDC mode.
pub const MAX_LIVE_KEYS: usize = 65_536;

/// Configuration of the `datagen` source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "datagen",
    version = env!("CARGO_PKG_VERSION"),
    description = "Synthetic data generator for testing and demos (no external dependencies)",
    incremental,
    category = "utility",
    tags = ["synthetic", "test", "demo", "cdc"],
    connector = DatagenSource
)]
#[serde(deny_unknown_fields)]
pub struct DatagenConfig {
    /// Data pattern: the kind of rows generated.
    #[schemars(example = DataPattern::Orders)]
    pub pattern: DataPattern,
    /// Events per second (0 = as fast as the pipeline takes them).
    #[serde(default = "default_events_per_second")]
    pub events_per_second: u32,
    /// Stop after this many events (0 = unlimited).
    #[serde(default)]
    pub max_events: u64,
    /// Stream name in events.
    #[serde(default = "default_stream_name")]
    #[validate(length(min = 1, max = 255))]
    pub stream_name: String,
    /// Namespace of the events (none when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Add a `sequence` field (0, 1, 2, …) to every row.
    #[serde(default)]
    pub include_sequence: bool,
    /// Add a `timestamp` field (RFC 3339, generation time) to every row.
    #[serde(default)]
    pub include_timestamp: bool,
    /// Fields added to every row.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, Value>,
    /// Seed for reproducible data (random when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Generate INSERT/UPDATE/DELETE cycles instead of plain records.
    #[serde(default)]
    pub cdc_mode: bool,
}

fn default_events_per_second() -> u32 {
    1
}

fn default_stream_name() -> String {
    "datagen".to_string()
}

impl DatagenConfig {
    /// A config for `pattern` with every other option at its default.
    pub fn new(pattern: DataPattern) -> Self {
        Self {
            pattern,
            events_per_second: default_events_per_second(),
            max_events: 0,
            stream_name: default_stream_name(),
            namespace: None,
            include_sequence: false,
            include_timestamp: false,
            custom_fields: BTreeMap::new(),
            seed: None,
            cdc_mode: false,
        }
    }
}

/// The synthetic data source.
#[derive(Debug, Default, Clone, Copy)]
pub struct DatagenSource;

impl DatagenSource {
    /// A datagen source.
    pub fn new() -> Self {
        Self
    }
}

/// Where generation stands: what resuming needs.
#[derive(Debug, Default)]
struct Generator {
    seed: u64,
    sequence: u64,
    /// Next row id to insert (CDC mode; plain records use the sequence).
    next_id: u64,
    /// `(id, version)` of rows alive in CDC mode.
    live: Vec<(u64, u64)>,
}

enum Op {
    Insert(u64),
    Update(u64, u64),
    Delete(u64, u64),
}

impl Generator {
    /// The next CDC operation; depends only on `(seed, sequence)` and the live set, so a
    /// restart can replay decisions without building rows.
    fn next_op(&mut self) -> Op {
        let mut rng = Rng::for_item(self.seed, 0, self.sequence);
        let roll = rng.below(100);
        let op = if self.live.is_empty() || (roll < 60 && self.live.len() < MAX_LIVE_KEYS) {
            let id = self.next_id;
            self.next_id += 1;
            self.live.push((id, 0));
            Op::Insert(id)
        } else {
            let len = self.live.len() as u64;
            let idx = usize::try_from(rng.below(len)).unwrap_or(0);
            if (60..90).contains(&roll) {
                let (id, version) = self.live[idx];
                self.live[idx].1 = version + 1;
                Op::Update(id, version)
            } else {
                let (id, version) = self.live.swap_remove(idx);
                Op::Delete(id, version)
            }
        };
        self.sequence += 1;
        op
    }

    fn resume(seed: u64, sequence: u64, cdc: bool) -> Self {
        let mut g = Generator {
            seed,
            ..Default::default()
        };
        if cdc {
            while g.sequence < sequence {
                g.next_op();
            }
        } else {
            g.sequence = sequence;
        }
        g
    }
}

fn decorate(config: &DatagenConfig, mut row: Value, sequence: u64) -> Value {
    if let Some(map) = row.as_object_mut() {
        if config.include_sequence {
            map.insert("sequence".into(), json!(sequence));
        }
        if config.include_timestamp {
            map.insert("timestamp".into(), json!(chrono::Utc::now().to_rfc3339()));
        }
        for (k, v) in &config.custom_fields {
            map.insert(k.clone(), v.clone());
        }
    }
    row
}

fn make_event(config: &DatagenConfig, g: &mut Generator) -> SourceEvent {
    let sequence = g.sequence;
    let seed = g.seed;
    let pattern = config.pattern;
    // One clock read per event: for the row's timestamps and the event's.
    let now = chrono::Utc::now();
    let row =
        |id: u64, version: u64| decorate(config, pattern.row_at(seed, id, version, now), sequence);
    let (event, id) = if config.cdc_mode {
        match g.next_op() {
            Op::Insert(id) => (SourceEvent::cdc_insert(&config.stream_name, row(id, 0)), id),
            Op::Update(id, v) => (
                SourceEvent::cdc_update(&config.stream_name, row(id, v), row(id, v + 1)),
                id,
            ),
            Op::Delete(id, v) => (SourceEvent::cdc_delete(&config.stream_name, row(id, v)), id),
        }
    } else {
        g.sequence += 1;
        (
            SourceEvent::record_at(&config.stream_name, row(sequence, 0), now),
            sequence,
        )
    };
    let mut event = event
        .with_key(pattern.key(id))
        .with_position(sequence)
        .with_state("sequence", json!(g.sequence));
    if let Some(ns) = &config.namespace {
        event = event.with_namespace(ns.clone());
    }
    event
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    Rng::for_item(nanos, u64::from(std::process::id()), 1).next_u64()
}

#[async_trait]
impl Source for DatagenSource {
    type Config = DatagenConfig;

    fn spec() -> ConnectorSpec {
        DatagenConfigSpec::spec()
    }

    async fn check(&self, config: &DatagenConfig) -> Result<CheckResult> {
        CheckResult::builder()
            .check_if("config", || config.validate().map_err(|e| e.to_string()))
            .build()
    }

    async fn discover(&self, config: &DatagenConfig) -> Result<Catalog> {
        let mut stream = Stream::new(&config.stream_name, config.pattern.json_schema())
            .with_primary_key([config.pattern.id_field()]);
        if let Some(ns) = &config.namespace {
            stream = stream.with_namespace(ns.clone());
        }
        Ok(Catalog::new(vec![stream]))
    }

    async fn read(
        &self,
        config: &DatagenConfig,
        _catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let saved = state
            .as_ref()
            .and_then(|s| s.get_stream(&config.stream_name))
            .map(|s| &s.data);
        let sequence = saved
            .and_then(|d| d.get("sequence"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let saved_seed = saved.and_then(|d| d.get("seed")).and_then(Value::as_u64);
        let seed = config.seed.or(saved_seed).unwrap_or_else(random_seed);
        let mut generator = Generator::resume(seed, sequence, config.cdc_mode);
        if sequence > 0 {
            tracing::info!(stream = %config.stream_name, sequence, "datagen resuming");
        }
        let config = config.clone();
        let limiter = (config.events_per_second > 0)
            .then(|| RateLimiter::new(RateLimiterConfig::per_second(config.events_per_second)));
        let stream = async_stream::stream! {
            let mut first = true;
            while config.max_events == 0 || generator.sequence < config.max_events {
                if let Some(limiter) = &limiter {
                    limiter.acquire().await;
                }
                let mut event = make_event(&config, &mut generator);
                if first {
                    event = event.with_state("seed", json!(seed));
                    first = false;
                }
                yield Ok(event);
            }
        };
        Ok(stream.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;
    use std::collections::HashMap;

    async fn collect(config: &DatagenConfig, state: Option<State>) -> Vec<SourceEvent> {
        let stream = DatagenSource
            .read(config, &ConfiguredCatalog::default(), state)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        stream
            .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
            .collect()
            .await
    }

    fn config(json: Value) -> DatagenConfig {
        DatagenConfig::from_value(json).unwrap_or_else(|e| panic!("{e}"))
    }

    fn is_cdc(event: &SourceEvent) -> bool {
        matches!(
            event.event_type,
            EventType::Insert | EventType::Update | EventType::Delete
        )
    }

    /// The event's data without wall-clock fields.
    fn strip_time(e: &SourceEvent) -> Value {
        fn strip(v: &mut Value) {
            if let Some(m) = v.as_object_mut() {
                for k in ["created_at", "timestamp", "ts_ms"] {
                    m.remove(k);
                }
            }
        }
        let mut data = e.data.clone();
        strip(&mut data);
        for k in ["before", "after"] {
            if let Some(row) = data.get_mut(k) {
                strip(row);
            }
        }
        data
    }

    #[tokio::test]
    async fn bounded_and_reproducible() {
        let c = config(
            json!({"pattern": "orders", "events_per_second": 0, "max_events": 50, "seed": 9,
                              "include_sequence": true, "custom_fields": {"env": "test"}}),
        );
        let a = collect(&c, None).await;
        let b = collect(&c, None).await;
        assert_eq!(a.len(), 50);
        assert_eq!(
            a.iter().map(|e| e.data.clone()).collect::<Vec<_>>(),
            b.iter().map(|e| e.data.clone()).collect::<Vec<_>>()
        );
        assert_eq!(a[3].data["sequence"], json!(3));
        assert_eq!(a[3].data["env"], json!("test"));
        assert_eq!(a[3].key, Some(json!({"order_id": 3})));
        assert_eq!(a[0].stream, "datagen");
    }

    #[tokio::test]
    async fn resumes_after_committed_sequence_with_identical_rows() {
        for cdc in [false, true] {
            let c = config(
                json!({"pattern": "users", "events_per_second": 0, "max_events": 40, "cdc_mode": cdc}),
            );
            let all = collect(&c, None).await;
            let mut state = State::new();
            for e in &all[..25] {
                if let Some(update) = &e.metadata.state {
                    state.apply_stream_update("datagen", update);
                }
            }
            let rest = collect(&c, Some(state)).await;
            assert_eq!(rest.len(), 15, "cdc={cdc}");
            let tail: Vec<Value> = all[25..].iter().map(strip_time).collect();
            let resumed: Vec<Value> = rest.iter().map(strip_time).collect();
            assert_eq!(
                tail, resumed,
                "cdc={cdc}: a restart continues the same sequence (random seed stored in state)"
            );
        }
    }

    #[tokio::test]
    async fn cdc_mode_only_touches_live_rows() {
        let c = config(
            json!({"pattern": "orders", "events_per_second": 0, "max_events": 5000, "seed": 3, "cdc_mode": true}),
        );
        let events = collect(&c, None).await;
        let mut live: HashMap<u64, Value> = HashMap::new();
        let mut counts = [0usize; 3];
        for e in &events {
            assert!(is_cdc(e));
            let id = e
                .key
                .as_ref()
                .and_then(|k| k["order_id"].as_u64())
                .unwrap_or(u64::MAX);
            match e.event_type {
                EventType::Insert => {
                    counts[0] += 1;
                    assert!(
                        live.insert(id, e.data["after"].clone()).is_none(),
                        "insert of live id {id}"
                    );
                }
                EventType::Update => {
                    counts[1] += 1;
                    assert_eq!(
                        live.get(&id),
                        Some(&e.data["before"]),
                        "update's before is the current row"
                    );
                    live.insert(id, e.data["after"].clone());
                }
                _ => {
                    counts[2] += 1;
                    assert_eq!(
                        live.remove(&id).as_ref(),
                        Some(&e.data["before"]),
                        "delete of a live row"
                    );
                }
            }
        }
        let pct = |n: usize| n * 100 / events.len();
        assert!((55..=65).contains(&pct(counts[0])), "{counts:?}");
        assert!((25..=35).contains(&pct(counts[1])), "{counts:?}");
        assert!((7..=13).contains(&pct(counts[2])), "{counts:?}");
    }

    #[tokio::test]
    async fn rate_limited_generation_loses_nothing() {
        let c = config(json!({"pattern": "sequence", "events_per_second": 500, "max_events": 30}));
        let values: Vec<Value> = collect(&c, None)
            .await
            .into_iter()
            .map(|e| e.data["value"].clone())
            .collect();
        assert_eq!(values, (0..30).map(|i| json!(i)).collect::<Vec<_>>());
    }

    #[test]
    fn bad_config_names_the_field() {
        let err = DatagenConfig::from_value(json!({"pattern": "nope"}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown variant `nope`"), "{err}");
        let err = DatagenConfig::from_value(json!({"pattern": "users", "strem_name": "x"}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("strem_name"), "{err}");
        let err = DatagenConfig::from_value(json!({"pattern": "users", "stream_name": ""}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("stream_name"), "{err}");
    }
}
