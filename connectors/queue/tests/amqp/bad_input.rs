//! Bad configuration, an unreachable broker, refused credentials.

use rivven_connect::{ConfiguredCatalog, ErrorKind, Sink, SinkConfig, Source, SourceConfig};
use rivven_connect_queue::amqp::{AmqpSink, AmqpSinkConfig, AmqpSource, AmqpSourceConfig};
use rivven_connect_testing::services::RabbitMq;
use serde_json::json;

use crate::support::*;

#[test]
fn bad_settings_are_config_errors_naming_the_key() {
    let cases = [
        (
            json!({"url": "amqp://h/%2f", "queue": "q", "prefetch": 0}),
            "prefetch",
        ),
        (
            json!({"url": "amqp://h/%2f", "queue": "q", "declare": {"durable": "yes"}}),
            "declare",
        ),
        (
            json!({"url": "amqp://h/%2f", "queue": "q", "on_reject": "drop"}),
            "on_reject",
        ),
        (
            json!({"url": "amqp://bob:hunter2@h/%2f", "queue": "q"}),
            "username/password",
        ),
        (json!({"url": "amqp://h/%2f", "queue": ""}), "queue"),
    ];
    for (config, key) in cases {
        let err = AmqpSourceConfig::from_value(config.clone()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{config}: {err}");
        assert!(err.to_string().contains(key), "{config}: {err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    let err = AmqpSinkConfig::from_value(json!({"url": "amqp://h/%2f", "confirm_timeout_ms": 0}))
        .unwrap_err();
    assert!(err.to_string().contains("confirm_timeout_ms"), "{err}");
}

#[tokio::test]
async fn an_unreachable_broker_fails_check_in_one_line() {
    let source = AmqpSourceConfig::from_value(json!({
        "url": closed_url(), "queue": "q", "connect_timeout_ms": 2000
    }))
    .unwrap();
    let check = AmqpSource::new().check(&source).await.unwrap();
    assert!(!check.is_success(), "{check:?}");
    let text = check.summary();
    assert!(!text.trim().contains('\n'), "one line: {text}");
    let sink = AmqpSinkConfig::from_value(json!({"url": closed_url(), "connect_timeout_ms": 2000}))
        .unwrap();
    let check = AmqpSink::new().check(&sink).await.unwrap();
    assert!(!check.is_success(), "{check:?}");
    let err = AmqpSource::new()
        .read(&source, &ConfiguredCatalog::default(), None)
        .await
        .err()
        .expect("unreachable");
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_an_auth_error_and_a_bad_declaration_a_config_error() {
    let rabbit = RabbitMq::builder()
        .user("reader", "right-password")
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut wrong = source_json(&rabbit, "q");
    wrong["password"] = json!("wrong-password");
    let wrong = AmqpSourceConfig::from_value(wrong).unwrap();
    let check = AmqpSource::new().check(&wrong).await.unwrap();
    assert!(!check.is_success());
    assert!(
        !check.summary().contains("wrong-password"),
        "{}",
        check.summary()
    );
    let err = AmqpSource::new()
        .read(&wrong, &ConfiguredCatalog::default(), None)
        .await
        .err()
        .expect("wrong password refused");
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains("wrong-password"), "{err}");
    assert!(!format!("{wrong:?}").contains("wrong-password"));
    let mut sink = sink_json(&rabbit);
    sink["password"] = json!("wrong-password");
    let sink = AmqpSinkConfig::from_value(sink).unwrap();
    let err = AmqpSink::new()
        .write_borrowed(&sink, &[rivven_connect::SourceEvent::record("s", json!(1))])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");

    // The right user: a queue that does not exist (no `declare`), and one
    // declared unlike it exists, are configuration errors, not retried.
    let right = source_config(&rabbit, "durable-one");
    let reading = AmqpSource::new()
        .read(&right, &ConfiguredCatalog::default(), None)
        .await;
    assert!(reading.is_ok());
    drop(reading);
    let mut missing = source_json(&rabbit, "absent");
    missing.as_object_mut().unwrap().remove("declare");
    let err = AmqpSource::new()
        .read(
            &AmqpSourceConfig::from_value(missing).unwrap(),
            &ConfiguredCatalog::default(),
            None,
        )
        .await
        .err()
        .expect("absent queue");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("declare"), "{err}");
    let mut unlike = source_json(&rabbit, "durable-one");
    unlike["declare"] = json!({"durable": false});
    let err = AmqpSource::new()
        .read(
            &AmqpSourceConfig::from_value(unlike).unwrap(),
            &ConfiguredCatalog::default(),
            None,
        )
        .await
        .err()
        .expect("inequivalent declaration");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.is_retryable());
}
