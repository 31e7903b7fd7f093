//! The `object-storage` sink (aliases `s3`, `gcs`, `azure-blob`): gathers
//! events into objects of exactly `batch_size` events (or `max_file_bytes`,
//! or what `flush_interval_secs` gathered), one format and compression,
//! under `prefix` and an optional Hive-style time partition.
//!
//! Delivery: events are held across writes — never one object per runtime
//! batch — and reported *pending* ([`WriteResult::pending`]) until the object
//! holding them is stored, so the runtime acknowledges them (and commits
//! their offsets) only then; a crash before replays them into a new object.
//! Objects appear whole: one PUT, or a multipart upload (big objects) that is
//! completed only when every part is in, aborted on failure.
//!
//! Object names: `{prefix}/{partition}/{file_prefix}-{start}-{writer}-{seq}.{ext}`
//! — `start` the UTC time the writer started (`20260101T101500123Z`),
//! `writer` 12 random hex digits, `seq` a 10-digit sequence of that writer:
//! names sort by time and never collide, across restarts and between two
//! writers, so a replay never overwrites an object.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use rivven_connect::format::FormatWriter;
use rivven_connect::prelude::*;
use rivven_connect::{BatchConfig, BatchSink, ConnectorError, Result, WriteResult};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

use super::config::{
    bucket_name, provider_built, AzureOptions, GcsOptions, LocalOptions, PartitionTime,
    Partitioning, Provider, S3Options,
};
use super::store::{self, store_error, Location};
use crate::avro::AvroOptions;
use crate::compression::Compression;
use crate::csv::CsvOptions;
use crate::format::{self, format_built, Format, FormatOptions};
use crate::parquet::ParquetOptions;

const DEFAULT_BATCH_SIZE: usize = 1000;
const DEFAULT_FLUSH_INTERVAL_SECS: u64 = 60;
const DEFAULT_MAX_FILE_BYTES: u64 = 128 << 20;
const DEFAULT_MULTIPART_THRESHOLD: u64 = 16 << 20;
const DEFAULT_PART_SIZE: u64 = 8 << 20;
/// S3's smallest part (but the last).
const MIN_PART_SIZE: u64 = 5 << 20;
/// Parts of one object uploaded at once.
const PART_CONCURRENCY: usize = 4;

