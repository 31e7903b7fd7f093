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

/// A one-request-at-a-time HTTPS receiver for the webhook sink (rustls's
/// server side on its own thread): reads a request and its body, answers
/// `204`, and counts the requests it read.
#[cfg(feature = "webhook")]
fn tls_receiver(certs: &TestCertificates) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&certs.cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&certs.key).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
            let mut length = 0usize;
            let mut line = String::new();
            // A refused handshake (an untrusting client) ends here.
            while tls.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" {
                    let mut body = vec![0; length];
                    if tls.read_exact(&mut body).is_ok() {
                        count.fetch_add(1, Ordering::SeqCst);
                        let answer = "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";
                        let _ = tls.get_mut().write_all(answer.as_bytes());
                        let _ = tls.get_mut().flush();
                    }
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
        }
    });
    (port, served)
}

/// The webhook sink's client is the same: it delivers over TLS with the
/// private CA, and refuses the server without it.
#[cfg(feature = "webhook")]
#[tokio::test]
async fn the_webhook_sink_delivers_over_https_trusting_the_private_ca_only() {
    use rivven_connect::{Sink, SinkConfig, SourceEvent};
    use rivven_connect_http::webhook::{WebhookSink, WebhookSinkConfig};
    use std::sync::atomic::Ordering;

    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path(), "hook-test-ca").unwrap();
    let (port, served) = tls_receiver(&certs);
    let url = format!("https://localhost:{port}/hook");
    let events: Vec<SourceEvent> = (0..3)
        .map(|i| SourceEvent::record("s", json!({"id": i})))
        .collect();
    let trusted =
        WebhookSinkConfig::from_value(json!({"url": url, "tls": {"ca_file": certs.ca}})).unwrap();
    let result = WebhookSink::new()
        .write_borrowed(&trusted, &events)
        .await
        .unwrap();
    assert_eq!(result.records_written, 3);
    assert_eq!(served.load(Ordering::SeqCst), 3);
    let untrusted = WebhookSinkConfig::from_value(json!({
        "url": url, "timeout_secs": 5, "retry": {"max_attempts": 1}
    }))
    .unwrap();
    let err = WebhookSink::new()
        .write_borrowed(&untrusted, &events)
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    assert_eq!(
        served.load(Ordering::SeqCst),
        3,
        "nothing sent to an untrusted server"
    );
}
