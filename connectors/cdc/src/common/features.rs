//! Features every CDC source shares: event deduplication, tombstones after deletes
//! and per-table column filters.
//!
//! ```yaml
//! config:
//!   cdc_features:
//!     deduplication:
//!       enabled: true
//!       ttl_seconds: 3600        # how long a seen event is remembered
//!       max_entries: 100000      # memory bound (least recently seen evicted first)
//!     tombstones:
//!       enabled: true
//!       emit_tombstone_after_delete: true
//!   column_filters:
//!     public.users: { exclude: [password_hash] }   # `schema.table` ...
//!     orders: { include: [id, status, total] }     # ... or a bare table name
//! ```
//!
//! A [`Deduplicator`] remembers what a source *read*, not what a sink wrote:
//! a source must start a new one whenever it re-reads from a committed
//! position (a restart), or it would drop the changes that were read but not
//! written before the failure.
//!
//! The seed's `cdc_features.encryption` (field-level AES-256-GCM) is **not
//! supported**: it is left out of the schema, so a config that sets it is rejected
//! as an unknown key rather than silently streaming the fields in clear text.
//!
//! ```
//! use std::time::Instant;
//! use rivven_connect_cdc::common::features::{fingerprint, CdcFeaturesConfig, Deduplicator};
//! use serde_json::json;
//!
//! let config: CdcFeaturesConfig = serde_json::from_value(json!({
//!     "deduplication": { "enabled": true, "max_entries": 1000 }
//! }))
//! .unwrap();
//! let mut dedup = config.deduplication.deduplicator().unwrap();
//! let fp = fingerprint("public.users", &json!({"id": 1}), &json!({"lsn": "0/16B3748"}), "c");
//! let now = Instant::now();
//! assert!(!dedup.check_and_insert(fp, now)); // first sighting
//! assert!(dedup.check_and_insert(fp, now)); // a replay: drop it
//! assert!(!config.tombstones.wants_tombstone()); // tombstones are off by default
//! ```

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use rivven_connect::ConnectorError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError};

/// Default `deduplication.ttl_seconds`.
pub const DEFAULT_DEDUP_TTL_SECONDS: u64 = 3600;
/// Default `deduplication.max_entries`.
pub const DEFAULT_DEDUP_MAX_ENTRIES: usize = 100_000;

/// The `cdc_features` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CdcFeaturesConfig {
    /// Tombstones (null-value records) after deletes, for compacted topics.
    #[serde(default)]
    #[validate(nested)]
    pub tombstones: TombstoneConfig,
    /// Dropping events already seen (replays after retries or restarts).
    #[serde(default)]
    #[validate(nested)]
    pub deduplication: DeduplicationConfig,
}

/// The `cdc_features.tombstones` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct TombstoneConfig {
    /// Turn tombstone handling on.
    #[serde(default)]
    pub enabled: bool,
    /// Emit a tombstone (same key, null value) right after each delete event.
    #[serde(default = "default_true")]
    pub emit_tombstone_after_delete: bool,
}

fn default_true() -> bool {
    true
}

impl Default for TombstoneConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            emit_tombstone_after_delete: default_true(),
        }
    }
}

impl TombstoneConfig {
    /// Whether a tombstone follows each delete (`enabled && emit_tombstone_after_delete`).
    pub fn wants_tombstone(&self) -> bool {
        self.enabled && self.emit_tombstone_after_delete
    }
}

/// The `cdc_features.deduplication` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct DeduplicationConfig {
    /// Turn deduplication on.
    #[serde(default)]
    pub enabled: bool,
    /// Seconds an event is remembered after it was last seen.
    #[serde(default = "default_ttl_seconds")]
    #[validate(range(min = 1))]
    pub ttl_seconds: u64,
    /// Most events remembered at once; the least recently seen is forgotten first.
    #[serde(default = "default_max_entries")]
    #[validate(range(min = 1, max = 10_000_000))]
    pub max_entries: usize,
}

fn default_ttl_seconds() -> u64 {
    DEFAULT_DEDUP_TTL_SECONDS
}

fn default_max_entries() -> usize {
    DEFAULT_DEDUP_MAX_ENTRIES
}

impl Default for DeduplicationConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            ttl_seconds: default_ttl_seconds(),
            max_entries: default_max_entries(),
        }
    }
}

