//! postgres-cdc over TLS (rustls) against a private PostgreSQL that serves a
//! certificate from a test CA and refuses replication without TLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/pg.rs"]
mod pg;

use std::path::Path;
use std::process::Command;

use rivven_connect::Source;
use rivven_connect_cdc::postgres::{PostgresCdcSource, TlsMode};
use rivven_connect_testing::services::Postgres;

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl (Debian package `openssl`) to make test certificates");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A CA, and a server certificate it signed for `localhost` / 127.0.0.1.
fn certificates(dir: &Path, ca_name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            &format!("{ca_name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={ca_name}"),
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca_name}.pem"),
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

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
    certificates(dir.path(), "test-ca");
    let other = tempfile::tempdir().unwrap();
    certificates(other.path(), "other-ca");
    let server = Postgres::builder()
        .tls(dir.path().join("server.pem"), dir.path().join("server.key"))
        .start()
        .await
        .unwrap();
    let ca = dir.path().join("test-ca.pem");

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
    let wrong = other.path().join("other-ca.pem");
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
