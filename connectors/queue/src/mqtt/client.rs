//! One client over both protocol versions: rumqttc's MQTT 3.1.1 client
//! (its root module) and its MQTT 5 client (`rumqttc::v5`) behind the
//! [`Client`] and [`Connection`] enums, and what the connection yields as
//! one [`Polled`], so the source and the sink are written once.

use std::time::Duration;

use bytes::Bytes;
use rivven_connect::ConnectorError;
use rumqttc::v5;
use rumqttc::v5::mqttbytes::v5 as p5;
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::{Event, Incoming, Outgoing};

use super::config::{
    connection_error, is_tls_refusal, BrokerAddr, ClientSettings, ProtocolVersion, Qos,
    MAX_PACKET_BYTES,
};

/// The request side of a connection (cheap to clone).
#[derive(Clone)]
pub(super) enum Client {
    V311(rumqttc::AsyncClient),
    V5(v5::AsyncClient),
}

/// The event loop of a connection.
pub(super) enum Connection {
    V311(Box<rumqttc::EventLoop>),
    V5(Box<v5::EventLoop>),
}

/// A request the client could not queue.
#[derive(Debug)]
pub(super) enum RequestError {
    /// The request queue is full: try again once the loop has polled.
    Full,
    /// The event loop is gone.
    Closed(String),
}

/// A PUBLISH received, with the packet its acknowledgement needs.
pub(super) struct Received {
    /// Its topic (resolved from a topic alias by rumqttc).
    pub topic: String,
    packet: ReceivedPacket,
}

enum ReceivedPacket {
    V311(rumqttc::Publish),
    V5(p5::Publish),
}

impl Received {
    /// The payload.
    pub fn payload(&self) -> &Bytes {
        match &self.packet {
            ReceivedPacket::V311(p) => &p.payload,
            ReceivedPacket::V5(p) => &p.payload,
        }
    }

    /// QoS (0, 1, 2), retain and dup flags.
    pub fn flags(&self) -> (u8, bool, bool) {
        match &self.packet {
            ReceivedPacket::V311(p) => (p.qos as u8, p.retain, p.dup),
            ReceivedPacket::V5(p) => (p.qos as u8, p.retain, p.dup),
        }
    }

    /// The packet id (0 at QoS 0).
    pub fn pkid(&self) -> u16 {
        match &self.packet {
            ReceivedPacket::V311(p) => p.pkid,
            ReceivedPacket::V5(p) => p.pkid,
        }
    }

    /// Its MQTT 5 properties (none with 3.1.1).
    pub fn properties(&self) -> Option<&p5::PublishProperties> {
        match &self.packet {
            ReceivedPacket::V311(_) => None,
            ReceivedPacket::V5(p) => p.properties.as_ref(),
        }
    }
}

/// Which acknowledgement of an outgoing publish arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AckStep {
    /// PUBACK (QoS 1 done).
    Ack,
    /// PUBREC (QoS 2 half way).
    Rec,
    /// PUBCOMP (QoS 2 done).
    Comp,
}

/// An MQTT 5 reason code the broker refused something with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    /// The reason code (e.g. `0x87`).
    pub code: u8,
    /// Its name (e.g. `NotAuthorized`).
    pub reason: String,
}

impl Refusal {
    fn new(code: u8, reason: impl std::fmt::Debug) -> Self {
        Self {
            code,
            reason: format!("{reason:?}"),
        }
    }

    /// The broker's authorization refused it (0x87): an `Auth` error.
    pub fn not_authorized(&self) -> bool {
        self.code == 0x87
    }

    /// A connector error saying what was refused, with the reason code;
    /// `Auth` for "not authorized", else `kind`.
    pub fn error(&self, what: &str, otherwise: fn(String) -> ConnectorError) -> ConnectorError {
        let message = format!("{what}: {} (reason code 0x{:02x})", self.reason, self.code);
        if self.not_authorized() {
            ConnectorError::auth(message).with_retryable(false)
        } else {
            otherwise(message)
        }
    }
}

