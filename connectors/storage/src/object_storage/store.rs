//! Builds the [`ObjectStore`] of a configuration and maps its errors to
//! [`ConnectorError`] kinds (by variant, never by wording).

use std::sync::Arc;
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
use std::time::Duration;

use object_store::ObjectStore;
use rivven_connect::{ConnectorError, Result};

use super::config::{AzureOptions, GcsOptions, LocalOptions, Provider, S3Options};

/// Where a sink or source reads and writes.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(
    not(all(feature = "s3", feature = "gcs", feature = "azure")),
    allow(dead_code)
)]
pub(crate) struct Location<'a> {
    pub(crate) provider: Provider,
    pub(crate) bucket: &'a str,
    pub(crate) s3: Option<&'a S3Options>,
    pub(crate) gcs: Option<&'a GcsOptions>,
    pub(crate) azure: Option<&'a AzureOptions>,
    pub(crate) local: Option<&'a LocalOptions>,
    /// Timeout of one request (cloud providers).
    pub(crate) request_timeout_secs: u64,
}

/// Maps an object store error to a [`ConnectorError`] of the right kind.
pub(crate) fn store_error(what: &str, e: object_store::Error) -> ConnectorError {
    use object_store::Error as E;
    let message = format!("{what}: {e}");
    let error = match &e {
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => ConnectorError::auth(message),
        E::NotFound { .. } => ConnectorError::config(message),
        E::InvalidPath { .. }
        | E::UnknownConfigurationKey { .. }
        | E::NotSupported { .. }
        | E::NotImplemented { .. } => ConnectorError::config(message),
        E::AlreadyExists { .. } | E::Precondition { .. } | E::NotModified { .. } => {
            ConnectorError::fatal(message)
        }
        // Network failures and server errors the store's own retries did not clear.
        _ => ConnectorError::connection(message),
    };
    error.with_source(e)
}

/// A store that cannot be built: its configuration is wrong (whatever the
/// variant: keys, URLs, files are all read from the configuration).
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
fn build_error(provider: &str, e: object_store::Error) -> ConnectorError {
    ConnectorError::config(format!("{provider}: {e}")).with_source(e)
}

#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
fn connector(location: &Location<'_>) -> crate::http::RingConnector {
    crate::http::RingConnector {
        timeout: Duration::from_secs(location.request_timeout_secs),
        connect_timeout: Duration::from_secs(location.request_timeout_secs.min(10)),
    }
}

#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
fn retry() -> object_store::RetryConfig {
    // The runtime retries writes itself (with its backoff and circuit
    // breaker): the store's own retries only smooth over blips.
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig::default(),
        max_retries: 3,
        retry_timeout: Duration::from_secs(30),
    }
}

