//! The connection settings both connectors share (`tls`, `sasl`), bootstrap
//! failover, and rivven-client's errors as [`ConnectorError`]s.

use std::path::PathBuf;
use std::time::Duration;

use rivven_client::{Client, Error as ClientError};
use rivven_connect::{ConnectorError, ErrorKind, Result, SecretString};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

/// The SASL mechanism rivven-client 0.0.22 implements.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// TLS to the broker (needs the crate's `tls` feature).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// Connect with TLS.
    #[serde(default)]
    pub enabled: bool,
    /// PEM file of the CA that signed the broker's certificate (default: the
    /// system's roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// PEM file of the client certificate (mutual TLS; with `client_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
    /// Skip verifying the broker's certificate (development only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// SASL authentication.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaslSettings {
    /// `SCRAM-SHA-256` (the only mechanism rivven-client supports; `PLAIN`
    /// and `SCRAM-SHA-512` are configuration errors).
    #[serde(default = "default_mechanism")]
    #[validate(custom(function = "validate_mechanism"))]
    pub mechanism: String,
    /// User name.
    #[validate(length(min = 1))]
    pub username: String,
    /// Password (text only: a number is refused without showing it).
    pub password: SecretString,
}

impl PartialEq for SaslSettings {
    fn eq(&self, other: &Self) -> bool {
        self.mechanism == other.mechanism
            && self.username == other.username
            && self.password.expose_secret() == other.password.expose_secret()
    }
}

fn default_mechanism() -> String {
    SCRAM_SHA_256.to_string()
}

fn validate_mechanism(mechanism: &str) -> Result<(), ValidationError> {
    if mechanism.eq_ignore_ascii_case(SCRAM_SHA_256)
        || mechanism.eq_ignore_ascii_case("SCRAM_SHA_256")
    {
        return Ok(());
    }
    let mut e = ValidationError::new("sasl.mechanism");
    e.message = Some(
        format!(
            "sasl.mechanism `{mechanism}` is not supported by rivven-client 0.0.22: use {SCRAM_SHA_256}"
        )
        .into(),
    );
    Err(e)
}

/// `bootstrap_servers`: at least one, each `host:port`.
pub(crate) fn validate_servers(servers: &[String]) -> Result<(), ValidationError> {
    let bad = servers.iter().find(|s| {
        s.rsplit_once(':')
            .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
    });
    let message = match bad {
        _ if servers.is_empty() => "bootstrap_servers: give at least one `host:port`".to_string(),
        Some(s) => format!("bootstrap_servers: `{s}` is not `host:port`"),
        None => return Ok(()),
    };
    let mut e = ValidationError::new("bootstrap_servers");
    e.message = Some(message.into());
    Err(e)
}

/// Everything needed to open a connection (borrowed from a config).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint<'a> {
    pub servers: &'a [String],
    pub connection_timeout: Duration,
    pub request_timeout: Duration,
    pub tls: &'a TlsSettings,
    pub sasl: Option<&'a SaslSettings>,
}

impl Endpoint<'_> {
    /// The servers as one string, e.g. `a:1,b:2`.
    pub(crate) fn servers_joined(&self) -> String {
        self.servers.join(",")
    }

    /// Connect to the first reachable bootstrap server (in order, each within
    /// the connection timeout), authenticated when `sasl` is set.
    pub(crate) async fn connect(&self) -> Result<Client> {
        self.check_tls_support()?;
        let mut failures = Vec::with_capacity(self.servers.len());
        for addr in self.servers {
            match tokio::time::timeout(self.connection_timeout, self.connect_one(addr)).await {
                Ok(Ok(client)) => {
                    tracing::debug!(server = %addr, "connected to the rivven broker");
                    return Ok(client);
                }
                Ok(Err(e)) if !e.is_retriable() => return Err(client_error(e).context(addr)),
                Ok(Err(e)) => failures.push(format!("{addr}: {e}")),
                Err(_) => failures.push(format!(
                    "{addr}: no connection within {} ms",
                    self.connection_timeout.as_millis()
                )),
            }
        }
        Err(ConnectorError::connection(format!(
            "cannot reach any bootstrap server ({}): {}",
            self.servers.join(", "),
            failures.join("; ")
        )))
    }

    async fn connect_one(&self, addr: &str) -> Result<Client, ClientError> {
        let mut client = self.open(addr).await?;
        client.set_request_timeout(self.request_timeout);
        if let Some(sasl) = self.sasl {
            client
                .authenticate_scram(&sasl.username, sasl.password.expose_secret())
                .await?;
        }
        Ok(client)
    }

    #[cfg(not(feature = "tls"))]
    async fn open(&self, addr: &str) -> Result<Client, ClientError> {
        Client::connect_with_timeout(addr, self.connection_timeout).await
    }

    #[cfg(feature = "tls")]
    async fn open(&self, addr: &str) -> Result<Client, ClientError> {
        match self.tls_config() {
            None => Client::connect_with_timeout(addr, self.connection_timeout).await,
            Some(tls) => {
                let host = server_name(addr);
                Client::connect_tls_with_timeout(addr, &tls, host, self.connection_timeout).await
            }
        }
    }

    /// rivven-client's TLS configuration when `tls.enabled`.
    #[cfg(feature = "tls")]
    pub(crate) fn tls_config(&self) -> Option<rivven_client::TlsConfig> {
        use rivven_core::tls::TlsConfigBuilder;
        let tls = self.tls;
        if !tls.enabled {
            return None;
        }
        let mut builder = TlsConfigBuilder::new();
        if let Some(ca) = &tls.ca_cert {
            builder = builder.with_root_ca_file(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
            builder = builder
                .with_cert_file(cert.clone())
                .with_key_file(key.clone());
        }
        if tls.insecure_skip_verify {
            builder = builder.insecure_skip_verify();
        }
        Some(builder.build())
    }

    /// A configuration error when TLS is asked for in a build without it.
    pub(crate) fn check_tls_support(&self) -> Result<()> {
        if self.tls.enabled && !cfg!(feature = "tls") {
            return Err(ConnectorError::config(
                "tls.enabled: this build of rivven-connect-broker has no TLS support \
                 (build it with the `tls` feature)",
            ));
        }
        if self.tls.client_cert.is_some() != self.tls.client_key.is_some() {
            return Err(ConnectorError::config(
                "tls: client_cert and client_key go together (mutual TLS)",
            ));
        }
        Ok(())
    }
}