/// Configuration of the `object-storage` sink.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(
    name = "object-storage",
    version = env!("CARGO_PKG_VERSION"),
    description = "Writes events as objects (json, jsonl, csv, optionally compressed; parquet and avro with their features) to S3, GCS, Azure Blob or a local directory, in objects of exactly batch_size events, acknowledged once stored",
    category = "storage",
    tags = ["s3", "gcs", "azure", "object-storage", "data-lake", "jsonl", "csv"],
    batching,
    aliases = ["s3", "gcs", "azure-blob"],
    connector = ObjectStorageSink
)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "consistent"))]
pub struct ObjectStorageSinkConfig {
    /// Storage provider: `s3`, `gcs`, `azure` or `local`. Unset, the one
    /// whose settings block is given (`gcs:`, `azure:`, `local:`), else `s3` —
    /// so the legacy `gcs` and `azure-blob` connector names work with just
    /// their block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "provider_built"))]
    pub provider: Option<Provider>,
    /// Bucket (S3, GCS), container (Azure) or directory under `local.root`.
    #[validate(custom(function = "bucket_name"))]
    #[schemars(example = &"my-data-lake")]
    pub bucket: String,
    /// Key prefix of every object (`events` or `events/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Output format: `json` (default, one array per object), `jsonl`,
    /// `csv`; `parquet` and `avro` with their features.
    #[serde(default)]
    #[validate(custom(function = "format_built"))]
    pub format: Format,
    /// Compression of text formats: `none` (default), `gzip` (`.gz`),
    /// `zstd` (`.zst`), `snappy` (`.snappy`), `lz4` (`.lz4`).
    #[serde(default)]
    pub compression: Compression,
    /// Time partitions of object names: `none` (default), `day`
    /// (`year=/month=/day=/`) or `hour` (`…/hour=/`).
    #[serde(default)]
    pub partitioning: Partitioning,
    /// The time that partitions: `event` (the event's timestamp, default) or
    /// `processing` (when the sink received it).
    #[serde(default)]
    pub partition_time: PartitionTime,
    /// Events per object: an object is written when it has this many events
    /// (or `max_file_bytes`, or `flush_interval_secs` passed, or at shutdown).
    #[serde(default = "default_batch_size")]
    #[validate(range(min = 1, max = 10000000))]
    pub batch_size: usize,
    /// Longest time an event waits in an unfinished object, in seconds.
    #[serde(default = "default_flush_interval")]
    #[validate(range(min = 1, max = 86400))]
    pub flush_interval_secs: u64,
    /// An object is finished once it reaches this size in bytes (before
    /// compression); the whole object is held in memory until stored.
    #[serde(default = "default_max_file_bytes")]
    #[validate(range(min = 1))]
    pub max_file_bytes: u64,
    /// First part of each object's file name.
    #[serde(default = "default_file_prefix")]
    #[validate(length(min = 1, max = 100))]
    pub file_prefix: String,
    /// Objects bigger than this (bytes) go up as a multipart upload.
    #[serde(default = "default_multipart_threshold")]
    #[validate(range(min = 5242880))]
    pub multipart_threshold_bytes: u64,
    /// Part size of multipart uploads in bytes (at least 5 MiB).
    #[serde(default = "default_part_size")]
    #[validate(range(min = 5242880, max = 5368709120u64))]
    pub part_size_bytes: u64,
    /// Timeout of one request to a cloud provider, in seconds.
    #[serde(default = "default_request_timeout")]
    #[validate(range(min = 1, max = 3600))]
    pub request_timeout_secs: u64,
    /// S3 settings (`provider: s3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub s3: Option<S3Options>,
    /// Google Cloud Storage settings (`provider: gcs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub gcs: Option<GcsOptions>,
    /// Azure Blob Storage settings (`provider: azure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub azure: Option<AzureOptions>,
    /// Local directory settings (`provider: local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub local: Option<LocalOptions>,
    /// CSV options (`format: csv`).
    #[serde(default)]
    #[validate(nested)]
    pub csv: CsvOptions,
    /// Parquet options (`format: parquet`).
    #[serde(default)]
    #[validate(nested)]
    pub parquet: ParquetOptions,
    /// Avro options (`format: avro`).
    #[serde(default)]
    #[validate(nested)]
    pub avro: AvroOptions,
}

fn default_batch_size() -> usize {
    DEFAULT_BATCH_SIZE
}
fn default_flush_interval() -> u64 {
    DEFAULT_FLUSH_INTERVAL_SECS
}
fn default_max_file_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}
fn default_file_prefix() -> String {
    "part".into()
}
fn default_multipart_threshold() -> u64 {
    DEFAULT_MULTIPART_THRESHOLD
}
fn default_part_size() -> u64 {
    DEFAULT_PART_SIZE
}
fn default_request_timeout() -> u64 {
    60
}

fn consistent(config: &ObjectStorageSinkConfig) -> std::result::Result<(), ValidationError> {
    let error =
        |message: String| Err(ValidationError::new("consistent").with_message(message.into()));
    if let Err(e) = format::check_compression(config.format, config.compression) {
        return error(e.message().to_string());
    }
    if config.provider() == Provider::Local && config.local.is_none() {
        return error("local: `provider: local` needs `local: {root: <directory>}`".into());
    }
    if config.file_prefix.contains('/') {
        return error("file_prefix: must not contain `/`".into());
    }
    Ok(())
}

