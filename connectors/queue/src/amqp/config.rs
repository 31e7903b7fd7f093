//! The connection settings shared by the `amqp` source and sink: the URL,
//! credentials, declarations, and how lapin's errors become connector errors.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};
use lapin::tcp::{AMQPUriTcpExt, RustlsConnector};
use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString, ShortString};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{Connection, ConnectionProperties, ErrorKind};
use rivven_connect::{CheckResult, ConnectorError, SecretString};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::ValidationError;

use crate::tls::TlsOptions;

/// Validator of `url`: `amqp://host[:port][/vhost]` or `amqps://…`
/// (TLS), without credentials.
pub fn validate_url(url: &str) -> Result<(), ValidationError> {
    parse_url(url)
        .map(|_| ())
        .map_err(|e| ValidationError::new("url").with_message(e.message().to_owned().into()))
}

/// The URL parsed; refuses credentials in the URL (they would show
/// wherever the URL does). The error never repeats a URL that holds
/// credentials.
fn parse_url(url: &str) -> Result<AMQPUri, ConnectorError> {
    let rest = url
        .strip_prefix("amqp://")
        .or_else(|| url.strip_prefix("amqps://"))
        .ok_or_else(|| {
            ConnectorError::config("url: expected amqp://host:port/vhost (amqps:// for TLS)")
        })?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(ConnectorError::config(
            "url: credentials go in username/password, not in the URL",
        ));
    }
    AMQPUri::from_str(url).map_err(|e| ConnectorError::config(format!("url `{url}`: {e}")))
}

/// The URI to connect to: `url` with the credentials (lapin's default,
/// `guest`/`guest`, without them).
fn uri(
    url: &str,
    username: Option<&str>,
    password: Option<&SecretString>,
) -> Result<AMQPUri, ConnectorError> {
    let mut uri = parse_url(url)?;
    if let Some(user) = username {
        uri.authority.userinfo.username = user.to_owned();
    }
    if let Some(password) = password {
        uri.authority.userinfo.password = password.expose_secret().to_owned();
    }
    Ok(uri)
}

/// The TLS configuration of a connection to `uri`: `amqps://` verifies
/// the broker against `tls.ca_file` or the system's roots; `tls` with a
/// plain `amqp://` URL is a contradiction.
fn tls_config(
    uri: &AMQPUri,
    tls: Option<&TlsOptions>,
) -> Result<Option<Arc<rustls::ClientConfig>>, ConnectorError> {
    match (&uri.scheme, tls) {
        (AMQPScheme::AMQP, Some(_)) => Err(ConnectorError::config(
            "tls is set but url is a plain amqp:// URL: use amqps://",
        )),
        (AMQPScheme::AMQP, None) => Ok(None),
        (AMQPScheme::AMQPS, Some(tls)) => tls.client_config().map(Some),
        (AMQPScheme::AMQPS, None) => TlsOptions::default().client_config().map(Some),
    }
}

/// Where and as whom to connect.
#[derive(Clone, Copy)]
pub struct Endpoint<'a> {
    /// The URL (no credentials).
    pub url: &'a str,
    /// The user, if not `guest`.
    pub username: Option<&'a str>,
    /// The password, if not `guest`.
    pub password: Option<&'a SecretString>,
    /// Timeout of connecting.
    pub timeout: Duration,
    /// The connection's name shown by the broker.
    pub name: &'a str,
    /// `tls` (only with `amqps://`).
    pub tls: Option<&'a TlsOptions>,
}

/// Opens a connection within the timeout: TCP, with `amqps://` a TLS
/// handshake (rustls), then AMQP.
pub async fn connect(endpoint: Endpoint<'_>) -> Result<Connection, ConnectorError> {
    let uri = uri(endpoint.url, endpoint.username, endpoint.password)?;
    let tls = tls_config(&uri, endpoint.tls)?.map(RustlsConnector::from);
    let properties =
        ConnectionProperties::default().with_connection_name(LongString::from(endpoint.name));
    let runtime = lapin::runtime::default_runtime().map_err(|e| amqp_error(endpoint.url, &e))?;
    let connect = Connection::connector(
        uri,
        runtime,
        async move |uri: AMQPUri, runtime| {
            let mut plain = uri.clone();
            plain.scheme = AMQPScheme::AMQP;
            let stream = plain.connect_async(&runtime).await?;
            match &tls {
                Some(tls) => Ok(stream.into_rustls(tls, &uri.authority.host).await?),
                None => Ok(stream),
            }
        },
        properties,
    );
    match tokio::time::timeout(endpoint.timeout, connect).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(amqp_error(endpoint.url, &e)),
        Err(_) => Err(ConnectorError::timeout(format!(
            "AMQP {}: no connection within {:?}",
            endpoint.url, endpoint.timeout
        ))),
    }
}