/// The host part of `host:port`, for TLS server-name verification.
#[cfg(feature = "tls")]
pub(crate) fn server_name(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(host, _)| host)
}

/// A rivven-client error as a [`ConnectorError`], by variant (retryable
/// server errors as rivven-client classifies them).
pub(crate) fn client_error(e: ClientError) -> ConnectorError {
    let kind = match &e {
        ClientError::AuthenticationFailed(_) => ErrorKind::Auth,
        ClientError::ConfigError(_) => ErrorKind::Config,
        ClientError::Timeout | ClientError::TimeoutWithMessage(_) => ErrorKind::Timeout,
        ClientError::RequestTooLarge(..) | ClientError::SerializationError(_) => ErrorKind::Data,
        ClientError::ServerError(_) if e.is_retriable() => ErrorKind::Transient,
        ClientError::ServerError(_) => ErrorKind::Fatal,
        _ => ErrorKind::Connection,
    };
    ConnectorError::new(kind, e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn servers_must_be_host_and_port() {
        assert!(validate_servers(&["127.0.0.1:9092".into(), "b:1".into()]).is_ok());
        let e = validate_servers(&[]).unwrap_err();
        assert!(e.to_string().contains("at least one"), "{e}");
        let e = validate_servers(&["broker".into()]).unwrap_err();
        assert!(e.to_string().contains("`broker` is not `host:port`"), "{e}");
        assert!(validate_servers(&["b:99999".into()]).is_err());
        assert!(validate_servers(&[":9092".into()]).is_err());
    }

    #[test]
    fn only_scram_sha_256_is_accepted() {
        assert!(validate_mechanism("SCRAM-SHA-256").is_ok());
        assert!(validate_mechanism("scram_sha_256").is_ok());
        for other in ["PLAIN", "SCRAM-SHA-512", "GSSAPI"] {
            let e = validate_mechanism(other).unwrap_err();
            assert!(
                e.to_string().contains("not supported by rivven-client"),
                "{e}"
            );
        }
    }

    #[test]
    fn errors_keep_their_kind() {
        let auth = client_error(ClientError::AuthenticationFailed("bad password".into()));
        assert_eq!(auth.kind(), ErrorKind::Auth);
        assert!(!auth.is_retryable());
        assert!(client_error(ClientError::ConnectionError("reset".into())).is_retryable());
        assert!(client_error(ClientError::Timeout).is_retryable());
        assert!(!client_error(ClientError::RequestTooLarge(20, 10)).is_retryable());
        assert!(
            !client_error(ClientError::ServerError("INVALID_TOPIC_NAME: x".into())).is_retryable()
        );
    }

    #[tokio::test]
    async fn no_reachable_server_is_one_line_naming_every_server() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let servers = vec![format!("127.0.0.1:{port}"), format!("127.0.0.1:{port}")];
        let tls = TlsSettings::default();
        let endpoint = Endpoint {
            servers: &servers,
            connection_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            tls: &tls,
            sasl: None,
        };
        let err = endpoint.connect().await.err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Connection);
        let text = err.message();
        assert!(!text.contains('\n'), "{text}");
        let both = format!("127.0.0.1:{port}, 127.0.0.1:{port}");
        assert!(
            text.starts_with(&format!("cannot reach any bootstrap server ({both}): ")),
            "{text}"
        );
    }
}
