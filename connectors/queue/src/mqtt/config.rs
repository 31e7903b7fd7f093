//! Settings the `mqtt` source and sink share: the broker address, QoS,
//! credentials, last will, and the client options built from them.

use std::time::Duration;

use rivven_connect::{ConnectorError, SecretString};
use rumqttc::{ConnectReturnCode, ConnectionError, QoS};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

/// Default MQTT port.
pub const DEFAULT_PORT: u16 = 1883;
/// Default port of `mqtts://`.
pub const DEFAULT_TLS_PORT: u16 = 8883;

/// MQTT quality of service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Qos {
    /// QoS 0: fire and forget (no acknowledgement, a lost connection loses messages).
    AtMostOnce,
    /// QoS 1: acknowledged (PUBACK), redelivered until then.
    #[default]
    AtLeastOnce,
    /// QoS 2: the four-way handshake (PUBREC/PUBREL/PUBCOMP).
    ExactlyOnce,
}

impl From<Qos> for QoS {
    fn from(qos: Qos) -> Self {
        match qos {
            Qos::AtMostOnce => QoS::AtMostOnce,
            Qos::AtLeastOnce => QoS::AtLeastOnce,
            Qos::ExactlyOnce => QoS::ExactlyOnce,
        }
    }
}

/// `protocol_version`: the MQTT version the connection speaks.
///
/// `"3.1.1"` (the default; also `"3"`, `"v3.1.1"`) or `"5"` (also `"5.0"`,
/// `"v5"`). Anything else is a configuration error naming the key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (protocol level 4).
    #[default]
    V311,
    /// MQTT 5.0: properties (user properties, content type, response
    /// topic, correlation data, message expiry) and reason codes.
    V5,
}

impl ProtocolVersion {
    /// The accepted spellings.
    pub const ACCEPTED: &'static str =
        "\"3.1.1\" (default) or \"5\" (also \"3\", \"v3.1.1\", \"5.0\", \"v5\")";

    /// Parses one of the [accepted](Self::ACCEPTED) spellings.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "3.1.1" | "3" | "v3.1.1" => Some(Self::V311),
            "5" | "5.0" | "v5" => Some(Self::V5),
            _ => None,
        }
    }
}

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::V311 => "3.1.1",
            Self::V5 => "5",
        })
    }
}

impl JsonSchema for ProtocolVersion {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProtocolVersion".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // The number 5 too: `protocol_version: 5` in YAML is a number.
        schemars::json_schema!({
            "enum": ["3.1.1", "5", "3", "v3.1.1", "5.0", "v5", 5]
        })
    }
}

impl Serialize for ProtocolVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ProtocolVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A number (`protocol_version: 5` in YAML) is accepted as its text.
        let value = serde_json::Value::deserialize(deserializer)?;
        let text = match &value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "protocol_version `{text}` is not supported: use {}",
                Self::ACCEPTED
            ))
        })
    }
}

/// Default `session_expiry_secs`: the MQTT 5 value meaning "never expires",
/// so a persistent session survives any restart (as a 3.1.1 one does).
pub const DEFAULT_SESSION_EXPIRY_SECS: u32 = u32::MAX;

/// `auth`: username and password of the MQTT CONNECT.
#[derive(Clone, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqttAuth {
    /// User name.
    #[validate(length(min = 1))]
    pub username: String,
    /// Password (a secret: never logged or shown).
    pub password: SecretString,
}

impl PartialEq for MqttAuth {
    fn eq(&self, other: &Self) -> bool {
        self.username == other.username
            && self.password.expose_secret() == other.password.expose_secret()
    }
}

impl std::fmt::Debug for MqttAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttAuth")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// `last_will`: the message the broker publishes when the connection is
/// lost without a DISCONNECT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqttLastWill {
    /// Topic of the will.
    #[validate(length(min = 1))]
    pub topic: String,
    /// Its payload.
    pub message: String,
    /// Its QoS (default `at_most_once`).
    #[serde(default = "at_most_once")]
    pub qos: Qos,
    /// Whether the broker retains it.
    #[serde(default)]
    pub retain: bool,
}

fn at_most_once() -> Qos {
    Qos::AtMostOnce
}

/// Where the broker is: `broker_url` (`mqtt://host:port`, `tcp://…`;
/// `mqtts://`, `ssl://` or `tls://` for TLS) or `host` and `port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Whether the URL's scheme asks for TLS.
    pub tls: bool,
}

