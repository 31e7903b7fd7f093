//! The `object-storage` source: reads back what the sink wrote — `json`,
//! `jsonl` and `csv` objects, optionally compressed — listing a prefix in
//! name order (the sink's names sort by time) and remembering the last
//! object and row in its state, so a restart resumes after the last event
//! that was durably written downstream.
//!
//! Format and compression come from each object's extension unless set.
//! Without `poll_interval_secs` the source reads what is there and ends;
//! with it, it lists again for objects after the last one, forever.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectStoreExt;
use rivven_connect::prelude::*;
use rivven_connect::{Catalog, ConfiguredCatalog, Result, Stream};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use validator::Validate;

use super::config::{
    bucket_name, provider_built, AzureOptions, GcsOptions, LocalOptions, Provider, S3Options,
};
use super::store::{self, store_error, Location};
use crate::avro::AvroReadOptions;
use crate::compression::Compression;
use crate::csv::CsvOptions;
use crate::format::Format;
use crate::reader;

/// Configuration of the `object-storage` source.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "object-storage",
    version = env!("CARGO_PKG_VERSION"),
    description = "Reads json, jsonl and csv objects (optionally compressed; parquet and avro with their features) under a prefix of S3, GCS, Azure Blob or a local directory, in name order, resuming after the last committed row",
    incremental,
    category = "storage",
    tags = ["s3", "gcs", "azure", "object-storage", "data-lake"],
    connector = ObjectStorageSource
)]
#[serde(deny_unknown_fields)]
pub struct ObjectStorageSourceConfig {
    /// Storage provider (unset: the one whose block is given, else `s3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "provider_built"))]
    pub provider: Option<Provider>,
    /// Bucket (S3, GCS), container (Azure) or directory under `local.root`.
    #[validate(custom(function = "bucket_name"))]
    pub bucket: String,
    /// Only objects under this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Format of every object (default: from each object's extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// Compression of every object (default: from each object's extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<Compression>,
    /// Stream name of the events.
    #[serde(default = "default_stream")]
    #[validate(length(min = 1, max = 255))]
    pub stream_name: String,
    /// List again every this many seconds for new objects (unset: read what
    /// is there, then end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(range(min = 1, max = 86400))]
    pub poll_interval_secs: Option<u64>,
    /// Timeout of one request to a cloud provider, in seconds.
    #[serde(default = "default_request_timeout")]
    #[validate(range(min = 1, max = 3600))]
    pub request_timeout_secs: u64,
    /// S3 settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub s3: Option<S3Options>,
    /// Google Cloud Storage settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub gcs: Option<GcsOptions>,
    /// Azure Blob Storage settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub azure: Option<AzureOptions>,
    /// Local directory settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub local: Option<LocalOptions>,
    /// CSV options (as the sink wrote them).
    #[serde(default)]
    #[validate(nested)]
    pub csv: CsvOptions,
    /// Avro options: the schema to read wire-format objects with (the
    /// sink's `avro.wire_format`); container files carry their own.
    #[serde(default)]
    #[validate(nested)]
    pub avro: AvroReadOptions,
}

fn default_stream() -> String {
    "objects".into()
}
fn default_request_timeout() -> u64 {
    60
}

impl ObjectStorageSourceConfig {
    /// A config reading `bucket` under `root` on the local provider.
    pub fn local(root: impl Into<std::path::PathBuf>, bucket: impl Into<String>) -> Self {
        Self {
            provider: Some(Provider::Local),
            bucket: bucket.into(),
            prefix: None,
            format: None,
            compression: None,
            stream_name: default_stream(),
            poll_interval_secs: None,
            request_timeout_secs: default_request_timeout(),
            s3: None,
            gcs: None,
            azure: None,
            local: Some(LocalOptions { root: root.into() }),
            csv: CsvOptions::default(),
            avro: AvroReadOptions::default(),
        }
    }

