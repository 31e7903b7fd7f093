//! MQTT 5 refusals: wrong credentials are an `Auth` error, a publish the
//! broker's ACL denies comes back with reason code 0x87 (a per-record
//! `Auth` failure of the sink), an unknown `protocol_version` is a
//! configuration error naming the key. (Mosquitto 2.0 grants every
//! SUBSCRIBE, its ACLs apply at delivery, so a refused subscription cannot
//! be provoked here; its mapping is unit-tested in `client.rs`.)

use futures::StreamExt;
use rivven_connect::{ErrorKind, Sink, SinkConfig, Source, SourceConfig, SourceEvent};
use rivven_connect_queue::mqtt::{MqttSink, MqttSinkConfig, MqttSource, MqttSourceConfig};
use rivven_connect_testing::services::Mosquitto;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_wrong_credentials_are_an_auth_error_not_retried() {
    let broker = Mosquitto::start_with_user("reader", "right-password")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut wrong = source_json(&broker, &["t"], "v5-wrong-creds");
    wrong["protocol_version"] = json!("5");
    wrong["auth"] = json!({"username": "reader", "password": "8675309"});
    let wrong = MqttSourceConfig::from_value(wrong).unwrap();
    let check = MqttSource::new().check(&wrong).await.unwrap();
    assert!(!check.is_success(), "{check:?}");
    assert!(!check.summary().contains("8675309"));
    let mut events = MqttSource::new()
        .read(&wrong, &rivven_connect::ConfiguredCatalog::default(), None)
        .await
        .unwrap();
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
        .await
        .expect("the refusal is reported, not retried forever")
        .expect("an item");
    let err = first.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!err.is_retryable());
    // Mosquitto answers MQTT 5 clients with 0x87 (not authorized).
    assert!(err.to_string().contains("refused the credentials"), "{err}");

    let mut sink = sink_json(&broker, "t");
    sink["protocol_version"] = json!("5");
    sink["auth"] = json!({"username": "reader", "password": "nope"});
    let sink = MqttSinkConfig::from_value(sink).unwrap();
    let events = vec![SourceEvent::record("s", json!({"id": 1}))];
    let err = MqttSink::new()
        .write_borrowed(&sink, &events)
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!err.is_retryable());

    let mut right = source_json(&broker, &["t"], "v5-right-creds");
    right["protocol_version"] = json!("5");
    right["auth"] = json!({"username": "reader", "password": "right-password"});
    let right = MqttSourceConfig::from_value(right).unwrap();
    assert!(MqttSource::new().check(&right).await.unwrap().is_success());
}

/// Anonymous clients may read and write `open/#` only.
async fn acl_broker() -> Mosquitto {
    Mosquitto::builder()
        .acl("topic readwrite open/#\n")
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_a_publish_the_acl_denies_is_a_per_record_failure_the_rest_are_written() {
    let broker = acl_broker().await;
    // Everything that reaches `open/#` for 6 s.
    let subscriber = std::process::Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args(["-t", "open/#", "-q", "1", "-v", "-W", "6"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("mosquitto_sub (Debian package mosquitto-clients)");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut json = sink_json(&broker, "{stream}");
    json["protocol_version"] = json!("5");
    let config = MqttSinkConfig::from_value(json).unwrap();
    let events = vec![
        SourceEvent::record("open/a", json!({"id": 1})),
        SourceEvent::record("secret/a", json!({"id": 2})),
        SourceEvent::record("open/b", json!({"id": 3})),
    ];
    let sink = MqttSink::new();
    // Mosquitto 2.0 (with persistence, as here) answers the refused
    // publish with PUBACK 0x87 and then drops the connection: the sink
    // publishes the rest on a new one.
    let result = sink.write_borrowed(&config, &events).await.unwrap();
    assert_eq!(result.records_written, 2, "{result:?}");
    assert_eq!(result.failures.len(), 1, "{result:?}");
    let failure = &result.failures[0];
    assert_eq!(failure.index, Some(1), "{result:?}");
    assert_eq!(failure.kind, ErrorKind::Auth, "{result:?}");
    let text = &failure.error;
    assert!(
        text.contains("secret/a") && text.contains("NotAuthorized (reason code 0x87)"),
        "{text}"
    );
    // The next batch is written as usual.
    let again = vec![SourceEvent::record("open/c", json!({"id": 4}))];
    assert!(sink
        .write_borrowed(&config, &again)
        .await
        .unwrap()
        .is_success());
    let out = subscriber.wait_with_output().unwrap();
    let mut topics: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(t, _)| t.to_owned()))
        .collect();
    // At-least-once: a publish accepted just before the connection dropped
    // may come twice.
    topics.dedup();
    assert_eq!(topics, ["open/a", "open/b", "open/c"]);
}

#[test]
fn an_unknown_protocol_version_is_a_config_error_naming_the_key() {
    for (value, shown) in [
        (json!("4"), "`4`"),
        (json!("mqttv5"), "`mqttv5`"),
        (json!(3.1), "`3.1`"),
    ] {
        let err = MqttSourceConfig::from_value(json!({
            "broker_url": "mqtt://127.0.0.1:1883", "topics": ["t"], "protocol_version": value
        }))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("protocol_version") && text.contains(shown),
            "{text}"
        );
        let err = MqttSinkConfig::from_value(json!({
            "broker_url": "mqtt://127.0.0.1:1883", "protocol_version": value
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("protocol_version"), "{err}");
    }
    let ok = MqttSinkConfig::from_value(json!({
        "broker_url": "mqtt://127.0.0.1:1883", "protocol_version": "5.0"
    }))
    .unwrap();
    assert_eq!(
        ok.protocol_version,
        rivven_connect_queue::mqtt::ProtocolVersion::V5
    );
}

#[test]
fn yaml_protocol_version_is_checked_against_the_schema_naming_the_key() {
    let yaml = |version: &str| {
        format!(
            "sources:\n  m: {{ connector: mqtt, config: {{ broker_url: \"mqtt://127.0.0.1:1883\", \
             topics: [\"a/#\"], protocol_version: {version} }} }}\n\
             sinks:\n  o: {{ connector: stdout }}\npipelines:\n  p: {{ source: m, sink: o }}\n"
        )
    };
    // YAML numbers and strings alike.
    for ok in ["5", "\"5\"", "5.0", "\"3.1.1\"", "v5"] {
        rivven_connect::config::ConnectConfig::from_str(&yaml(ok))
            .unwrap_or_else(|e| panic!("{ok}: {}", e.render()));
    }
    for bad in ["4", "\"3.1\"", "mqttv5"] {
        let err = rivven_connect::config::ConnectConfig::from_str(&yaml(bad)).unwrap_err();
        let text = err.render();
        assert!(text.contains("protocol_version"), "{bad}: {text}");
    }
}
