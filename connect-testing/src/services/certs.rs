//! [`TestCertificates`]: a throw-away CA and a server certificate it signed,
//! for TLS tests against the private servers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::process::find_system_binary;
use super::ServiceError;

/// A CA (`<ca_name>.pem`) and a server certificate it signed for
/// `localhost` and `127.0.0.1` (`server.pem`, key `server.key`), made with
/// `openssl` (Debian package `openssl`) in a directory of the caller's,
/// valid for two days.
///
/// ```no_run
/// let dir = tempfile::tempdir().unwrap();
/// let certs = rivven_connect_testing::services::TestCertificates::generate(dir.path(), "test-ca").unwrap();
/// assert!(certs.ca.ends_with("test-ca.pem"));
/// ```
#[derive(Debug, Clone)]
pub struct TestCertificates {
    /// The CA certificate (PEM): what a client trusts.
    pub ca: PathBuf,
    /// The server certificate (PEM).
    pub cert: PathBuf,
    /// The server certificate's private key (PEM, unencrypted).
    pub key: PathBuf,
    /// Where the files are (the CA's key is `ca.key` there).
    dir: PathBuf,
}

impl TestCertificates {
    /// Make the CA and the server certificate in `dir`.
    pub fn generate(dir: &Path, ca_name: &str) -> Result<Self, ServiceError> {
        let run = |args: &[&str]| openssl(dir, args);
        let ca = format!("{ca_name}.pem");
        let subject = format!("/CN={ca_name}");
        run(&[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", &ca,
            "-days", "2", "-subj", &subject,
        ])?;
        run(&[
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
        ])?;
        let ext = dir.join("ext.cnf");
        std::fs::write(
            &ext,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| ServiceError::io(format!("write {}", ext.display()), e))?;
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &ca,
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ])?;
        Ok(Self {
            ca: dir.join(ca),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            dir: dir.to_path_buf(),
        })
    }

    /// A client certificate signed by the CA for mutual TLS, common name
    /// `rivven-client`: (`client.pem`, `client.key`) next to the CA.
    pub fn client_certificate(&self) -> Result<(PathBuf, PathBuf), ServiceError> {
        let dir = self.dir.as_path();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "client.key",
                "-out",
                "client.csr",
                "-subj",
                "/CN=rivven-client",
            ],
        )?;
        let ext = dir.join("client.cnf");
        std::fs::write(
            &ext,
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=clientAuth\n",
        )
        .map_err(|e| ServiceError::io(format!("write {}", ext.display()), e))?;
        let ca = self.ca.to_string_lossy();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "client.csr",
                "-CA",
                &ca,
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "client.pem",
                "-days",
                "2",
                "-extfile",
                "client.cnf",
            ],
        )?;
        Ok((dir.join("client.pem"), dir.join("client.key")))
    }
}

/// Runs `openssl ARGS` in `dir` (Debian package `openssl`).
fn openssl(dir: &Path, args: &[&str]) -> Result<(), ServiceError> {
    let openssl = find_system_binary("openssl", "openssl")?;
    let out = Command::new(&openssl)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ServiceError::io("run openssl", e))?;
    if out.status.success() {
        return Ok(());
    }
    Err(ServiceError::Command {
        service: "test certificates",
        command: format!("openssl {}", args.join(" ")),
        status: out.status.to_string(),
        output_tail: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