impl DeduplicationConfig {
    /// A [`Deduplicator`] when deduplication is enabled, `None` otherwise.
    pub fn deduplicator(&self) -> Option<Deduplicator> {
        self.enabled.then(|| Deduplicator::new(self))
    }
}

/// The stable hash [`Deduplicator`] remembers for an event: of its stream, key,
/// source position and operation (`c`, `u`, `d`, `r`).
///
/// JSON objects hash the same whatever their key order. Fingerprints come from
/// [`DefaultHasher`], whose algorithm may change between Rust releases: they are
/// stable within a process, so never persist them or compare them across builds.
pub fn fingerprint(stream: &str, key: &Value, position: &Value, op: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    stream.hash(&mut hasher);
    op.hash(&mut hasher);
    hash_value(key, &mut hasher);
    hash_value(position, &mut hasher);
    hasher.finish()
}

fn hash_value(value: &Value, hasher: &mut DefaultHasher) {
    match value {
        Value::Null => hasher.write_u8(0),
        Value::Bool(b) => {
            hasher.write_u8(1);
            b.hash(hasher);
        }
        Value::Number(n) => {
            hasher.write_u8(2);
            if let Some(u) = n.as_u64() {
                hasher.write_u8(0);
                hasher.write_u64(u);
            } else if let Some(i) = n.as_i64() {
                hasher.write_u8(1);
                hasher.write_i64(i);
            } else {
                hasher.write_u8(2);
                hasher.write_u64(n.as_f64().unwrap_or(f64::NAN).to_bits());
            }
        }
        Value::String(s) => {
            hasher.write_u8(3);
            s.hash(hasher);
        }
        Value::Array(items) => {
            hasher.write_u8(4);
            hasher.write_usize(items.len());
            for item in items {
                hash_value(item, hasher);
            }
        }
        Value::Object(map) => {
            // Order-independent: a sum of per-entry hashes.
            hasher.write_u8(5);
            hasher.write_usize(map.len());
            let mut sum = 0u64;
            for (k, v) in map {
                let mut entry = DefaultHasher::new();
                k.hash(&mut entry);
                hash_value(v, &mut entry);
                sum = sum.wrapping_add(entry.finish());
            }
            hasher.write_u64(sum);
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    last_seen: Instant,
    generation: u64,
}

/// Remembers event [`fingerprint`]s for a while, in bounded memory.
///
/// At most `max_entries` fingerprints are remembered; when a new one would exceed
/// that, the least recently seen is forgotten. A fingerprint is forgotten
/// `ttl_seconds` after it was last seen (seeing a duplicate refreshes it). Each
/// call is O(1) amortized: a map holds every fingerprint's last sighting and a
/// queue holds sightings in order; queue slots outdated by a later sighting are
/// skipped when reached and compacted away once the queue holds twice
/// `max_entries`.
#[derive(Debug)]
pub struct Deduplicator {
    ttl: Duration,
    max_entries: usize,
    seen: HashMap<u64, Seen>,
    order: VecDeque<(u64, u64)>,
    generation: u64,
}

impl Deduplicator {
    /// A deduplicator with `config`'s TTL and size bound (whether `enabled` or not;
    /// see [`DeduplicationConfig::deduplicator`]).
    pub fn new(config: &DeduplicationConfig) -> Self {
        Self::with_limits(Duration::from_secs(config.ttl_seconds), config.max_entries)
    }

    /// A deduplicator remembering at most `max_entries` (at least 1) fingerprints for `ttl`.
    pub fn with_limits(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries: max_entries.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
            generation: 0,
        }
    }

    /// Records a sighting of `fingerprint` at `now`; `true` when it was already seen
    /// within the TTL (a duplicate, to be dropped).
    pub fn check_and_insert(&mut self, fingerprint: u64, now: Instant) -> bool {
        self.purge_expired(now);
        self.generation += 1;
        let generation = self.generation;
        let duplicate = match self.seen.get_mut(&fingerprint) {
            Some(seen) => {
                let fresh = now.saturating_duration_since(seen.last_seen) < self.ttl;
                seen.last_seen = seen.last_seen.max(now);
                seen.generation = generation;
                fresh
            }
            None => {
                self.seen.insert(
                    fingerprint,
                    Seen {
                        last_seen: now,
                        generation,
                    },
                );
                false
            }
        };
        self.order.push_back((fingerprint, generation));
        self.evict_over_capacity();
        if self.order.len() > self.max_entries.saturating_mul(2) {
            let seen = &self.seen;
            self.order
                .retain(|(fp, generation)| is_current(seen, *fp, *generation));
        }
        duplicate
    }

    /// Forgets the fingerprints last seen a TTL or more before `now`.
    pub fn purge_expired(&mut self, now: Instant) {
        while let Some(&(fp, generation)) = self.order.front() {
            match self.seen.get(&fp) {
                Some(seen) if seen.generation == generation => {
                    if now.saturating_duration_since(seen.last_seen) < self.ttl {
                        break;
                    }
                    self.seen.remove(&fp);
                }
                _ => {} // outdated slot: a later sighting has its own
            }
            self.order.pop_front();
        }
    }

    fn evict_over_capacity(&mut self) {
        while self.seen.len() > self.max_entries {
            let Some((fp, generation)) = self.order.pop_front() else {
                break;
            };
            if is_current(&self.seen, fp, generation) {
                self.seen.remove(&fp);
            }
        }
    }

    /// Fingerprints remembered (some may have expired since the last call).
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.seen.clear();
        self.order.clear();
    }
}

