//! Bad configurations are errors naming the key; a bucket that does not
//! exist or a refused key fails `check` in one line.

use rivven_connect::{Sink, SinkConfig};
use rivven_connect_storage::object_storage::{ObjectStorageSink, ObjectStorageSinkConfig};
use rivven_connect_testing::services::{Moto, MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY};
use serde_json::{json, Value};

fn error_of(config: Value) -> String {
    match ObjectStorageSinkConfig::from_value(config) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn base() -> Value {
    json!({"provider": "local", "bucket": "b", "local": {"root": "/tmp/x"}})
}

fn with(key: &str, value: Value) -> Value {
    let mut c = base();
    c[key] = value;
    c
}

#[test]
fn unknown_or_unbuilt_choices_name_their_key() {
    let cases = [
        (with("provider", json!("ftp")), "provider"),
        (with("format", json!("xml")), "format"),
        (with("compression", json!("brotli")), "compression"),
        (with("partitioning", json!("minute")), "partitioning"),
        (with("csv", json!({"delimiter": ";;"})), "delimiter"),
        (with("csv", json!({"quote_char": ""})), "quote_char"),
        (with("batch_size", json!(0)), "batch_size"),
        (with("part_size_bytes", json!(1024)), "part_size_bytes"),
        (with("bukcet", json!("x")), "bukcet"),
    ];
    for (config, key) in cases {
        let err = error_of(config.clone());
        assert!(err.contains(key), "{config} → {err}");
    }
    // A format this build does not have names the feature that provides it.
    #[cfg(not(feature = "avro"))]
    {
        let err = error_of(with("format", json!("avro")));
        assert!(
            err.contains("format") && err.contains("`avro` feature"),
            "{err}"
        );
    }
    #[cfg(not(feature = "parquet"))]
    {
        let err = error_of(with("format", json!("parquet")));
        assert!(
            err.contains("format") && err.contains("`parquet` feature"),
            "{err}"
        );
    }
    // A Parquet codec this build does not have names the key and the feature.
    #[cfg(not(feature = "parquet-brotli"))]
    {
        let err = error_of(with("parquet", json!({"compression": "brotli"})));
        assert!(
            err.contains("parquet.compression") && err.contains("parquet-brotli"),
            "{err}"
        );
    }
    let err = error_of(with("parquet", json!({"compression": "lzo"})));
    assert!(err.contains("compression"), "{err}");
    // Output compression is for text formats.
    let mut c = with("format", json!("parquet"));
    c["compression"] = json!("gzip");
    let err = error_of(c);
    assert!(
        err.contains("format") || err.contains("compression"),
        "{err}"
    );
    // No bucket at all.
    let err = error_of(json!({"provider": "local", "local": {"root": "/tmp/x"}}));
    assert!(err.contains("bucket"), "{err}");
    // A bucket name with a slash.
    let err = error_of(with("bucket", json!("a/b")));
    assert!(err.contains("bucket"), "{err}");
}

#[test]
fn legacy_names_and_blocks_pick_the_provider() {
    let registry = {
        rivven_connect_storage::link();
        rivven_connect::registry::Registry::discovered().unwrap()
    };
    for name in ["object-storage", "s3", "gcs", "azure-blob"] {
        let entry = registry
            .sink(name)
            .unwrap_or_else(|| panic!("no sink `{name}`"));
        assert_eq!(entry.name, "object-storage");
    }
    let c = ObjectStorageSinkConfig::from_value(json!({"bucket": "b", "local": {"root": "/tmp"}}))
        .unwrap();
    assert_eq!(
        c.provider(),
        rivven_connect_storage::object_storage::Provider::Local
    );
    let c = ObjectStorageSinkConfig::from_value(json!({"bucket": "b"})).unwrap();
    assert_eq!(
        c.provider(),
        rivven_connect_storage::object_storage::Provider::S3
    );
    // Secrets never show in Debug.
    let c = ObjectStorageSinkConfig::from_value(json!({
        "bucket": "b",
        "s3": {"access_key_id": "AKIDSECRET", "secret_access_key": "12345678"}
    }))
    .unwrap();
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("AKIDSECRET") && !debug.contains("12345678"),
        "{debug}"
    );
    // A secret given as a number is refused, naming the key, not the value.
    let err = error_of(
        json!({"bucket": "b", "s3": {"access_key_id": "k", "secret_access_key": 12345678}}),
    );
    assert!(
        err.contains("s3.secret_access_key") && !err.contains("12345678"),
        "{err}"
    );
}

fn s3_config(moto: &Moto, bucket: &str, key: &str) -> ObjectStorageSinkConfig {
    ObjectStorageSinkConfig::from_value(json!({
        "provider": "s3",
        "bucket": bucket,
        "request_timeout_secs": 10,
        "s3": {
            "endpoint": moto.endpoint(),
            "force_path_style": true,
            "region": "us-east-1",
            "access_key_id": key,
            "secret_access_key": MOTO_SECRET_ACCESS_KEY,
        }
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_and_refused_key_fail_check_in_one_line() {
    let moto = Moto::start().await.unwrap();
    let check = ObjectStorageSink::new()
        .check(&s3_config(&moto, "no-such-bucket", MOTO_ACCESS_KEY_ID))
        .await
        .unwrap();
    assert!(!check.is_success(), "{check:?}");
    let message = check.summary();
    assert!(message.contains("no-such-bucket"), "{message}");
    assert!(!message.contains('\n'), "{message}");

    let denying = Moto::start_authenticating().await.unwrap();
    let check = ObjectStorageSink::new()
        .check(&s3_config(&denying, "any-bucket", "AKIDUNKNOWN"))
        .await
        .unwrap();
    assert!(!check.is_success(), "{check:?}");
    let message = check.summary();
    assert!(!message.contains('\n'), "{message}");
    let failed: Vec<_> = check.failed_checks().collect();
    assert_eq!(
        failed[0].kind,
        Some(rivven_connect::ErrorKind::Auth),
        "{message}"
    );

    // Nothing listens: a connection error, quickly, in one line.
    drop(moto);
    let gone = ObjectStorageSinkConfig::from_value(json!({
        "bucket": "b",
        "request_timeout_secs": 2,
        "s3": {"endpoint": "http://127.0.0.1:9", "force_path_style": true,
               "access_key_id": "k", "secret_access_key": "s"}
    }))
    .unwrap();
    let check = ObjectStorageSink::new().check(&gone).await.unwrap();
    assert!(!check.is_success());
    assert!(!check.summary().contains('\n'), "{}", check.summary());
}