/// The `check` of the source and the sink: open a connection and a
/// channel; one line when it fails.
pub async fn check(endpoint: Endpoint<'_>) -> CheckResult {
    let outcome = async {
        let connection = connect(endpoint).await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| amqp_error(endpoint.url, &e))?;
        let _ = channel.close(200, "OK".into()).await;
        let _ = connection.close(200, "OK".into()).await;
        Ok::<_, ConnectorError>(())
    }
    .await;
    match outcome {
        Ok(()) => CheckResult::builder().check_passed("amqp").finish(),
        Err(e) => CheckResult::builder().check("amqp", Err(e)).finish(),
    }
}

/// A lapin error as a connector error: refused credentials or permissions
/// are `Auth` (not retried), a refused vhost or a broken declaration
/// `Config`, a lost or refused connection retryable.
pub fn amqp_error(url: &str, e: &lapin::Error) -> ConnectorError {
    let message = format!("AMQP {url}: {e}");
    match e.kind() {
        ErrorKind::ProtocolError(amqp) => match amqp.kind() {
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED) => {
                ConnectorError::auth(message).with_retryable(false)
            }
            AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED | AMQPHardError::INVALIDPATH) => {
                ConnectorError::config(message).with_retryable(false)
            }
            AMQPErrorKind::Soft(
                AMQPSoftError::NOTFOUND
                | AMQPSoftError::PRECONDITIONFAILED
                | AMQPSoftError::RESOURCELOCKED,
            )
            | AMQPErrorKind::Hard(AMQPHardError::COMMANDINVALID | AMQPHardError::SYNTAXERROR) => {
                ConnectorError::config(message).with_retryable(false)
            }
            _ => ConnectorError::connection(message),
        },
        ErrorKind::AuthProviderError(_) => ConnectorError::auth(message).with_retryable(false),
        // The broker's certificate failed verification (unknown CA, wrong
        // name) or the handshake was refused: retrying changes nothing.
        ErrorKind::IOError(io) if is_tls_refusal(io) => ConnectorError::config(format!(
            "AMQP {url}: TLS handshake failed ({io}): check tls.ca_file, the client certificate (tls.client_cert_file) and the broker's name in url"
        ))
        .with_retryable(false),
        _ => ConnectorError::connection(message),
    }
}

/// Whether an I/O error is a TLS handshake's verdict (a rustls error
/// inside it), not a network failure.
fn is_tls_refusal(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

/// An AMQP short string (≤ 255 bytes) for `what`.
pub fn short(value: &str, what: &str) -> Result<ShortString, ConnectorError> {
    ShortString::try_new(value)
        .map_err(|_| ConnectorError::data(format!("{what} is longer than AMQP's 255 bytes")))
}

/// A queue declaration.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueueDeclare {
    /// Survives a broker restart (with persistent messages, so do they).
    #[serde(default = "yes")]
    pub durable: bool,
    /// Only this connection may use the queue; deleted when it closes.
    #[serde(default)]
    pub exclusive: bool,
    /// Deleted when its last consumer goes.
    #[serde(default)]
    pub auto_delete: bool,
    /// Queue arguments, e.g. `x-dead-letter-exchange`, `x-queue-type`,
    /// `x-max-length` (JSON strings, integers, booleans, numbers, arrays,
    /// objects).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub arguments: Map<String, Value>,
}

impl Default for QueueDeclare {
    fn default() -> Self {
        Self {
            durable: true,
            exclusive: false,
            auto_delete: false,
            arguments: Map::new(),
        }
    }
}

/// A binding of the queue to an exchange.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// The exchange (it must exist, or be declared by a sink).
    pub exchange: String,
    /// The binding key (`#`/`*` patterns on a topic exchange).
    #[serde(default)]
    pub routing_key: String,
}

/// An exchange declaration.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExchangeDeclare {
    /// `direct`, `fanout`, `topic`, `headers` (or a plugin's type).
    #[serde(default = "default_kind", rename = "type")]
    pub kind: String,
    /// Survives a broker restart.
    #[serde(default = "yes")]
    pub durable: bool,
    /// Deleted when its last binding goes.
    #[serde(default)]
    pub auto_delete: bool,
}

fn default_kind() -> String {
    "direct".into()
}
fn yes() -> bool {
    true
}

impl ExchangeDeclare {
    /// lapin's exchange kind.
    pub fn kind(&self) -> lapin::ExchangeKind {
        match self.kind.as_str() {
            "direct" => lapin::ExchangeKind::Direct,
            "fanout" => lapin::ExchangeKind::Fanout,
            "topic" => lapin::ExchangeKind::Topic,
            "headers" => lapin::ExchangeKind::Headers,
            other => lapin::ExchangeKind::Custom(other.to_owned()),
        }
    }
}