/// What the connection yielded, whatever the protocol.
pub(super) enum Polled {
    /// CONNACK (accepted).
    ConnAck { session_present: bool },
    /// SUBACK: the first filter refused, by index, if any.
    SubAck { refused: Option<(usize, Refusal)> },
    /// An incoming PUBLISH.
    Publish(Received),
    /// An outgoing PUBLISH went to the socket with this packet id.
    Sent(u16),
    /// An acknowledgement of an outgoing publish; `refused` with an MQTT 5
    /// failure reason code (the publish is over then, unaccepted).
    Acked {
        pkid: u16,
        step: AckStep,
        refused: Option<Refusal>,
    },
    /// The DISCONNECT went out.
    Disconnected,
    /// Anything else (pings, PUBREL…).
    Other,
}

impl ClientSettings<'_> {
    /// A client and its connection (not connected yet).
    pub(super) fn connect(&self, capacity: usize) -> Result<(Client, Connection), ConnectorError> {
        match self.protocol {
            ProtocolVersion::V311 => {
                let (client, mut eventloop) =
                    rumqttc::AsyncClient::new(self.options_v311(), capacity);
                let mut network = rumqttc::NetworkOptions::new();
                network.set_connection_timeout(self.connect_timeout_secs);
                eventloop.set_network_options(network);
                Ok((Client::V311(client), Connection::V311(Box::new(eventloop))))
            }
            ProtocolVersion::V5 => {
                let (client, eventloop) = v5::AsyncClient::new(self.options_v5()?, capacity);
                Ok((Client::V5(client), Connection::V5(Box::new(eventloop))))
            }
        }
    }

    fn options_v311(&self) -> rumqttc::MqttOptions {
        let mut options =
            rumqttc::MqttOptions::new(&self.client_id, &self.addr.host, self.addr.port);
        options
            .set_keep_alive(Duration::from_secs(self.keep_alive_secs))
            .set_clean_session(self.clean_session)
            .set_inflight(self.max_inflight)
            .set_manual_acks(self.manual_acks)
            .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
        if let Some(tls) = &self.tls {
            options.set_transport(rumqttc::Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(tls.clone()),
            ));
        }
        if let Some(auth) = self.auth {
            options.set_credentials(&auth.username, auth.password.expose_secret());
        }
        if let Some(will) = self.last_will {
            options.set_last_will(rumqttc::LastWill::new(
                &will.topic,
                will.message.clone(),
                will.qos.into(),
                will.retain,
            ));
        }
        options
    }

    fn options_v5(&self) -> Result<v5::MqttOptions, ConnectorError> {
        // rumqttc's MQTT 5 client cannot keep alive more often than every
        // 5 s, nor turn keep-alive off.
        if self.keep_alive_secs < 5 {
            return Err(ConnectorError::config(format!(
                "keep_alive_secs {} is not supported with protocol_version 5: use 5 or more",
                self.keep_alive_secs
            )));
        }
        let mut options = v5::MqttOptions::new(&self.client_id, &self.addr.host, self.addr.port);
        options
            .set_keep_alive(Duration::from_secs(self.keep_alive_secs))
            .set_clean_start(self.clean_session)
            .set_connection_timeout(self.connect_timeout_secs)
            .set_manual_acks(self.manual_acks)
            // The credit: the broker sends at most this many unacknowledged
            // QoS 1/2 messages; and the sink's publishes in flight.
            .set_receive_maximum(Some(self.max_inflight))
            .set_outgoing_inflight_upper_limit(self.max_inflight)
            .set_max_packet_size(Some(MAX_PACKET_BYTES as u32));
        if !self.clean_session {
            options.set_session_expiry_interval(Some(self.session_expiry_secs));
        }
        if let Some(tls) = &self.tls {
            options.set_transport(rumqttc::Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(tls.clone()),
            ));
        }
        if let Some(auth) = self.auth {
            options.set_credentials(&auth.username, auth.password.expose_secret());
        }
        if let Some(will) = self.last_will {
            options.set_last_will(p5::LastWill::new(
                &will.topic,
                will.message.clone(),
                qos5(will.qos),
                will.retain,
                None,
            ));
        }
        Ok(options)
    }
}

