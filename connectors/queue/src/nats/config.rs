//! Settings the `nats` source and sink share: the server URL, credentials,
//! the connection (with its reconnect backoff) and the mapping of
//! async-nats errors to connector errors.

use std::time::Duration;

use async_nats::{ConnectErrorKind, ConnectOptions, Event};
use rivven_connect::{CheckResult, ConnectorError, SecretString};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

use crate::tls::TlsOptions;

/// Default NATS client port.
pub const DEFAULT_PORT: u16 = 4222;

/// `mode`: JetStream (acknowledged, durable) or core NATS (at-most-once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NatsMode {
    /// JetStream: messages are stored by the server and acknowledged
    /// (at-least-once). The default.
    #[default]
    Jetstream,
    /// Core NATS: plain publish/subscribe, nothing stored, nothing
    /// acknowledged (AT-MOST-ONCE: messages published while no subscriber
    /// is connected, or dropped by a slow one, are lost).
    Core,
}

/// `auth`: user and password, and/or a token.
#[derive(Clone, Default, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatsAuth {
    /// User name (with `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1))]
    pub username: Option<String>,
    /// Password of `username` (a secret: never logged or shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
    /// Authentication token (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretString>,
}

impl PartialEq for NatsAuth {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: &Option<SecretString>, b: &Option<SecretString>| {
            a.as_ref().map(SecretString::expose_secret)
                == b.as_ref().map(SecretString::expose_secret)
        };
        self.username == other.username
            && same(&self.password, &other.password)
            && same(&self.token, &other.token)
    }
}

impl std::fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<SecretString>| s.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("NatsAuth")
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("token", &redacted(&self.token))
            .finish()
    }
}

/// Validator of `auth`: a user needs a password and the other way round,
/// and something must be given.
pub fn validate_auth(auth: &NatsAuth) -> Result<(), ValidationError> {
    let message = match (&auth.username, &auth.password, &auth.token) {
        (Some(_), None, _) => "auth.username needs auth.password",
        (None, Some(_), _) => "auth.password needs auth.username",
        (None, None, None) => "auth needs username and password, or token",
        _ => return Ok(()),
    };
    Err(ValidationError::new("auth").with_message(message.into()))
}

/// Validator of `url`: `nats://host[:port]` or `tls://host[:port]`, several
/// separated by commas; no credentials in it.
pub fn validate_url(url: &str) -> Result<(), ValidationError> {
    check_url(url)
        .map_err(|e| ValidationError::new("url").with_message(e.message().to_owned().into()))
}

fn check_url(url: &str) -> Result<(), ConnectorError> {
    let bad = |why: &str| ConnectorError::config(format!("url `{url}`: {why}"));
    if url.trim().is_empty() {
        return Err(bad("empty: expected nats://host:port"));
    }
    for server in url.split(',').map(str::trim) {
        let (scheme, rest) = server
            .split_once("://")
            .ok_or_else(|| bad("expected nats://host:port"))?;
        if !matches!(scheme, "nats" | "tls") {
            return Err(bad(&format!(
                "unsupported scheme `{scheme}`: use nats:// (or tls://); websockets are not built in"
            )));
        }
        let authority = rest.trim_end_matches('/');
        if authority.contains('@') {
            return Err(bad("credentials go in auth, not in the URL"));
        }
        if authority.is_empty() || authority.contains('/') {
            return Err(bad("expected nats://host:port"));
        }
        if let Some((_, port)) = authority.rsplit_once(':') {
            port.parse::<u16>()
                .map_err(|_| bad(&format!("invalid port `{port}`")))?;
        }
    }
    Ok(())
}

/// Validator of a subject to subscribe to or filter on (`*` and `>`
/// wildcards allowed where NATS allows them).
pub fn validate_filter(subject: &str) -> Result<(), ValidationError> {
    subject_problem(subject, true).map_or(Ok(()), |why| {
        Err(ValidationError::new("subject").with_message(why.into()))
    })
}

/// Why `subject` is not a valid NATS subject (`wildcards`: for
/// subscriptions), or `None`.
pub fn subject_problem(subject: &str, wildcards: bool) -> Option<String> {
    if subject.is_empty() {
        return Some("the subject is empty".into());
    }
    if subject.bytes().any(|b| b.is_ascii_whitespace() || b == 0) {
        return Some(format!("subject `{subject}` contains whitespace"));
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        if token.is_empty() {
            return Some(format!("subject `{subject}` has an empty token"));
        }
        let wild = *token == "*" || *token == ">";
        if wild && !wildcards {
            return Some(format!(
                "subject `{subject}` has a wildcard: messages are published to concrete subjects"
            ));
        }
        if *token == ">" && i + 1 != tokens.len() {
            return Some(format!("subject `{subject}`: `>` must be the last token"));
        }
        if !wild && (token.contains('*') || token.contains('>')) && wildcards {
            return Some(format!(
                "subject `{subject}`: a wildcard must be a whole token"
            ));
        }
    }
    None
}

