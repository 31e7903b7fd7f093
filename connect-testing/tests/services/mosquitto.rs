//! `Mosquitto`: subscribe/publish/receive, kill/restart.

use std::time::Duration;

use rivven_connect_testing::services::Mosquitto;

use crate::{CLIENT_TIMEOUT, SYSTEM_PORTS};

fn mqtt_client(broker: &Mosquitto, id: &str) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut options = rumqttc::MqttOptions::new(id, broker.host(), broker.port());
    options.set_keep_alive(Duration::from_secs(5));
    rumqttc::AsyncClient::new(options, 10)
}

/// Poll `events` until `pick` returns something (errors fail the test).
async fn mqtt_until<T>(
    events: &mut rumqttc::EventLoop,
    mut pick: impl FnMut(&rumqttc::Event) -> Option<T>,
) -> T {
    tokio::time::timeout(CLIENT_TIMEOUT, async {
        loop {
            let event = events.poll().await.unwrap();
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .expect("MQTT event in time")
}

#[tokio::test]
async fn mosquitto_round_trip_and_accepts_connections_after_kill_and_restart() {
    use rumqttc::{Event, Packet, QoS};
    let mut broker = Mosquitto::start().await.unwrap();
    assert!(!SYSTEM_PORTS.contains(&broker.port()));
    assert_eq!(broker.url(), format!("mqtt://127.0.0.1:{}", broker.port()));

    let (client, mut events) = mqtt_client(&broker, "services-test");
    client
        .subscribe("rivven/test", QoS::AtLeastOnce)
        .await
        .unwrap();
    mqtt_until(&mut events, |e| {
        matches!(e, Event::Incoming(Packet::SubAck(_))).then_some(())
    })
    .await;
    client
        .publish("rivven/test", QoS::AtLeastOnce, false, b"hello".to_vec())
        .await
        .unwrap();
    let payload = mqtt_until(&mut events, |e| match e {
        Event::Incoming(Packet::Publish(p)) if p.topic == "rivven/test" => Some(p.payload.clone()),
        _ => None,
    })
    .await;
    assert_eq!(&payload[..], b"hello");

    broker.kill();
    assert!(!broker.is_running());
    let (_client, mut events) = mqtt_client(&broker, "services-test-after-kill");
    let attempt = tokio::time::timeout(CLIENT_TIMEOUT, events.poll())
        .await
        .unwrap();
    assert!(
        attempt.is_err(),
        "connected to a killed broker: {attempt:?}"
    );

    broker.restart().await.unwrap();
    let (_client, mut events) = mqtt_client(&broker, "services-test-after-restart");
    mqtt_until(&mut events, |e| {
        matches!(e, Event::Incoming(Packet::ConnAck(_))).then_some(())
    })
    .await;
}