/// The MQTT 5 client's QoS.
pub(super) fn qos5(qos: Qos) -> QoS5 {
    match qos {
        Qos::AtMostOnce => QoS5::AtMostOnce,
        Qos::AtLeastOnce => QoS5::AtLeastOnce,
        Qos::ExactlyOnce => QoS5::ExactlyOnce,
    }
}

fn request_error<T>(full: bool, e: T) -> RequestError
where
    T: std::fmt::Display,
{
    if full {
        RequestError::Full
    } else {
        RequestError::Closed(e.to_string())
    }
}

impl Client {
    /// Queues the acknowledgement of `message` if there is room.
    pub fn try_ack(&self, message: &Received) -> Result<(), RequestError> {
        match (self, &message.packet) {
            (Self::V311(c), ReceivedPacket::V311(p)) => c
                .try_ack(p)
                .map_err(|e| request_error(matches!(e, rumqttc::ClientError::TryRequest(_)), e)),
            (Self::V5(c), ReceivedPacket::V5(p)) => c
                .try_ack(p)
                .map_err(|e| request_error(matches!(e, v5::ClientError::TryRequest(_)), e)),
            _ => Err(RequestError::Closed("protocol mismatch".into())),
        }
    }

    /// Queues the acknowledgement of `message`, waiting for room.
    pub async fn ack(&self, message: &Received) -> Result<(), String> {
        match (self, &message.packet) {
            (Self::V311(c), ReceivedPacket::V311(p)) => c.ack(p).await.map_err(|e| e.to_string()),
            (Self::V5(c), ReceivedPacket::V5(p)) => c.ack(p).await.map_err(|e| e.to_string()),
            _ => Err("protocol mismatch".into()),
        }
    }

    /// Queues one SUBSCRIBE of every filter at `qos`.
    pub fn try_subscribe_many(&self, filters: &[String], qos: Qos) -> Result<(), String> {
        match self {
            Self::V311(c) => c
                .try_subscribe_many(
                    filters
                        .iter()
                        .map(|f| rumqttc::SubscribeFilter::new(f.clone(), qos.into())),
                )
                .map_err(|e| e.to_string()),
            Self::V5(c) => c
                .try_subscribe_many(
                    filters
                        .iter()
                        .map(|f| p5::Filter::new(f.clone(), qos5(qos))),
                )
                .map_err(|e| e.to_string()),
        }
    }

    /// Queues a PUBLISH if there is room; `properties` only with MQTT 5.
    pub fn try_publish(
        &self,
        topic: &str,
        qos: Qos,
        retain: bool,
        payload: Bytes,
        properties: Option<&p5::PublishProperties>,
    ) -> Result<(), RequestError> {
        match self {
            Self::V311(c) => c
                .try_publish(topic, qos.into(), retain, payload)
                .map_err(|e| request_error(matches!(e, rumqttc::ClientError::TryRequest(_)), e)),
            Self::V5(c) => {
                let sent = match properties {
                    Some(p) => {
                        c.try_publish_with_properties(topic, qos5(qos), retain, payload, p.clone())
                    }
                    None => c.try_publish(topic, qos5(qos), retain, payload),
                };
                sent.map_err(|e| request_error(matches!(e, v5::ClientError::TryRequest(_)), e))
            }
        }
    }

    /// Queues a DISCONNECT; `false` if the loop is gone or the queue full.
    pub fn try_disconnect(&self) -> bool {
        match self {
            Self::V311(c) => c.try_disconnect().is_ok(),
            Self::V5(c) => c.try_disconnect().is_ok(),
        }
    }
}

impl Connection {
    /// The next event; a connection error as a connector error (credentials
    /// refused: `Auth`, not retryable).
    pub async fn poll(&mut self, addr: &BrokerAddr) -> Result<Polled, ConnectorError> {
        match self {
            Self::V311(eventloop) => eventloop
                .poll()
                .await
                .map(polled_v311)
                .map_err(|e| connection_error(addr, &e)),
            Self::V5(eventloop) => eventloop
                .poll()
                .await
                .map(polled_v5)
                .map_err(|e| connection_error_v5(addr, &e)),
        }
    }

