//! The `mqtt` source: subscribes to topic filters; each QoS 1/2 message is
//! acknowledged to the broker only when the runtime resolves its token
//! `Delivered` (after the commit covering it).

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use rivven_connect::{
    Catalog, CheckResult, ConfiguredCatalog, Result, Source, SourceConfig, SourceEvent, State,
    Stream,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use validator::Validate;

use super::config::tls_settings;
use super::config::{
    default_client_id, validate_broker_url, validate_filters, BrokerAddr, ClientSettings, MqttAuth,
    MqttLastWill, ProtocolVersion, Qos, DEFAULT_PORT, DEFAULT_SESSION_EXPIRY_SECS,
};
use super::connect_once;
use super::MqttTls;
use crate::metrics::QueueMetrics;

/// Subscribes to MQTT topic filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(
    name = "mqtt",
    version = env!("CARGO_PKG_VERSION"),
    description = "Subscribes to MQTT topic filters (wildcards + and #) on an MQTT 3.1.1 or 5 broker (MQTT 5 properties become metadata); QoS 1/2 messages are acknowledged to the broker only after the pipeline committed them (a persistent session redelivers the rest)",
    author = "rivven-connect",
    category = "messaging",
    tags = ["mqtt", "iot", "messaging", "pubsub"],
    connector = MqttSource
)]
#[serde(deny_unknown_fields)]
pub struct MqttSourceConfig {
    /// Broker URL: `mqtt://host:port`, or `mqtts://host:port` for TLS (see `tls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(custom(function = "validate_broker_url"))]
    #[schemars(example = &"mqtt://127.0.0.1:1883")]
    pub broker_url: Option<String>,
    /// Broker host (instead of `broker_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Broker port with `host`.
    #[serde(default = "default_port")]
    pub port: u16,
    /// MQTT protocol version: `"3.1.1"` (default) or `"5"` (also `"5.0"`,
    /// `"v5"`). With 5, user properties, content type, response topic,
    /// correlation data and message expiry become `mqtt_*` metadata, and the
    /// broker's reason codes show in errors.
    #[serde(default)]
    pub protocol_version: ProtocolVersion,
    /// Topic filters to subscribe to (`+` one level, `#` the rest).
    #[validate(custom(function = "validate_filters"))]
    #[schemars(example = ["sensors/+/temperature"])]
    pub topics: Vec<String>,
    /// QoS of the subscriptions: `at_most_once`, `at_least_once` (default), `exactly_once`.
    #[serde(default)]
    pub qos: Qos,
    /// Client id; default: a stable id derived from the broker and the topics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 1, max = 65535))]
    pub client_id: Option<String>,
    /// Start without the broker's session. Default `false`: the session
    /// (subscriptions and unacknowledged messages) survives restarts, so
    /// nothing is lost (at-least-once). With MQTT 5, `false` is clean start
    /// off with `session_expiry_secs`, `true` clean start with no expiry.
    #[serde(default)]
    pub clean_session: bool,
    /// MQTT 5: how long (seconds) the broker keeps the session after a
    /// disconnect, with `clean_session: false` (MQTT 5's clean start off +
    /// this session expiry interval). Default 4294967295: never expires, so
    /// the session survives any restart, like a 3.1.1 persistent session; a
    /// shorter one lets the broker forget a pipeline that is gone for good
    /// (messages queued for it are then lost). Ignored with 3.1.1.
    #[serde(default = "default_session_expiry")]
    pub session_expiry_secs: u32,
    /// Username and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub auth: Option<MqttAuth>,
    /// Keep-alive interval in seconds (0: none, with 3.1.1 only; MQTT 5
    /// needs 5 or more).
    #[serde(default = "default_keep_alive")]
    #[validate(range(max = 65535))]
    pub keep_alive_secs: u64,
    /// Timeout of connecting, in seconds.
    #[serde(default = "default_connect_timeout")]
    #[validate(range(min = 1, max = 3600))]
    pub connect_timeout_secs: u64,
    /// The credit: messages delivered to the pipeline and not yet resolved;
    /// reading pauses at this many.
    #[serde(default = "default_max_inflight")]
    #[validate(range(min = 1, max = 65535))]
    pub max_inflight: u16,
    /// First delay before reconnecting.
    #[serde(default = "default_retry_initial")]
    #[validate(range(min = 1, max = 3600000))]
    pub retry_initial_ms: u64,
    /// Largest delay before reconnecting.
    #[serde(default = "default_retry_max")]
    #[validate(range(min = 1, max = 3600000))]
    pub retry_max_ms: u64,
    /// Growth of the delay per failed attempt.
    #[serde(default = "default_retry_multiplier")]
    #[validate(range(min = 1.0, max = 100.0))]
    pub retry_multiplier: f64,
    /// Parse each payload as JSON (a payload that is not JSON is a bad
    /// record, handled per `on_error`); otherwise the data is the payload
    /// as a string (base64 for non-UTF-8, flagged `payload_encoding: base64`).
    #[serde(default = "yes")]
    pub parse_json_payload: bool,
    /// Add `mqtt_topic`, `mqtt_qos`, `mqtt_retain`, `mqtt_dup` to the
    /// event's metadata (MQTT 5 properties, `mqtt_user_properties` and the
    /// others, are recorded either way).
    #[serde(default = "yes")]
    pub include_metadata: bool,
    /// Last will and testament.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(nested)]
    pub last_will: Option<MqttLastWill>,
    /// TLS: trusted CA, client certificate (`mqtts://` uses the system's
    /// roots without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<MqttTls>,
}