/// Connection options of the source and the sink.
pub struct ConnectSettings<'a> {
    /// The `url` setting.
    pub url: &'a str,
    /// Credentials.
    pub auth: Option<&'a NatsAuth>,
    /// `tls`: TLS is required when set (or with a `tls://` URL).
    pub tls: Option<&'a TlsOptions>,
    /// Timeout of one connection attempt.
    pub connect_timeout: Duration,
    /// Timeout of JetStream API requests and publish acknowledgements.
    pub request_timeout: Duration,
    /// Reconnect backoff: first delay.
    pub retry_initial: Duration,
    /// Reconnect backoff: largest delay.
    pub retry_max: Duration,
    /// Client name shown by the server (`rivven-connect-source`/`-sink`).
    pub name: &'static str,
}

impl ConnectSettings<'_> {
    /// Connects once: credentials the server refuses are an `Auth` error
    /// (not retried), an unreachable server a `Connection` error. After
    /// that the client reconnects by itself, forever, with exponential
    /// backoff between `retry_initial` and `retry_max`.
    pub async fn connect(&self) -> Result<async_nats::Client, ConnectorError> {
        check_url(self.url)?;
        let url = self.url.to_owned();
        let (initial, max) = (self.retry_initial, self.retry_max.max(self.retry_initial));
        let mut options = ConnectOptions::new()
            .name(self.name)
            .connection_timeout(self.connect_timeout)
            .request_timeout(Some(self.request_timeout))
            .max_reconnects(None)
            .reconnect_delay_callback(move |attempts| {
                // The first attempt (the initial connect) is not delayed.
                if attempts <= 1 {
                    return Duration::ZERO;
                }
                let exp = u32::try_from(attempts - 2).unwrap_or(u32::MAX).min(20);
                initial.saturating_mul(1u32 << exp).min(max)
            })
            .event_callback(move |event| {
                let url = url.clone();
                async move {
                    match event {
                        Event::Connected => tracing::info!(nats = %url, "connected"),
                        Event::Disconnected => {
                            tracing::warn!(nats = %url, "disconnected; reconnecting")
                        }
                        other => tracing::debug!(nats = %url, event = %other, "client event"),
                    }
                }
            });
        if let Some(auth) = self.auth {
            if let (Some(user), Some(password)) = (&auth.username, &auth.password) {
                options = options.user_and_password(user.clone(), password.expose_secret().into());
            }
            if let Some(token) = &auth.token {
                options = options.token(token.expose_secret().into());
            }
        }
        let servers: Vec<&str> = self.url.split(',').map(str::trim).collect();
        // Our rustls configuration (ring provider) always: a server that
        // demands TLS of a nats:// URL upgrades with it too, where
        // async-nats' own default would need one process-wide crypto
        // provider (a build with both ring and aws-lc-rs has none).
        // Without TLS asked for, a system without root certificates still
        // connects to a plain server.
        let required = self.tls.is_some() || servers.iter().any(|s| s.starts_with("tls://"));
        match self.tls.cloned().unwrap_or_default().client_config() {
            Ok(tls) => options = options.tls_client_config(rustls::ClientConfig::clone(&tls)),
            Err(e) if required => return Err(e),
            Err(_) => {}
        }
        if required {
            options = options.require_tls(true);
        }
        let connect = options.connect(servers.as_slice());
        // The client's own timeout covers one attempt; this bounds the whole.
        match tokio::time::timeout(self.connect_timeout + Duration::from_secs(1), connect).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(connect_error(self.url, &e)),
            Err(_) => Err(ConnectorError::timeout(format!(
                "NATS {}: not connected within {} ms",
                self.url,
                self.connect_timeout.as_millis()
            ))),
        }
    }

    /// The JetStream context on `client`.
    pub fn jetstream(
        &self,
        client: async_nats::Client,
        max_ack_inflight: usize,
    ) -> async_nats::jetstream::Context {
        async_nats::jetstream::ContextBuilder::new()
            .timeout(self.request_timeout)
            .max_ack_inflight(max_ack_inflight.max(1))
            .backpressure_on_inflight(true)
            .build(client)
    }

    /// The `check` of both: connect (and for JetStream, ask for the account
    /// info); one line when it fails.
    pub async fn check(&self, jetstream: bool) -> CheckResult {
        let outcome = async {
            let client = self.connect().await?;
            if jetstream {
                // The account info request (its reply's shape varies across
                // server versions: read as plain JSON).
                let unavailable = |why: String| {
                    ConnectorError::connection(format!(
                        "NATS {}: JetStream is not available: {why}",
                        self.url
                    ))
                };
                let reply = tokio::time::timeout(
                    self.request_timeout,
                    client.request("$JS.API.INFO", Default::default()),
                )
                .await
                .map_err(|_| unavailable("no reply in time".into()))?
                .map_err(|e| unavailable(e.to_string()))?;
                let info: serde_json::Value = serde_json::from_slice(&reply.payload)
                    .map_err(|e| unavailable(e.to_string()))?;
                if let Some(error) = info.get("error") {
                    return Err(unavailable(error.to_string()));
                }
            }
            drop(client);
            Ok::<(), ConnectorError>(())
        }
        .await;
        match outcome {
            Ok(()) => CheckResult::builder().check_passed("nats").finish(),
            Err(e) => CheckResult::builder().check("nats", Err(e)).finish(),
        }
    }
}