/// `arguments` as an AMQP field table (`key` names the config key in
/// errors).
pub fn field_table(
    arguments: &Map<String, Value>,
    key: &str,
) -> Result<FieldTable, ConnectorError> {
    let mut table = FieldTable::default();
    for (name, value) in arguments {
        let field = format!("{key}.{name}");
        table.insert(
            short(name, &field).map_err(as_config)?,
            amqp_value(value, &field)?,
        );
    }
    Ok(table)
}

fn as_config(e: ConnectorError) -> ConnectorError {
    ConnectorError::config(e.message().to_owned())
}

/// A JSON value as an AMQP field value.
fn amqp_value(value: &Value, key: &str) -> Result<AMQPValue, ConnectorError> {
    Ok(match value {
        Value::Null => AMQPValue::Void,
        Value::Bool(b) => AMQPValue::Boolean(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => AMQPValue::LongLongInt(i),
            (None, Some(f)) if n.is_f64() => AMQPValue::Double(f),
            _ => {
                return Err(ConnectorError::config(format!(
                    "{key}: {n} does not fit an AMQP integer (signed 64 bits)"
                )))
            }
        },
        Value::String(s) => AMQPValue::LongString(LongString::from(s.as_str())),
        Value::Array(items) => {
            let mut array = FieldArray::default();
            for item in items {
                array.push(amqp_value(item, key)?);
            }
            AMQPValue::FieldArray(array)
        }
        Value::Object(map) => AMQPValue::FieldTable(field_table(map, key)?),
    })
}

/// An AMQP field value as JSON (byte strings that are not UTF-8 become
/// lossy text: header values are metadata, not payload).
pub fn json_value(value: &AMQPValue) -> Value {
    match value {
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::ShortShortInt(i) => Value::from(*i),
        AMQPValue::ShortShortUInt(i) => Value::from(*i),
        AMQPValue::ShortInt(i) => Value::from(*i),
        AMQPValue::ShortUInt(i) => Value::from(*i),
        AMQPValue::LongInt(i) => Value::from(*i),
        AMQPValue::LongUInt(i) => Value::from(*i),
        AMQPValue::LongLongInt(i) => Value::from(*i),
        AMQPValue::Float(f) => Value::from(*f),
        AMQPValue::Double(f) => Value::from(*f),
        AMQPValue::DecimalValue(d) => Value::String(format!("{}e-{}", d.value, d.scale)),
        AMQPValue::ShortString(s) => Value::String(s.as_str().to_owned()),
        AMQPValue::LongString(s) => {
            Value::String(String::from_utf8_lossy(s.as_bytes()).into_owned())
        }
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(json_value).collect()),
        AMQPValue::Timestamp(t) => Value::from(*t),
        AMQPValue::FieldTable(t) => Value::Object(
            t.inner()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), json_value(v)))
                .collect(),
        ),
        AMQPValue::ByteArray(b) => {
            Value::String(String::from_utf8_lossy(b.as_slice()).into_owned())
        }
        AMQPValue::Void => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_with_credentials_are_refused_without_showing_the_password() {
        let err = parse_url("amqp://bob:hunter2@h:5672/%2f").unwrap_err();
        assert!(err.message().contains("username/password"), "{err}");
        assert!(!err.to_string().contains("hunter2"));
        let err = parse_url("amqps://bob:hunter2@h/%2f").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(parse_url("http://h").is_err());
        let uri = uri("amqp://h:1234/v", Some("u"), Some(&SecretString::new("p"))).unwrap();
        assert_eq!((uri.authority.port, uri.vhost.as_str()), (1234, "v"));
        assert_eq!(uri.authority.userinfo.password, "p");
    }

    #[test]
    fn amqps_uses_tls_and_tls_needs_amqps() {
        let secure = parse_url("amqps://h/%2f").unwrap();
        assert_eq!(
            (&secure.scheme, secure.authority.port),
            (&AMQPScheme::AMQPS, 5671)
        );
        let plain = parse_url("amqp://h/%2f").unwrap();
        assert!(tls_config(&plain, None).unwrap().is_none());
        let err = tls_config(&plain, Some(&TlsOptions::default())).unwrap_err();
        assert!(err.message().contains("amqps://"), "{err}");
    }

    #[test]
    fn arguments_become_field_values_and_back() {
        let args = serde_json::json!({"x-dead-letter-exchange": "dlx", "x-max-length": 10, "f": 1.5, "b": true});
        let table = field_table(args.as_object().unwrap(), "declare.arguments").unwrap();
        let back = json_value(&AMQPValue::FieldTable(table));
        assert_eq!(back, args);
        let big = serde_json::json!({"n": 18446744073709551615u64});
        let err = field_table(big.as_object().unwrap(), "declare.arguments").unwrap_err();
        assert!(err.message().contains("declare.arguments.n"), "{err}");
    }
}
