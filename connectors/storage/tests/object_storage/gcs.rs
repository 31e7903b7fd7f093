//! `provider: gcs` (feature `gcs`). There is no GCS emulator on this
//! machine: the configuration is checked offline (a malformed service
//! account key or a missing key file is a configuration error naming the
//! provider), never against a server.

use rivven_connect::{ErrorKind, Sink, SinkConfig};
use rivven_connect_storage::object_storage::{
    ObjectStorageSink, ObjectStorageSinkConfig, Provider,
};
use serde_json::json;

#[tokio::test]
async fn gcs_keys_are_checked_offline() {
    let config = ObjectStorageSinkConfig::from_value(json!({
        "bucket": "lake",
        "gcs": {"service_account_key": "{\"not\": \"a key\"}", "use_adc": false}
    }))
    .unwrap();
    assert_eq!(config.provider(), Provider::Gcs);
    let check = ObjectStorageSink::new().check(&config).await.unwrap();
    assert!(!check.is_success());
    let failed: Vec<_> = check.failed_checks().collect();
    assert_eq!(
        failed[0].kind,
        Some(ErrorKind::Config),
        "{}",
        check.summary()
    );
    assert!(check.summary().contains("gcs"), "{}", check.summary());
    assert!(!check.summary().contains('\n'));

    let config = ObjectStorageSinkConfig::from_value(json!({
        "bucket": "lake",
        "gcs": {"service_account_path": "/nonexistent/sa.json", "use_adc": false}
    }))
    .unwrap();
    let check = ObjectStorageSink::new().check(&config).await.unwrap();
    assert!(!check.is_success());
    assert!(check.summary().contains("gcs"), "{}", check.summary());
}