/// An async-nats connect error as a connector error: refused credentials
/// are `Auth` (not retried), a bad address `Config`, the rest retryable.
pub fn connect_error(url: &str, e: &async_nats::ConnectError) -> ConnectorError {
    let at = format!("NATS {url}");
    match e.kind() {
        ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => {
            ConnectorError::auth(format!("{at} refused the credentials ({e})"))
                .with_retryable(false)
        }
        // The server's certificate failed verification (unknown CA, wrong
        // name), the handshake was refused, or TLS is missing on one side:
        // retrying changes nothing.
        ConnectErrorKind::Tls | ConnectErrorKind::Io if is_tls_refusal(e) => ConnectorError::config(format!(
            "{at}: TLS failed ({e}): check tls.ca_file, the client certificate and the server's name in url"
        ))
        .with_retryable(false),
        ConnectErrorKind::ServerParse => ConnectorError::config(format!("{at}: {e}")),
        ConnectErrorKind::TimedOut => ConnectorError::timeout(format!("{at}: {e}")),
        _ => ConnectorError::connection(format!("{at}: {e}")),
    }
}

/// Whether a connect error is TLS's verdict (a rustls error in its
/// sources, e.g. an unknown CA or the server's alert), not a network
/// failure; async-nats' own `Tls` kind (TLS required on one side only,
/// unusable certificates) too.
fn is_tls_refusal(e: &async_nats::ConnectError) -> bool {
    if e.kind() == ConnectErrorKind::Tls {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let rustls = inner.downcast_ref::<rustls::Error>().is_some()
            || inner
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .is_some_and(|io| io.downcast_ref::<rustls::Error>().is_some());
        if rustls {
            return true;
        }
        source = inner.source();
    }
    false
}

/// A stable name derived from `parts` (FNV-1a: the same across builds and
/// platforms), for the default durable consumer name.
pub fn stable_name(prefix: &str, parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.join("\0").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{prefix}{hash:016x}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls() {
        assert!(check_url("nats://127.0.0.1:4222").is_ok());
        assert!(check_url("nats://a:1, nats://b:2").is_ok());
        assert!(check_url("tls://h").is_ok());
        assert!(check_url("ws://h:1").is_err());
        assert!(check_url("nats://u:p@h:1").is_err());
        assert!(check_url("nats://h:99999").is_err());
        assert!(check_url("h:4222").is_err());
        assert!(check_url("").is_err());
    }

    #[test]
    fn subjects() {
        assert_eq!(subject_problem("a.b.c", false), None);
        assert_eq!(subject_problem("a.*.>", true), None);
        assert!(subject_problem("a.*", false).is_some());
        assert!(subject_problem("a..b", false).is_some());
        assert!(subject_problem("a b", false).is_some());
        assert!(subject_problem("", true).is_some());
        assert!(subject_problem(">.a", true).is_some());
        assert!(subject_problem("a.b*", true).is_some());
    }

    #[test]
    fn names_are_stable_and_distinct() {
        let a = stable_name("rvn-", &["S", "a.>"]);
        assert_eq!(a, stable_name("rvn-", &["S", "a.>"]));
        assert_ne!(a, stable_name("rvn-", &["S", "b.>"]));
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
