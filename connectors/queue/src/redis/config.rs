//! The connection settings of the `redis-streams` source and sink.

use std::time::Duration;

use rivven_connect::{CheckResult, ConnectorError, SecretString};
use validator::ValidationError;

use crate::tls::TlsOptions;

/// Validator of `url`: `redis://host[:port][/db]` or `rediss://` (TLS).
pub fn validate_url(url: &str) -> Result<(), ValidationError> {
    check_url(url)
        .map_err(|e| ValidationError::new("url").with_message(e.message().to_owned().into()))
}

fn check_url(url: &str) -> Result<(), ConnectorError> {
    if !url.starts_with("redis://") && !url.starts_with("rediss://") {
        return Err(ConnectorError::config(format!(
            "url `{url}`: expected redis://host:port/db (rediss:// for TLS)"
        )));
    }
    if url.contains('@') {
        return Err(ConnectorError::config(
            "url: credentials go in username/password, not in the URL",
        ));
    }
    Ok(())
}

/// Where and how to connect: the source's and the sink's shared keys.
#[derive(Clone, Copy)]
pub struct Endpoint<'a> {
    /// `url`.
    pub url: &'a str,
    /// `username`.
    pub username: Option<&'a str>,
    /// `password`.
    pub password: Option<&'a SecretString>,
    /// `tls` (only with `rediss://`).
    pub tls: Option<&'a TlsOptions>,
}

/// A client for the endpoint: `rediss://` connects with TLS (rustls),
/// verified against `tls.ca_file` or the system's roots.
pub fn client(endpoint: Endpoint<'_>) -> Result<redis::Client, ConnectorError> {
    let Endpoint {
        url,
        username,
        password,
        tls,
    } = endpoint;
    check_url(url)?;
    let secure = url.starts_with("rediss://");
    if tls.is_some() && !secure {
        return Err(ConnectorError::config(
            "tls is set but url is a plain redis:// URL: use rediss://",
        ));
    }
    let mut info: redis::ConnectionInfo = redis::IntoConnectionInfo::into_connection_info(url)
        .map_err(|e| ConnectorError::config(format!("url `{url}`: {e}")))?;
    let mut redis_info = info.redis_settings().clone();
    if let Some(user) = username {
        redis_info = redis_info.set_username(user);
    }
    if let Some(password) = password {
        redis_info = redis_info.set_password(password.expose_secret());
    }
    info = info.set_redis_settings(redis_info);
    let bad = |e: redis::RedisError| ConnectorError::config(format!("url `{url}`: {e}"));
    if !secure {
        return redis::Client::open(info).map_err(bad);
    }
    crate::tls::install_ring_default();
    let files = tls.map(TlsOptions::pem_files).transpose()?;
    let (root_cert, client) = files.map_or((None, None), |f| (f.ca, f.client));
    let certificates = redis::TlsCertificates {
        client_tls: client.map(|(client_cert, client_key)| redis::ClientTlsConfig {
            client_cert,
            client_key,
        }),
        root_cert,
    };
    redis::Client::build_with_tls(info, certificates).map_err(bad)
}

/// Connects within `timeout`.
pub async fn connect(
    client: &redis::Client,
    url: &str,
    timeout: Duration,
) -> Result<redis::aio::MultiplexedConnection, ConnectorError> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(None);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| redis_error(url, &e))
}

/// The `check` of the source and the sink: connect and `PING`, one line
/// when it fails.
pub async fn check(endpoint: Endpoint<'_>, timeout: Duration) -> CheckResult {
    let url = endpoint.url;
    let outcome = async {
        let client = client(endpoint)?;
        let mut conn = connect(&client, url, timeout).await?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map_err(|e| redis_error(url, &e))
    }
    .await;
    match outcome {
        Ok(_) => CheckResult::builder().check_passed("redis").finish(),
        Err(e) => CheckResult::builder().check("redis", Err(e)).finish(),
    }
}

/// A redis error as a connector error: refused credentials are `Auth`
/// (not retried), a dropped or refused connection is retryable.
pub fn redis_error(url: &str, e: &redis::RedisError) -> ConnectorError {
    let message = format!("Redis {url}: {e}");
    if e.kind() == redis::ErrorKind::AuthenticationFailed
        || e.code() == Some("WRONGPASS")
        || e.code() == Some("NOAUTH")
    {
        return ConnectorError::auth(message).with_retryable(false);
    }
    if e.is_connection_dropped() || e.is_connection_refusal() || e.is_io_error() {
        return ConnectorError::connection(message);
    }
    if e.is_timeout() {
        return ConnectorError::timeout(message);
    }
    ConnectorError::data(message)
}
