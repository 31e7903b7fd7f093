//! `tls`: the trust and client certificate of a TLS connection to a
//! broker (`mqtts://`, `rediss://`, `amqps://`, NATS), the same keys for every connector, as a
//! rustls client configuration (ring provider) or the files' bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rivven_connect::{ConnectorError, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::Validate;

/// `tls`: how a TLS broker is verified, and the client certificate for
/// brokers that require one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// CA certificates (PEM) that the broker's certificate must chain to;
    /// default: the system's trusted roots. The broker's name (the host of
    /// the URL, a DNS name or IP address) must be in its certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"/etc/rivven/broker-ca.pem")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM), with `client_key_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_file: Option<PathBuf>,
}

/// The bytes of [`TlsOptions`]' files.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct PemFiles {
    /// The CA certificates.
    pub ca: Option<Vec<u8>>,
    /// The client certificate and its key.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl TlsOptions {
    fn check_pair(&self) -> Result<()> {
        if self.client_cert_file.is_some() != self.client_key_file.is_some() {
            return Err(ConnectorError::config(
                "tls.client_cert_file and tls.client_key_file go together: set both or neither",
            ));
        }
        Ok(())
    }

    /// The files' bytes, checked: the CA certificates (PEM) and the client
    /// certificate with its key (PEM), for clients that take them as such.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn pem_files(&self) -> Result<PemFiles> {
        self.check_pair()?;
        let ca = match &self.ca_file {
            Some(path) => {
                certificates("tls.ca_file", path)?;
                Some(read("tls.ca_file", path)?)
            }
            None => None,
        };
        let client = match (&self.client_cert_file, &self.client_key_file) {
            (Some(cert), Some(key)) => {
                certificates("tls.client_cert_file", cert)?;
                PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    file_error("tls.client_key_file", key, &format!("no private key: {e}"))
                })?;
                Some((
                    read("tls.client_cert_file", cert)?,
                    read("tls.client_key_file", key)?,
                ))
            }
            _ => None,
        };
        Ok(PemFiles { ca, client })
    }

    /// The rustls configuration; unreadable or invalid files are
    /// configuration errors naming the key and the file.
    #[cfg_attr(
        not(any(feature = "mqtt", feature = "amqp", feature = "nats")),
        allow(dead_code)
    )]
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        self.check_pair()?;
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                for cert in certificates("tls.ca_file", path)? {
                    roots.add(cert).map_err(|e| {
                        file_error("tls.ca_file", path, &format!("not a CA certificate: {e}"))
                    })?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
                if roots.is_empty() {
                    return Err(ConnectorError::config(
                        "tls: no trusted root certificates on this system; set tls.ca_file",
                    ));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectorError::config(format!("tls: {e}")))?
            .with_root_certificates(roots);
        let config = match (&self.client_cert_file, &self.client_key_file) {
            (Some(cert), Some(key)) => {
                let chain = certificates("tls.client_cert_file", cert)?;
                let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    file_error("tls.client_key_file", key, &format!("no private key: {e}"))
                })?;
                builder.with_client_auth_cert(chain, private).map_err(|e| {
                    file_error("tls.client_cert_file", cert, &format!("unusable: {e}"))
                })?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

fn certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| file_error(key, path, &format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(file_error(key, path, "no certificate in the file"));
    }
    Ok(certs)
}

fn read(key: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| file_error(key, path, &e.to_string()))
}

/// Makes ring rustls' process-wide default, for clients that build their
/// configuration with `ClientConfig::builder()` (ring and aws-lc-rs both
/// in one build leave no default). A default already set stays.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn install_ring_default() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn file_error(key: &str, path: &Path, why: &str) -> ConnectorError {
    ConnectorError::config(format!("{key} `{}`: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unreadable_or_invalid_files_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = TlsOptions {
            ca_file: Some(dir.path().join("none.pem")),
            ..TlsOptions::default()
        };
        let err = missing.client_config().unwrap_err().to_string();
        assert!(
            err.contains("tls.ca_file") && err.contains("none.pem"),
            "{err}"
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let err = TlsOptions {
            ca_file: Some(junk),
            ..TlsOptions::default()
        }
        .client_config()
        .unwrap_err()
        .to_string();
        assert!(err.contains("no certificate"), "{err}");
        let half = TlsOptions {
            client_cert_file: Some(dir.path().join("c.pem")),
            ..TlsOptions::default()
        };
        let err = half.client_config().unwrap_err().to_string();
        assert!(err.contains("go together"), "{err}");
    }
}