    /// The events read before a connection error and not yielded yet (a
    /// PUBACK read in the same batch as the end of the connection).
    pub fn drain_buffered(&mut self) -> Vec<Polled> {
        match self {
            Self::V311(eventloop) => eventloop.state.events.drain(..).map(polled_v311).collect(),
            Self::V5(eventloop) => eventloop.state.events.drain(..).map(polled_v5).collect(),
        }
    }

    /// Drops the network connection: the next poll reconnects.
    pub fn clean(&mut self) {
        match self {
            Self::V311(eventloop) => eventloop.clean(),
            Self::V5(eventloop) => eventloop.clean(),
        }
    }
}

fn polled_v311(event: Event) -> Polled {
    match event {
        Event::Incoming(Incoming::ConnAck(ack)) => Polled::ConnAck {
            session_present: ack.session_present,
        },
        Event::Incoming(Incoming::SubAck(ack)) => Polled::SubAck {
            refused: ack
                .return_codes
                .iter()
                .position(|c| *c == rumqttc::SubscribeReasonCode::Failure)
                .map(|i| (i, Refusal::new(0x80, "Failure"))),
        },
        Event::Incoming(Incoming::Publish(publish)) => Polled::Publish(Received {
            topic: publish.topic.clone(),
            packet: ReceivedPacket::V311(publish),
        }),
        Event::Incoming(Incoming::PubAck(ack)) => acked(ack.pkid, AckStep::Ack, None),
        Event::Incoming(Incoming::PubRec(ack)) => acked(ack.pkid, AckStep::Rec, None),
        Event::Incoming(Incoming::PubComp(ack)) => acked(ack.pkid, AckStep::Comp, None),
        Event::Outgoing(Outgoing::Publish(pkid)) => Polled::Sent(pkid),
        Event::Outgoing(Outgoing::Disconnect) => Polled::Disconnected,
        _ => Polled::Other,
    }
}

fn acked(pkid: u16, step: AckStep, refused: Option<Refusal>) -> Polled {
    Polled::Acked {
        pkid,
        step,
        refused,
    }
}

fn polled_v5(event: v5::Event) -> Polled {
    use p5::Packet;
    match event {
        v5::Event::Incoming(Packet::ConnAck(ack)) => Polled::ConnAck {
            session_present: ack.session_present,
        },
        v5::Event::Incoming(Packet::SubAck(ack)) => Polled::SubAck {
            refused: ack
                .return_codes
                .iter()
                .enumerate()
                .find_map(|(i, c)| suback_refusal(c).map(|r| (i, r))),
        },
        v5::Event::Incoming(Packet::Publish(publish)) => Polled::Publish(Received {
            topic: String::from_utf8_lossy(&publish.topic).into_owned(),
            packet: ReceivedPacket::V5(publish),
        }),
        v5::Event::Incoming(Packet::PubAck(ack)) => {
            acked(ack.pkid, AckStep::Ack, puback_refusal(&ack.reason))
        }
        v5::Event::Incoming(Packet::PubRec(ack)) => {
            acked(ack.pkid, AckStep::Rec, pubrec_refusal(&ack.reason))
        }
        v5::Event::Incoming(Packet::PubComp(ack)) => {
            let refused = match ack.reason {
                p5::PubCompReason::Success => None,
                reason @ p5::PubCompReason::PacketIdentifierNotFound => {
                    Some(Refusal::new(0x92, reason))
                }
            };
            acked(ack.pkid, AckStep::Comp, refused)
        }
        v5::Event::Outgoing(Outgoing::Publish(pkid)) => Polled::Sent(pkid),
        v5::Event::Outgoing(Outgoing::Disconnect) => Polled::Disconnected,
        _ => Polled::Other,
    }
}