impl BrokerAddr {
    /// The address from `broker_url` or else `host`/`port`.
    pub fn resolve(
        broker_url: Option<&str>,
        host: Option<&str>,
        port: u16,
    ) -> Result<Self, ConnectorError> {
        match (broker_url, host) {
            (Some(url), _) => parse_url(url),
            (None, Some(host)) if !host.is_empty() => Ok(Self {
                host: host.to_owned(),
                port,
                tls: false,
            }),
            _ => Err(ConnectorError::config(
                "broker_url (or host) is required: where the MQTT broker listens",
            )),
        }
    }
}

impl std::fmt::Display for BrokerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

fn parse_url(url: &str) -> Result<BrokerAddr, ConnectorError> {
    let bad = |why: &str| ConnectorError::config(format!("broker_url `{url}`: {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected mqtt://host:port"))?;
    let tls = match scheme {
        "mqtt" | "tcp" => false,
        "mqtts" | "ssl" | "tls" => true,
        other => {
            return Err(bad(&format!(
                "unsupported scheme `{other}`: use mqtt:// or mqtts://"
            )))
        }
    };
    let authority = rest.trim_end_matches('/');
    if authority.contains('/') || authority.contains('@') {
        return Err(bad(
            "only host and port belong in the URL (credentials go in auth)",
        ));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| bad(&format!("invalid port `{port}`")))?,
        ),
        None if tls => (authority, DEFAULT_TLS_PORT),
        None => (authority, DEFAULT_PORT),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok(BrokerAddr {
        host: host.to_owned(),
        port,
        tls,
    })
}

/// Validator of `broker_url`.
pub fn validate_broker_url(url: &str) -> Result<(), ValidationError> {
    parse_url(url)
        .map(|_| ())
        .map_err(|e| ValidationError::new("broker_url").with_message(e.message().to_owned().into()))
}

/// Validator of a topic filter (`+`/`#` wildcards allowed where MQTT allows them).
pub fn validate_filters(filters: &[String]) -> Result<(), ValidationError> {
    if filters.is_empty() {
        return Err(ValidationError::new("topics")
            .with_message("at least one topic filter is required".into()));
    }
    for filter in filters {
        if !rumqttc::valid_filter(filter) {
            return Err(ValidationError::new("topics")
                .with_message(format!("`{filter}` is not a valid MQTT topic filter").into()));
        }
    }
    Ok(())
}

/// Connection options common to source and sink.
pub struct ClientSettings<'a> {
    pub addr: BrokerAddr,
    pub client_id: String,
    pub clean_session: bool,
    pub keep_alive_secs: u64,
    pub connect_timeout_secs: u64,
    pub max_inflight: u16,
    pub auth: Option<&'a MqttAuth>,
    pub last_will: Option<&'a MqttLastWill>,
    pub manual_acks: bool,
    /// The protocol spoken.
    pub protocol: ProtocolVersion,
    /// MQTT 5: how long the broker keeps the session after a disconnect
    /// (used when `clean_session` is false).
    pub session_expiry_secs: u32,
    /// `Some`: the connection is TLS.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// The TLS configuration of a connection to `addr` with `tls` configured:
/// TLS when the URL's scheme asks for it or `tls` is given with
/// `host`/`port`; `tls` with a plain `mqtt://` URL is a contradiction.
pub fn tls_settings(
    addr: &BrokerAddr,
    url_given: bool,
    tls: Option<&super::MqttTls>,
) -> Result<Option<std::sync::Arc<rustls::ClientConfig>>, ConnectorError> {
    match (addr.tls, tls) {
        (false, Some(_)) if url_given => Err(ConnectorError::config(
            "tls is set but broker_url is a plain mqtt:// URL: use mqtts://",
        )),
        (false, None) => Ok(None),
        (_, Some(tls)) => tls.client_config().map(Some),
        (true, None) => super::MqttTls::default().client_config().map(Some),
    }
}

/// The largest packet sent or received (Mosquitto's default limit is 256 MiB;
/// this bounds one message's memory).
pub const MAX_PACKET_BYTES: usize = 16 * 1024 * 1024;

/// A stable client id for a persistent session when none is configured:
/// derived from the broker and the subscriptions (or `role`), so a restarted
/// pipeline resumes its session.
pub fn default_client_id(role: &str, addr: &BrokerAddr, topics: &[String]) -> String {
    // FNV-1a: stable across builds and platforms (unlike std's hasher).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let text = format!("{role}\0{addr}\0{}", topics.join("\0"));
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let tag = role.chars().next().unwrap_or('c');
    format!("rvn-{tag}-{hash:016x}")
}