    fn location(&self) -> Location<'_> {
        let provider = super::config::infer_provider(
            self.provider,
            self.gcs.is_some(),
            self.azure.is_some(),
            self.local.is_some(),
        );
        Location {
            provider,
            bucket: &self.bucket,
            s3: self.s3.as_ref(),
            gcs: self.gcs.as_ref(),
            azure: self.azure.as_ref(),
            local: self.local.as_ref(),
            request_timeout_secs: self.request_timeout_secs,
        }
    }

    fn prefix_path(&self) -> Option<Path> {
        let p = self.prefix.as_deref().unwrap_or("").trim_matches('/');
        (!p.is_empty()).then(|| Path::from(p))
    }
}

/// The `object-storage` source (see the [module docs](self)).
#[derive(Debug, Default, Clone)]
pub struct ObjectStorageSource;

/// Where a stream's state says to resume: the object and the rows of it done.
fn resume_point(
    config: &ObjectStorageSourceConfig,
    state: Option<&State>,
) -> Option<(String, u64)> {
    let s = state?.get_stream(&config.stream_name)?;
    let object = s.data.get("object")?.as_str()?.to_string();
    let row = s.data.get("row").and_then(Value::as_u64).unwrap_or(0);
    Some((object, row))
}

#[async_trait]
impl Source for ObjectStorageSource {
    type Config = ObjectStorageSourceConfig;

    async fn check(&self, config: &ObjectStorageSourceConfig) -> Result<CheckResult> {
        let prefix = config
            .prefix
            .as_deref()
            .unwrap_or("")
            .trim_matches('/')
            .to_string();
        let outcome = match store::build(&config.location()) {
            Ok(store) => store::probe(store.as_ref(), &config.bucket, &prefix).await,
            Err(e) => Err(store::one_line(e)),
        };
        CheckResult::builder()
            .check("bucket readable", outcome)
            .build()
    }

    async fn discover(&self, config: &ObjectStorageSourceConfig) -> Result<Catalog> {
        let stream = Stream::new(config.stream_name.clone(), json!({"type": "object"}))
            .with_incremental("object");
        Ok(Catalog::new(vec![stream]))
    }

    async fn read(
        &self,
        config: &ObjectStorageSourceConfig,
        _catalog: &ConfiguredCatalog,
        state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let store = store::build(&config.location())?;
        let config = config.clone();
        let mut resume = resume_point(&config, state.as_ref());
        if let Some((object, row)) = &resume {
            tracing::info!(object, row, "object-storage source resuming");
        }
        let events = async_stream::try_stream! {
            loop {
                let mut names: Vec<Path> = store
                    .list(config.prefix_path().as_ref())
                    .map_ok(|meta| meta.location)
                    .try_collect()
                    .await
                    .map_err(|e| store_error(&format!("listing bucket `{}`", config.bucket), e))?;
                names.sort();
                for name in names {
                    let text = name.to_string();
                    let skip_rows = match &resume {
                        Some((last, _)) if text < *last => continue,
                        Some((last, row)) if text == *last => *row,
                        _ => 0,
                    };
                    let Some(format) = config.format.or_else(|| Format::from_name(&text)) else {
                        tracing::debug!(object = %text, "not an object of a known format; skipped");
                        continue;
                    };
                    let compression = config.compression.unwrap_or_else(|| Compression::from_name(&text));
                    let body = store
                        .get(&name)
                        .await
                        .map_err(|e| store_error(&format!("reading {text}"), e))?
                        .bytes()
                        .await
                        .map_err(|e| store_error(&format!("reading {text}"), e))?;
                    let data = compression.decompress(&body)?;
                    let rows = config.avro.framed_rows(&text, format, &data)?;
                    let rows = match rows {
                        Some(rows) => rows,
                        None => reader::rows(&text, format, &data, &config.csv)?,
                    };
                    let total = rows.len() as u64;
                    for (i, row) in rows.into_iter().enumerate().skip(usize::try_from(skip_rows).unwrap_or(usize::MAX)) {
                        let event = SourceEvent::record(config.stream_name.clone(), row?)
                            .with_state("object", json!(text))
                            .with_state("row", json!(i as u64 + 1));
                        yield event;
                    }
                    resume = Some((text, total));
                }
                match config.poll_interval_secs {
                    Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
                    None => break,
                }
            }
        };
        Ok(events.boxed())
    }
}
