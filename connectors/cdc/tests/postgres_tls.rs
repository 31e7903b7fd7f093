//! postgres-cdc over TLS (rustls) against a private PostgreSQL that serves a
//! certificate from a test CA and refuses replication without TLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/pg.rs"]
mod pg;

use std::path::Path;

use rivven_connect::Source;
use rivven_connect_cdc::postgres::{PostgresCdcSource, TlsMode};
use rivven_connect_testing::services::{Postgres, TestCertificates};

async fn check(server: &Postgres, mode: TlsMode, ca: Option<&Path>) -> rivven_connect::CheckResult {
    let mut config = pg::config(server, "tls_slot");
    config.tls.mode = mode;
    config.tls.ca_cert = ca.map(Path::to_path_buf);
    if mode == TlsMode::VerifyFull {
        // The name the certificate is checked against (rustls checks DNS names).
        config.host = "localhost".into();
    }
    config.connect_timeout_secs = 10;
    PostgresCdcSource::default()
        .check(&config)
        .await
        .expect("check runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_modes_against_a_tls_server() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path(), "test-ca").unwrap();
    let other = tempfile::tempdir().unwrap();
    let other_certs = TestCertificates::generate(other.path(), "other-ca").unwrap();
    let server = Postgres::builder()
        .tls(&certs.cert, &certs.key)
        .start()
        .await
        .unwrap();
    let ca = certs.ca.clone();

    // Plain TCP is refused for replication: the passing modes below used TLS.
    let plain = check(&server, TlsMode::Disable, None).await;
    assert!(
        !plain.is_success(),
        "the server must refuse replication without TLS"
    );
    assert!(plain.message.unwrap_or_default().contains("pg_hba.conf"));

    for (mode, ca) in [
        (TlsMode::Prefer, None),
        (TlsMode::Require, None),
        (TlsMode::VerifyCa, Some(ca.as_path())),
        (TlsMode::VerifyFull, Some(ca.as_path())),
    ] {
        let r = check(&server, mode, ca).await;
        assert!(r.is_success(), "{mode:?}: {r:?}");
    }

    // A certificate from another CA is refused by the verifying modes.
    let wrong = other_certs.ca.clone();
    for mode in [TlsMode::VerifyCa, TlsMode::VerifyFull] {
        let r = check(&server, mode, Some(&wrong)).await;
        assert!(
            !r.is_success(),
            "{mode:?} accepted a certificate of another CA"
        );
        let message = r.message.unwrap_or_default();
        assert!(
            message.to_lowercase().contains("tls") || message.contains("certificate"),
            "{mode:?}: {message}"
        );
    }
}
