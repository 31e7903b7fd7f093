//! The SDK's compliance checks of the `http` source.

use rivven_connect_http::rest::RestSource;
use rivven_connect_testing::{assert_source_compliance, Resume, SourceCompliance};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_passes_the_compliance_checks() {
    let api = Api::start(Options {
        token: Some("compliance-s3cret"),
        ..Options::default()
    })
    .await;
    let config = json!({
        "url": api.url("cursor"),
        "auth": {"type": "bearer", "token": "compliance-s3cret"},
        "records_pointer": "/data",
        "pagination": {"type": "cursor", "cursor_pointer": "/meta/next"},
        "cursor_field": "id",
        "cursor_param": "since",
        "interval_ms": 100000,
    });
    let mut unreachable = config.clone();
    unreachable["url"] = json!(closed_url());
    unreachable["timeout_secs"] = json!(2);
    let compliance = SourceCompliance::new(RestSource::new(), config)
        .unreachable(unreachable)
        .secret("compliance-s3cret")
        .events(40)
        .resume(Resume::Deterministic);
    assert_source_compliance(compliance).await;
}