impl ObjectStorageSinkConfig {
    /// A config writing to `bucket` under `root` on the local provider.
    pub fn local(root: impl Into<std::path::PathBuf>, bucket: impl Into<String>) -> Self {
        Self {
            provider: Some(Provider::Local),
            bucket: bucket.into(),
            prefix: None,
            format: Format::default(),
            compression: Compression::None,
            partitioning: Partitioning::None,
            partition_time: PartitionTime::Event,
            batch_size: DEFAULT_BATCH_SIZE,
            flush_interval_secs: DEFAULT_FLUSH_INTERVAL_SECS,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            file_prefix: default_file_prefix(),
            multipart_threshold_bytes: DEFAULT_MULTIPART_THRESHOLD,
            part_size_bytes: DEFAULT_PART_SIZE,
            request_timeout_secs: default_request_timeout(),
            s3: None,
            gcs: None,
            azure: None,
            local: Some(LocalOptions { root: root.into() }),
            csv: CsvOptions::default(),
            parquet: ParquetOptions::default(),
            avro: AvroOptions::default(),
        }
    }

    /// The provider: `provider`, else the one whose block is given, else S3.
    pub fn provider(&self) -> Provider {
        super::config::infer_provider(
            self.provider,
            self.gcs.is_some(),
            self.azure.is_some(),
            self.local.is_some(),
        )
    }

    pub(crate) fn location(&self) -> Location<'_> {
        Location {
            provider: self.provider(),
            bucket: &self.bucket,
            s3: self.s3.as_ref(),
            gcs: self.gcs.as_ref(),
            azure: self.azure.as_ref(),
            local: self.local.as_ref(),
            request_timeout_secs: self.request_timeout_secs,
        }
    }

    /// The prefix without surrounding slashes (empty for none).
    pub fn clean_prefix(&self) -> String {
        self.prefix
            .as_deref()
            .unwrap_or("")
            .trim_matches('/')
            .to_string()
    }

    /// The extension of its objects (`jsonl.gz`).
    pub fn extension(&self) -> String {
        match self.compression.extension() {
            Some(c) if self.format.is_text() => format!("{}.{c}", self.format.name()),
            _ => self.format.name().to_string(),
        }
    }

    fn partition_of(&self, event: &SourceEvent) -> String {
        let t = match self.partition_time {
            PartitionTime::Event => event.timestamp,
            PartitionTime::Processing => chrono::Utc::now(),
        };
        match self.partitioning {
            Partitioning::None => String::new(),
            Partitioning::Day => t.format("year=%Y/month=%m/day=%d").to_string(),
            Partitioning::Hour => t.format("year=%Y/month=%m/day=%d/hour=%H").to_string(),
        }
    }
}

/// An object being filled.
#[derive(Debug)]
struct Open {
    writer: Box<dyn FormatWriter>,
    /// Position (among every event handed to the sink) of its first event.
    first: Option<u64>,
}

/// A finished object waiting to be stored.
#[derive(Debug)]
struct Sealed {
    path: Path,
    body: Bytes,
    records: u64,
    first: u64,
}

/// What the sink holds between writes.
#[derive(Debug)]
struct Writer {
    store: Arc<dyn ObjectStore>,
    /// `{start}-{writer id}` of this writer's object names.
    id: String,
    seq: u64,
    /// Events handed to the sink so far (positions).
    handed: u64,
    open: BTreeMap<String, Open>,
    sealed: VecDeque<Sealed>,
}

impl Writer {
    fn new(config: &ObjectStorageSinkConfig) -> Result<Self> {
        let store = store::build(&config.location())?;
        let start = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ");
        let random = uuid::Uuid::new_v4().simple().to_string();
        Ok(Self {
            store,
            id: format!("{start}-{}", &random[..12]),
            seq: 0,
            handed: 0,
            open: BTreeMap::new(),
            sealed: VecDeque::new(),
        })
    }

    /// Events handed over but not stored yet, counted back from the newest.
    fn pending(&self) -> u64 {
        let oldest = self
            .open
            .values()
            .filter_map(|o| o.first)
            .chain(self.sealed.iter().map(|s| s.first))
            .min();
        oldest.map_or(0, |first| self.handed - first)
    }