fn default_port() -> u16 {
    DEFAULT_PORT
}
pub(super) fn default_keep_alive() -> u64 {
    60
}
pub(super) fn default_connect_timeout() -> u64 {
    30
}
pub(super) fn default_max_inflight() -> u16 {
    100
}
pub(super) fn default_retry_initial() -> u64 {
    100
}
pub(super) fn default_retry_max() -> u64 {
    10_000
}
pub(super) fn default_retry_multiplier() -> f64 {
    2.0
}
fn default_session_expiry() -> u32 {
    DEFAULT_SESSION_EXPIRY_SECS
}
fn yes() -> bool {
    true
}

impl MqttSourceConfig {
    /// Subscribe to `topics` at `broker_url`; defaults otherwise.
    pub fn new(broker_url: impl Into<String>, topics: Vec<String>) -> Self {
        Self {
            broker_url: Some(broker_url.into()),
            host: None,
            port: DEFAULT_PORT,
            protocol_version: ProtocolVersion::default(),
            topics,
            qos: Qos::default(),
            client_id: None,
            clean_session: false,
            session_expiry_secs: DEFAULT_SESSION_EXPIRY_SECS,
            auth: None,
            keep_alive_secs: default_keep_alive(),
            connect_timeout_secs: default_connect_timeout(),
            max_inflight: default_max_inflight(),
            retry_initial_ms: default_retry_initial(),
            retry_max_ms: default_retry_max(),
            retry_multiplier: default_retry_multiplier(),
            parse_json_payload: true,
            include_metadata: true,
            last_will: None,
            tls: None,
        }
    }

    /// The broker's address.
    pub fn addr(&self) -> Result<BrokerAddr> {
        BrokerAddr::resolve(self.broker_url.as_deref(), self.host.as_deref(), self.port)
    }

    /// The client id used (configured or derived).
    pub fn effective_client_id(&self) -> Result<String> {
        Ok(match &self.client_id {
            Some(id) => id.clone(),
            None => default_client_id("source", &self.addr()?, &self.topics),
        })
    }

    fn settings(&self) -> Result<ClientSettings<'_>> {
        let addr = self.addr()?;
        Ok(ClientSettings {
            tls: tls_settings(&addr, self.broker_url.is_some(), self.tls.as_ref())?,
            addr,
            client_id: self.effective_client_id()?,
            clean_session: self.clean_session,
            keep_alive_secs: self.keep_alive_secs,
            connect_timeout_secs: self.connect_timeout_secs,
            max_inflight: self.max_inflight,
            auth: self.auth.as_ref(),
            last_will: self.last_will.as_ref(),
            manual_acks: true,
            protocol: self.protocol_version,
            session_expiry_secs: self.session_expiry_secs,
        })
    }
}

/// The `mqtt` source (see the [module docs](super)).
#[derive(Debug, Clone)]
pub struct MqttSource {
    metrics: Arc<QueueMetrics>,
}

impl Default for MqttSource {
    fn default() -> Self {
        Self {
            metrics: Arc::new(QueueMetrics::new("mqtt", "source")),
        }
    }
}

impl MqttSource {
    /// A source; it connects when it reads.
    pub fn new() -> Self {
        Self::default()
    }

    /// What its readers counted so far (every `read` of this instance).
    pub fn metrics(&self) -> &QueueMetrics {
        &self.metrics
    }
}

#[async_trait]
impl Source for MqttSource {
    type Config = MqttSourceConfig;

    async fn check(&self, config: &Self::Config) -> Result<CheckResult> {
        // A probe with its own client id: it must not take over the
        // pipeline's persistent session.
        let mut settings = config.settings()?;
        settings.client_id = format!("{}-check", settings.client_id);
        settings.clean_session = true;
        settings.last_will = None;
        Ok(match connect_once(&settings).await {
            Ok(()) => CheckResult::builder().check_passed("broker").finish(),
            Err(e) => CheckResult::builder().check("broker", Err(e)).finish(),
        })
    }