/// A rumqttc connection error as a connector error; credentials the broker
/// refused are `Auth` (not retried), a refused client id is `Config`.
pub fn connection_error(addr: &BrokerAddr, e: &ConnectionError) -> ConnectorError {
    let at = format!("MQTT broker {addr}");
    match e {
        ConnectionError::ConnectionRefused(
            code @ (ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized),
        ) => ConnectorError::auth(format!("{at} refused the credentials ({code:?})"))
            .with_retryable(false),
        ConnectionError::ConnectionRefused(
            code @ (ConnectReturnCode::BadClientId | ConnectReturnCode::RefusedProtocolVersion),
        ) => ConnectorError::config(format!("{at} refused the connection ({code:?})")),
        ConnectionError::ConnectionRefused(code) => {
            ConnectorError::connection(format!("{at} refused the connection ({code:?})"))
        }
        // The broker's certificate failed verification (unknown CA, wrong
        // name) or the handshake was refused: retrying changes nothing.
        ConnectionError::Tls(tls) if is_tls_refusal(tls) => ConnectorError::config(format!(
            "{at}: TLS handshake failed ({tls}): check tls.ca_file and the broker's name in broker_url"
        ))
        .with_retryable(false),
        ConnectionError::NetworkTimeout | ConnectionError::FlushTimeout => {
            ConnectorError::timeout(format!("{at}: {e}"))
        }
        other => ConnectorError::connection(format!("{at}: {other}")),
    }
}

/// Whether a TLS error is the handshake's verdict (not a network failure):
/// a rustls error, directly or inside the I/O error tokio-rustls returns.
pub(super) fn is_tls_refusal(e: &rumqttc::TlsError) -> bool {
    match e {
        rumqttc::TlsError::TLS(_) | rumqttc::TlsError::WebPki(_) => true,
        rumqttc::TlsError::Io(io) => io
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some()),
        _ => false,
    }
}

/// Exponential backoff between reconnects.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    next: Duration,
}

impl Backoff {
    /// Starting at `initial_ms`, times `multiplier` each failure, at most `max_ms`.
    pub fn new(initial_ms: u64, max_ms: u64, multiplier: f64) -> Self {
        let initial = Duration::from_millis(initial_ms);
        Self {
            initial,
            max: Duration::from_millis(max_ms.max(initial_ms)),
            multiplier: multiplier.max(1.0),
            next: initial,
        }
    }

    /// The delay before the next attempt (and grows the one after).
    pub fn delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.mul_f64(self.multiplier).min(self.max);
        delay
    }

    /// Connected again: start over.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn broker_urls() {
        let addr = BrokerAddr::resolve(Some("mqtt://broker:1884"), None, 1).unwrap();
        assert_eq!(addr.to_string(), "broker:1884");
        assert_eq!(parse_url("tcp://h").unwrap().port, DEFAULT_PORT);
        let tls = parse_url("mqtts://h").unwrap();
        assert!(tls.tls);
        assert_eq!(tls.port, DEFAULT_TLS_PORT);
        assert!(!parse_url("mqtt://h").unwrap().tls);
        assert!(parse_url("h:1").is_err());
        assert!(parse_url("mqtt://h:99999").is_err());
        assert!(BrokerAddr::resolve(None, None, 1).is_err());
        assert_eq!(BrokerAddr::resolve(None, Some("x"), 7).unwrap().port, 7);
    }

    #[test]
    fn backoff_grows_to_its_cap_and_resets() {
        let mut b = Backoff::new(100, 350, 2.0);
        let delays: Vec<u64> = (0..4).map(|_| b.delay().as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.delay(), Duration::from_millis(100));
    }

    #[test]
    fn client_ids_are_stable_and_distinct() {
        let addr = BrokerAddr::resolve(None, Some("h"), 1).unwrap();
        let a = default_client_id("source", &addr, &["a/#".into()]);
        assert_eq!(a, default_client_id("source", &addr, &["a/#".into()]));
        assert_ne!(a, default_client_id("source", &addr, &["b/#".into()]));
        assert!(
            a.len() <= 23,
            "MQTT 3.1.1 servers must accept ids up to 23 bytes: {a}"
        );
    }
}
