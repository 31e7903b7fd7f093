//! `https://` with rustls on the ring provider (no process-wide provider is
//! installed in this test binary), against `openssl s_server` as an
//! independent TLS server serving a JSON file, with a private CA.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rivven_connect::{ErrorKind, Source, SourceConfig};
use rivven_connect_http::rest::{RestSource, RestSourceConfig};
use rivven_connect_testing::run_source_with;
use rivven_connect_testing::services::TestCertificates;
use serde_json::json;

use crate::support::ids;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `openssl s_server -WWW` serving the files of `dir` over TLS.
async fn s_server(dir: &std::path::Path, certs: &TestCertificates) -> (Server, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-WWW", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&certs.cert)
        .arg("-key")
        .arg(&certs.key)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl (Debian package `openssl`) is needed for the TLS tests");
    let server = Server(child);
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (server, port);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("openssl s_server did not listen on {port}");
}

#[tokio::test]
async fn records_are_read_over_https_trusting_the_private_ca_only() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path(), "http-test-ca").unwrap();
    let records: Vec<_> = (0..5).map(|i| json!({"id": i})).collect();
    std::fs::write(
        dir.path().join("items.json"),
        json!({"data": records}).to_string(),
    )
    .unwrap();
    let (_server, port) = s_server(dir.path(), &certs).await;
    let config = RestSourceConfig::from_value(json!({
        "url": format!("https://localhost:{port}/items.json"),
        "records_pointer": "/data",
        "cursor_field": "id",
        "interval_ms": 100000,
        "tls": {"ca_file": certs.ca},
    }))
    .unwrap();
    let (events, _) = run_source_with(&RestSource::new(), &config, None, Some(5))
        .await
        .unwrap();
    assert_eq!(ids(&events), vec![0, 1, 2, 3, 4]);

    // Without the private CA (the system's roots) the server is not trusted.
    let untrusted = RestSourceConfig::from_value(json!({
        "url": format!("https://127.0.0.1:{port}/items.json"),
        "timeout_secs": 5,
        "retry": {"max_attempts": 1},
    }))
    .unwrap();
    let check = RestSource::new().check(&untrusted).await.unwrap();
    assert!(!check.is_success());
    let source = RestSource::new();
    let catalog = source.discover(&untrusted).await.unwrap().configure_all();
    let mut stream = source.read(&untrusted, &catalog, None).await.unwrap();
    let err = futures::StreamExt::next(&mut stream)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}