/// The store of `location`.
pub(crate) fn build(location: &Location<'_>) -> Result<Arc<dyn ObjectStore>> {
    let bucket = location.bucket;
    match location.provider {
        Provider::Local => {
            let Some(local) = location.local else {
                return Err(ConnectorError::config(
                    "local.root: the local provider needs `local: {root: <directory>}`",
                ));
            };
            let dir = local.root.join(bucket);
            std::fs::create_dir_all(&dir).map_err(|e| {
                ConnectorError::config(format!("local.root: cannot create {}: {e}", dir.display()))
            })?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| store_error("local.root", e))?
                // Objects appear whole: written to a temporary file, then renamed.
                .with_automatic_cleanup(true);
            Ok(Arc::new(store))
        }
        #[cfg(feature = "s3")]
        Provider::S3 => {
            use object_store::aws::AmazonS3Builder;
            let default = S3Options::default();
            let s3 = location.s3.unwrap_or(&default);
            // The standard chain (environment, web identity, instance
            // metadata) unless the config has a key.
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_http_connector(connector(location))
                .with_retry(retry());
            let region = s3
                .region
                .clone()
                .or_else(|| std::env::var("AWS_REGION").ok())
                .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                .unwrap_or_else(|| "us-east-1".into());
            builder = builder.with_region(region);
            if let Some(endpoint) = &s3.endpoint {
                builder = builder
                    .with_endpoint(endpoint.trim_end_matches('/'))
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            builder = builder.with_virtual_hosted_style_request(!s3.force_path_style);
            match (&s3.access_key_id, &s3.secret_access_key) {
                (Some(id), Some(secret)) => {
                    builder = builder
                        .with_access_key_id(id.expose_secret())
                        .with_secret_access_key(secret.expose_secret());
                    if let Some(token) = &s3.session_token {
                        builder = builder.with_token(token.expose_secret());
                    }
                }
                (None, None) => {}
                _ => {
                    return Err(ConnectorError::config(
                        "s3.access_key_id and s3.secret_access_key go together",
                    ))
                }
            }
            Ok(Arc::new(builder.build().map_err(|e| build_error("s3", e))?))
        }
        #[cfg(feature = "gcs")]
        Provider::Gcs => {
            use object_store::gcp::GoogleCloudStorageBuilder;
            let default = GcsOptions {
                use_adc: true,
                ..GcsOptions::default()
            };
            let gcs = location.gcs.unwrap_or(&default);
            let mut builder = if gcs.use_adc {
                GoogleCloudStorageBuilder::from_env()
            } else {
                GoogleCloudStorageBuilder::new()
            }
            .with_bucket_name(bucket)
            .with_http_connector(connector(location))
            .with_retry(retry());
            if let Some(path) = &gcs.service_account_path {
                builder = builder.with_service_account_path(path.display().to_string());
            }
            if let Some(key) = &gcs.service_account_key {
                builder = builder.with_service_account_key(key.expose_secret());
            }
            Ok(Arc::new(
                builder.build().map_err(|e| build_error("gcs", e))?,
            ))
        }
        #[cfg(feature = "azure")]
        Provider::Azure => {
            use object_store::azure::MicrosoftAzureBuilder;
            let default = AzureOptions::default();
            let azure = location.azure.unwrap_or(&default);
            let mut builder = MicrosoftAzureBuilder::from_env()
                .with_container_name(bucket)
                .with_http_connector(connector(location))
                .with_retry(retry())
                .with_use_emulator(azure.use_emulator);
            if let Some(account) = &azure.account {
                builder = builder.with_account(account);
            }
            if let Some(key) = &azure.access_key {
                builder = builder.with_access_key(key.expose_secret());
            }
            if let Some(sas) = &azure.sas_token {
                let pairs: Vec<(String, String)> = sas
                    .expose_secret()
                    .trim_start_matches('?')
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                builder = builder.with_sas_authorization(pairs);
            }
            if let Some(endpoint) = &azure.endpoint {
                builder = builder
                    .with_endpoint(endpoint.clone())
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if !azure.use_managed_identity
                && azure.access_key.is_none()
                && azure.sas_token.is_none()
                && !azure.use_emulator
                && std::env::var_os("AZURE_STORAGE_ACCESS_KEY").is_none()
            {
                tracing::debug!("azure: no key or SAS token; using the default credential chain");
            }
            Ok(Arc::new(
                builder.build().map_err(|e| build_error("azure", e))?,
            ))
        }
        #[allow(unreachable_patterns)]
        other => Err(ConnectorError::config(format!(
            "provider: `{}` is not built into this binary (feature `{}` of rivven-connect-storage)",
            other.name(),
            other.missing_feature().unwrap_or("storage-full")
        ))),
    }
}

/// `e` with its message on one line (for `check` results).
pub(crate) fn one_line(e: ConnectorError) -> ConnectorError {
    ConnectorError::new(
        e.kind(),
        e.message().split_whitespace().collect::<Vec<_>>().join(" "),
    )
}

/// The check of a bucket: credentials first (a `HEAD` of a probe key, which
/// the stores answer with typed errors: denied, unauthenticated, not found),
/// then that the prefix can be listed. One line, the error's kind kept.
pub(crate) async fn probe(store: &dyn ObjectStore, bucket: &str, prefix: &str) -> Result<()> {
    use object_store::ObjectStoreExt;
    let key = if prefix.is_empty() {
        ".rivven-check".to_string()
    } else {
        format!("{prefix}/.rivven-check")
    };
    match store.head(&object_store::path::Path::from(key)).await {
        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(one_line(store_error(&format!("bucket `{bucket}`"), e))),
    }
    let prefix = (!prefix.is_empty()).then(|| object_store::path::Path::from(prefix));
    store
        .list_with_delimiter(prefix.as_ref())
        .await
        .map(|_| ())
        .map_err(|e| one_line(store_error(&format!("listing bucket `{bucket}`"), e)))
}