fn suback_refusal(code: &p5::SubscribeReasonCode) -> Option<Refusal> {
    use p5::SubscribeReasonCode as C;
    let number = match code {
        C::Success(_) => return None,
        C::Failure | C::Unspecified => 0x80,
        C::ImplementationSpecific => 0x83,
        C::NotAuthorized => 0x87,
        C::TopicFilterInvalid => 0x8f,
        C::PkidInUse => 0x91,
        C::QuotaExceeded => 0x97,
        C::SharedSubscriptionsNotSupported => 0x9e,
        C::SubscriptionIdNotSupported => 0xa1,
        C::WildcardSubscriptionsNotSupported => 0xa2,
    };
    Some(Refusal::new(number, code))
}

fn puback_refusal(reason: &p5::PubAckReason) -> Option<Refusal> {
    use p5::PubAckReason as R;
    let number = match reason {
        R::Success | R::NoMatchingSubscribers => return None,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    };
    Some(Refusal::new(number, reason))
}

fn pubrec_refusal(reason: &p5::PubRecReason) -> Option<Refusal> {
    use p5::PubRecReason as R;
    let number = match reason {
        R::Success | R::NoMatchingSubscribers => return None,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    };
    Some(Refusal::new(number, reason))
}

/// An MQTT 5 connection error as a connector error: refused credentials or
/// authorization are `Auth` (not retried), a refused client id or protocol
/// `Config`, the rest retryable.
pub(super) fn connection_error_v5(addr: &BrokerAddr, e: &v5::ConnectionError) -> ConnectorError {
    use p5::ConnectReturnCode as C;
    let at = format!("MQTT broker {addr}");
    let refused = |code: &C| match code {
        C::BadUserNamePassword | C::NotAuthorized | C::Banned | C::BadAuthenticationMethod => {
            ConnectorError::auth(format!("{at} refused the credentials ({code:?})"))
                .with_retryable(false)
        }
        C::BadClientId
        | C::ClientIdentifierNotValid
        | C::RefusedProtocolVersion
        | C::UnsupportedProtocolVersion => {
            ConnectorError::config(format!("{at} refused the connection ({code:?})"))
        }
        other => ConnectorError::connection(format!("{at} refused the connection ({other:?})")),
    };
    match e {
        v5::ConnectionError::ConnectionRefused(code) => refused(code),
        v5::ConnectionError::MqttState(v5::StateError::ConnFail { reason }) => refused(reason),
        v5::ConnectionError::MqttState(v5::StateError::ServerDisconnect {
            reason_code,
            reason_string,
        }) => {
            let why = reason_string.as_deref().unwrap_or("no reason given");
            let message = format!("{at} disconnected us ({reason_code:?}: {why})");
            if matches!(reason_code, p5::DisconnectReasonCode::NotAuthorized) {
                ConnectorError::auth(message).with_retryable(false)
            } else {
                ConnectorError::connection(message)
            }
        }
        v5::ConnectionError::Tls(tls) if is_tls_refusal(tls) => ConnectorError::config(format!(
            "{at}: TLS handshake failed ({tls}): check tls.ca_file and the broker's name in broker_url"
        ))
        .with_retryable(false),
        v5::ConnectionError::Timeout(_) => ConnectorError::timeout(format!("{at}: {e}")),
        other => ConnectorError::connection(format!("{at}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reason_codes_name_their_number() {
        let r = puback_refusal(&p5::PubAckReason::NotAuthorized).unwrap();
        assert_eq!(r.code, 0x87);
        let e = r.error("publish to `t`", ConnectorError::data);
        assert_eq!(e.kind(), rivven_connect::ErrorKind::Auth);
        assert!(
            e.to_string().contains("NotAuthorized (reason code 0x87)"),
            "{e}"
        );
        assert!(puback_refusal(&p5::PubAckReason::NoMatchingSubscribers).is_none());
        let quota = pubrec_refusal(&p5::PubRecReason::QuotaExceeded).unwrap();
        assert_eq!(
            quota.error("x", ConnectorError::data).kind(),
            rivven_connect::ErrorKind::Data
        );
        assert!(suback_refusal(&p5::SubscribeReasonCode::Success(QoS5::AtLeastOnce)).is_none());
        assert_eq!(
            suback_refusal(&p5::SubscribeReasonCode::NotAuthorized).map(|r| r.code),
            Some(0x87)
        );
    }
}