    async fn discover(&self, config: &Self::Config) -> Result<Catalog> {
        let streams = config
            .topics
            .iter()
            .map(|t| Stream::new(t.clone(), json!({})))
            .collect();
        Ok(Catalog::new(streams))
    }

    async fn read(
        &self,
        config: &Self::Config,
        _catalog: &ConfiguredCatalog,
        _state: Option<State>,
    ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        let settings = config.settings()?;
        super::reader::spawn(config.clone(), &settings, self.metrics.clone())
    }

    fn exclusive_resource(&self, config: &Self::Config) -> Option<String> {
        let addr = config.addr().ok()?;
        Some(format!(
            "mqtt:{addr}/{}",
            config.effective_client_id().ok()?
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_and_keys() {
        let config = MqttSourceConfig::from_value(json!({
            "broker_url": "mqtt://127.0.0.1:1883", "topics": ["a/+/b"]
        }))
        .unwrap();
        assert_eq!(
            config,
            MqttSourceConfig::new("mqtt://127.0.0.1:1883", vec!["a/+/b".into()])
        );
        assert!(!config.clean_session);
        assert_eq!(config.qos, Qos::AtLeastOnce);
        let bad_qos = MqttSourceConfig::from_value(json!({
            "broker_url": "mqtt://h", "topics": ["t"], "qos": "sometimes"
        }))
        .unwrap_err();
        assert!(bad_qos.to_string().contains("qos"), "{bad_qos}");
        let bad_filter = MqttSourceConfig::from_value(json!({
            "broker_url": "mqtt://h", "topics": ["a/#/b"]
        }))
        .unwrap_err();
        assert!(bad_filter.to_string().contains("a/#/b"), "{bad_filter}");
        let scheme = MqttSourceConfig::from_value(json!({
            "broker_url": "ws://h:8883", "topics": ["t"]
        }))
        .unwrap_err();
        assert!(
            scheme.to_string().contains("unsupported scheme `ws`"),
            "{scheme}"
        );
        // `tls` with a plain URL contradicts it: an error, not a silent
        // plain connection.
        let plain = MqttSourceConfig::from_value(json!({
            "broker_url": "mqtt://h", "topics": ["t"], "tls": {"ca_file": "/ca.pem"}
        }))
        .unwrap();
        let err = plain
            .settings()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("use mqtts://"), "{err}");
    }

    #[test]
    fn protocol_versions() {
        let version = |v: serde_json::Value| {
            MqttSourceConfig::from_value(json!({
                "broker_url": "mqtt://h", "topics": ["t"], "protocol_version": v
            }))
            .map(|c| c.protocol_version)
        };
        for v in [json!("5"), json!("5.0"), json!("v5"), json!(5)] {
            assert_eq!(version(v).unwrap(), ProtocolVersion::V5);
        }
        for v in [json!("3.1.1"), json!("3"), json!("v3.1.1")] {
            assert_eq!(version(v).unwrap(), ProtocolVersion::V311);
        }
        for v in [json!("4"), json!("3.1"), json!("mqttv5"), json!(true)] {
            let err = version(v.clone()).unwrap_err().to_string();
            assert!(err.contains("protocol_version"), "{v}: {err}");
        }
        let config = MqttSourceConfig::new("mqtt://h", vec!["t".into()]);
        assert_eq!(config.protocol_version, ProtocolVersion::V311);
        assert_eq!(config.session_expiry_secs, u32::MAX);
        // rumqttc's MQTT 5 client needs a keep-alive of 5 s or more.
        let short = MqttSourceConfig::from_value(json!({
            "broker_url": "mqtt://h", "topics": ["t"], "protocol_version": "5",
            "keep_alive_secs": 2
        }))
        .unwrap();
        let err = short
            .settings()
            .and_then(|s| s.connect(1).map(|_| ()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("keep_alive_secs"), "{err}");
    }

    #[test]
    fn the_password_never_shows() {
        let config = MqttSourceConfig::from_value(json!({
            "broker_url": "mqtt://h", "topics": ["t"],
            "auth": {"username": "u", "password": "hunter2"}
        }))
        .unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&config).unwrap().contains("hunter2"));
        // A numeric password (YAML `password: 123456789`) is refused without
        // showing it; quoted, it is a secret like any other.
        let err = MqttSourceConfig::from_value(json!({
            "broker_url": "mqtt://h", "topics": ["t"],
            "auth": {"username": "u", "password": 123456789}
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("password"), "{err}");
        assert!(!err.contains("123456789"), "{err}");
        let config = MqttSourceConfig::from_value(json!({
            "broker_url": "mqtt://h", "topics": ["t"],
            "auth": {"username": "u", "password": "123456789"}
        }))
        .unwrap();
        assert!(!format!("{config:?}").contains("123456789"));
        assert!(!serde_json::to_string(&config)
            .unwrap()
            .contains("123456789"));
    }
}