fn is_current(seen: &HashMap<u64, Seen>, fp: u64, generation: u64) -> bool {
    seen.get(&fp).is_some_and(|s| s.generation == generation)
}

/// The `column_filters` block: a [`ColumnFilter`] per `schema.table` or bare table
/// name. Check it with [`validate_column_filters`]; look filters up with [`filter_for`].
pub type ColumnFilterConfig = BTreeMap<String, ColumnFilter>;

/// Which columns of a table's rows are kept: only `include`d ones, or all but the
/// `exclude`d ones (set one of the two).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "include_or_exclude"))]
pub struct ColumnFilter {
    /// Keep only these columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Drop these columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

const BOTH_SET: &str = "set `include` or `exclude`, not both";

fn both_set_message(table: &str) -> String {
    format!("column_filters.{table}: {BOTH_SET}")
}

fn include_or_exclude(filter: &ColumnFilter) -> Result<(), ValidationError> {
    if filter.sets_both() {
        return Err(ValidationError::new("column_filter").with_message(BOTH_SET.into()));
    }
    Ok(())
}

impl ColumnFilter {
    /// Keeps only `columns`.
    pub fn including<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Self {
            include: columns.into_iter().map(Into::into).collect(),
            exclude: Vec::new(),
        }
    }

    /// Drops `columns`.
    pub fn excluding<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Self {
            include: Vec::new(),
            exclude: columns.into_iter().map(Into::into).collect(),
        }
    }

    fn sets_both(&self) -> bool {
        !self.include.is_empty() && !self.exclude.is_empty()
    }

    /// Fails, naming `table` (the filter's key), when both `include` and `exclude` are set.
    pub fn check(&self, table: &str) -> rivven_connect::Result<()> {
        if self.sets_both() {
            return Err(ConnectorError::config(both_set_message(table)));
        }
        Ok(())
    }

    /// Whether `column` is kept.
    pub fn keeps(&self, column: &str) -> bool {
        if !self.include.is_empty() {
            self.include.iter().any(|c| c == column)
        } else {
            !self.exclude.iter().any(|c| c == column)
        }
    }

    /// Removes the columns this filter drops from `row` (apply it to both images of
    /// an update).
    pub fn apply(&self, row: &mut Map<String, Value>) {
        if self.include.is_empty() && self.exclude.is_empty() {
            return;
        }
        row.retain(|column, _| self.keeps(column));
    }
}

/// Validates every filter of `filters`, naming the first bad one's table key; usable
/// as `#[validate(custom(function = "validate_column_filters"))]`.
pub fn validate_column_filters(filters: &ColumnFilterConfig) -> Result<(), ValidationError> {
    for (table, filter) in filters {
        if filter.sets_both() {
            let message = both_set_message(table);
            return Err(ValidationError::new("column_filters").with_message(message.into()));
        }
    }
    Ok(())
}

/// The filter for `schema`.`table`: the `"schema.table"` entry, else the bare `"table"` one.
pub fn filter_for<'a>(
    filters: &'a ColumnFilterConfig,
    schema: &str,
    table: &str,
) -> Option<&'a ColumnFilter> {
    if filters.is_empty() {
        return None;
    }
    filters
        .get(&format!("{schema}.{table}"))
        .or_else(|| filters.get(table))
}

#[cfg(test)]
mod tests;
