//! Configuration of the `object-storage` sink: where (provider, bucket,
//! prefix), how (format, compression) and when (batch size, interval, size)
//! objects are written.

use rivven_connect::SecretString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use validator::{Validate, ValidationError};

/// Storage provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Amazon S3 or an S3-compatible store (feature `s3`).
    #[default]
    S3,
    /// Google Cloud Storage (feature `gcs`).
    Gcs,
    /// Azure Blob Storage (feature `azure`).
    Azure,
    /// A local directory (`local.root`/`bucket`), for tests and single hosts.
    Local,
}

impl Provider {
    /// The name in configurations.
    pub fn name(self) -> &'static str {
        match self {
            Provider::S3 => "s3",
            Provider::Gcs => "gcs",
            Provider::Azure => "azure",
            Provider::Local => "local",
        }
    }

    /// The cargo feature providing it when this build lacks it.
    pub fn missing_feature(self) -> Option<&'static str> {
        match self {
            Provider::S3 if !cfg!(feature = "s3") => Some("s3"),
            Provider::Gcs if !cfg!(feature = "gcs") => Some("gcs"),
            Provider::Azure if !cfg!(feature = "azure") => Some("azure"),
            _ => None,
        }
    }
}

/// The provider a configuration means: `provider` when set, else the one
/// whose settings block alone is given, else S3 (the legacy `gcs` and
/// `azure-blob` names then work with just their block).
pub fn infer_provider(provider: Option<Provider>, gcs: bool, azure: bool, local: bool) -> Provider {
    match (provider, gcs, azure, local) {
        (Some(p), ..) => p,
        (None, true, false, false) => Provider::Gcs,
        (None, false, true, false) => Provider::Azure,
        (None, false, false, true) => Provider::Local,
        _ => Provider::S3,
    }
}

/// Validator of `provider`: it must be built into this binary.
pub(crate) fn provider_built(provider: &Provider) -> Result<(), ValidationError> {
    match provider.missing_feature() {
        None => Ok(()),
        Some(feature) => Err(ValidationError::new("provider_not_built").with_message(
            format!(
                "provider `{}` is not built into this binary: it needs the `{feature}` feature \
                 of rivven-connect-storage (the `{feature}` or `storage-full` feature of the \
                 rivven-connect binary)",
                provider.name()
            )
            .into(),
        )),
    }
}

/// Time partitioning of object names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Partitioning {
    /// No time partitions.
    #[default]
    None,
    /// `year=YYYY/month=MM/day=DD/`.
    Day,
    /// `year=YYYY/month=MM/day=DD/hour=HH/`.
    Hour,
}

/// Which time decides an event's partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PartitionTime {
    /// The event's timestamp.
    #[default]
    Event,
    /// When the sink received the event.
    Processing,
}

/// S3 settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3Options {
    /// Region (default: `AWS_REGION`/`AWS_DEFAULT_REGION`, else `us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Endpoint of an S3-compatible store (MinIO, R2, moto): `http(s)://host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(url)]
    pub endpoint: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`), as MinIO and moto need.
    #[serde(default)]
    pub force_path_style: bool,
    /// Access key id (a secret); without it, the standard chain: environment,
    /// web identity, ECS/EC2 instance metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<SecretString>,
    /// Secret access key (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<SecretString>,
    /// Session token of temporary credentials (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<SecretString>,
}

/// Google Cloud Storage settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GcsOptions {
    /// A service account JSON key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_path: Option<PathBuf>,
    /// A service account JSON key (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_key: Option<SecretString>,
    /// Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`,
    /// gcloud's file, the metadata server) when no key is given.
    #[serde(default = "default_true")]
    pub use_adc: bool,
}

/// Azure Blob Storage settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AzureOptions {
    /// Storage account name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Account access key (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<SecretString>,
    /// SAS token (a secret), `sv=…&sig=…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sas_token: Option<SecretString>,
    /// Managed identity / workload identity instead of a key.
    #[serde(default)]
    pub use_managed_identity: bool,
    /// Blob endpoint (Azurite: `http://127.0.0.1:10000/devstoreaccount1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(url)]
    pub endpoint: Option<String>,
    /// Use the storage emulator (Azurite) with its well-known account.
    #[serde(default)]
    pub use_emulator: bool,
}

/// Local filesystem settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalOptions {
    /// Directory holding the buckets (objects go to `root/bucket/…`).
    pub root: PathBuf,
}

pub(crate) fn default_true() -> bool {
    true
}

/// Validator of `bucket`: a non-empty name without `/`.
pub(crate) fn bucket_name(bucket: &str) -> Result<(), ValidationError> {
    if bucket.is_empty() || bucket.contains('/') || bucket.trim() != bucket {
        return Err(ValidationError::new("bucket").with_message(
            format!("{bucket:?} is not a bucket name (non-empty, no `/`, no surrounding spaces)")
                .into(),
        ));
    }
    Ok(())
}