    fn seal(&mut self, config: &ObjectStorageSinkConfig, partition: &str) -> Result<()> {
        let Some(open) = self.open.get_mut(partition) else {
            return Ok(());
        };
        let Some(first) = open.first.take() else {
            return Ok(());
        };
        let records = open.writer.records();
        let raw = open.writer.finish()?;
        let body = if config.format.is_text() {
            config.compression.compress(raw)?
        } else {
            raw
        };
        self.seq += 1;
        let mut key = config.clean_prefix();
        for part in [partition] {
            if !part.is_empty() {
                if !key.is_empty() {
                    key.push('/');
                }
                key.push_str(part);
            }
        }
        if !key.is_empty() {
            key.push('/');
        }
        key.push_str(&format!(
            "{}-{}-{:010}.{}",
            config.file_prefix,
            self.id,
            self.seq,
            config.extension()
        ));
        let path = Path::parse(&key).map_err(|e| {
            ConnectorError::config(format!("prefix: `{key}` is not a valid object key: {e}"))
        })?;
        self.sealed.push_back(Sealed {
            path,
            body: Bytes::from(body),
            records,
            first,
        });
        Ok(())
    }

    /// Stores the sealed objects in order; stops at the first failure (the
    /// rest stay sealed, for the next attempt).
    async fn store_sealed(
        &mut self,
        config: &ObjectStorageSinkConfig,
        result: &mut WriteResult,
    ) -> Result<()> {
        while let Some(object) = self.sealed.front() {
            put_object(
                self.store.as_ref(),
                &object.path,
                object.body.clone(),
                config,
            )
            .await?;
            tracing::debug!(object = %object.path, records = object.records, bytes = object.body.len(), "object stored");
            result.add_success(object.records, object.body.len() as u64);
            self.sealed.pop_front();
        }
        Ok(())
    }
}

/// Stores one object atomically: a single PUT up to the multipart
/// threshold, else a multipart upload completed only once every part is in
/// and aborted (best effort) on any failure, so no partial object is visible.
pub async fn put_object(
    store: &dyn ObjectStore,
    path: &Path,
    body: Bytes,
    config: &ObjectStorageSinkConfig,
) -> Result<()> {
    let what = format!("storing {path}");
    if (body.len() as u64) <= config.multipart_threshold_bytes {
        store
            .put(path, PutPayload::from_bytes(body))
            .await
            .map_err(|e| store_error(&what, e))?;
        return Ok(());
    }
    let part = usize::try_from(config.part_size_bytes.max(MIN_PART_SIZE)).unwrap_or(usize::MAX);
    let mut upload = store
        .put_multipart(path)
        .await
        .map_err(|e| store_error(&what, e))?;
    let parts: Vec<_> = (0..body.len())
        .step_by(part)
        .map(|start| {
            let chunk = body.slice(start..(start + part).min(body.len()));
            upload.put_part(PutPayload::from_bytes(chunk))
        })
        .collect();
    let uploaded: std::result::Result<Vec<()>, _> = futures::stream::iter(parts)
        .buffer_unordered(PART_CONCURRENCY)
        .try_collect()
        .await;
    let outcome = match uploaded {
        Ok(_) => upload.complete().await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        if let Err(abort) = upload.abort().await {
            tracing::warn!(object = %path, error = %abort, "aborting the failed multipart upload failed; the store's lifecycle rules clean it up");
        }
        return Err(store_error(&what, e));
    }
    Ok(())
}

/// The `object-storage` sink (see the [module docs](self)).
#[derive(Debug, Default)]
pub struct ObjectStorageSink {
    writer: tokio::sync::Mutex<Option<Writer>>,
}

impl ObjectStorageSink {
    /// A sink.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Sink for ObjectStorageSink {
    type Config = ObjectStorageSinkConfig;

    async fn check(&self, config: &ObjectStorageSinkConfig) -> Result<CheckResult> {
        let outcome = match store::build(&config.location()) {
            Ok(store) => store::probe(store.as_ref(), &config.bucket, &config.clean_prefix()).await,
            Err(e) => Err(store::one_line(e)),
        };
        CheckResult::builder()
            .check("bucket reachable", outcome)
            .build()
    }

    async fn write(
        &self,
        config: &ObjectStorageSinkConfig,
        events: BoxStream<'static, SourceEvent>,
    ) -> Result<WriteResult> {
        let events: Vec<SourceEvent> = events.collect().await;
        self.write_batch_borrowed(config, &events).await
    }

    async fn flush(&self, config: &ObjectStorageSinkConfig) -> Result<WriteResult> {
        let mut guard = self.writer.lock().await;
        let mut result = WriteResult::new();
        let Some(writer) = guard.as_mut() else {
            return Ok(result);
        };
        let partitions: Vec<String> = writer.open.keys().cloned().collect();
        for partition in partitions {
            writer.seal(config, &partition)?;
        }
        writer.store_sealed(config, &mut result).await?;
        result.pending = writer.pending();
        Ok(result)
    }

    fn discard_pending(&self, _config: &ObjectStorageSinkConfig) {
        if let Ok(mut guard) = self.writer.try_lock() {
            if let Some(w) = guard.as_ref() {
                if w.pending() > 0 {
                    tracing::info!(
                        events = w.pending(),
                        "dropping unstored events: the pipeline replays them"
                    );
                }
            }
            // A new writer (new id): names of the replayed objects never meet the old ones.
            *guard = None;
        }
    }
}

#[async_trait]
impl BatchSink for ObjectStorageSink {
    fn batch_config(&self, config: &ObjectStorageSinkConfig) -> BatchConfig {
        BatchConfig::new(
            config.batch_size,
            config.flush_interval_secs.saturating_mul(1000),
        )
    }

    async fn write_batch(
        &self,
        config: &ObjectStorageSinkConfig,
        events: Vec<SourceEvent>,
    ) -> Result<WriteResult> {
        self.write_batch_borrowed(config, &events).await
    }

    async fn write_batch_borrowed(
        &self,
        config: &ObjectStorageSinkConfig,
        events: &[SourceEvent],
    ) -> Result<WriteResult> {
        let mut guard = self.writer.lock().await;
        if guard.is_none() {
            *guard = Some(Writer::new(config)?);
        }
        let Some(writer) = guard.as_mut() else {
            return Err(ConnectorError::fatal("object-storage writer missing"));
        };
        let mut result = WriteResult::new();
        // Objects an earlier write could not store go first: until they are
        // in, nothing new is taken (so a retried write never doubles events).
        writer.store_sealed(config, &mut result).await?;
        let options = FormatOptions {
            csv: config.csv.clone(),
            parquet: config.parquet.clone(),
            avro: config.avro.clone(),
        };
        for (index, event) in events.iter().enumerate() {
            let position = writer.handed + index as u64;
            let partition = config.partition_of(event);
            if !writer.open.contains_key(&partition) {
                let fresh = Open {
                    writer: format::writer(config.format, &options)?,
                    first: None,
                };
                writer.open.insert(partition.clone(), fresh);
            }
            let needs_new_file = writer
                .open
                .get(&partition)
                .is_some_and(|o| o.first.is_some() && !o.writer.accepts(event));
            if needs_new_file {
                writer.seal(config, &partition)?;
            }
            let Some(open) = writer.open.get_mut(&partition) else {
                continue;
            };
            match open.writer.write(event) {
                Ok(()) => {
                    open.first.get_or_insert(position);
                    if open.writer.records() >= config.batch_size as u64
                        || open.writer.bytes() >= config.max_file_bytes
                    {
                        writer.seal(config, &partition)?;
                    }
                }
                Err(e) => result.add_record_failure(index, &e),
            }
        }
        writer.handed += events.len() as u64;
        if let Err(e) = writer.store_sealed(config, &mut result).await {
            // The events are taken (sealed, still pending): the next write or
            // flush stores them first, or fails with this error.
            tracing::warn!(error = %e, "storing an object failed; retrying with the next write");
        }
        result.pending = writer.pending();
        Ok(result)
    }
}
