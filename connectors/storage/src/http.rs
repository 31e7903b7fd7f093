//! The HTTP client of the cloud providers: reqwest with a rustls
//! configuration on the ring provider, handed over preconfigured, so no
//! process-wide rustls provider is needed (the workspace links both ring and
//! aws-lc-rs, and rustls refuses to pick one itself).

use std::sync::Arc;
use std::time::Duration;

use object_store::client::{HttpClient, HttpConnector};
use object_store::ClientOptions;

/// Builds object_store's HTTP clients with rustls on ring and the system's roots.
#[derive(Debug, Clone)]
pub(crate) struct RingConnector {
    /// Timeout of one request.
    pub(crate) timeout: Duration,
    /// Timeout of connecting.
    pub(crate) connect_timeout: Duration,
}

impl RingConnector {
    fn tls(&self) -> object_store::Result<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| generic(format!("tls: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(config)
    }
}

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "http",
        source: message.into(),
    }
}

impl HttpConnector for RingConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(self.tls()?)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .build()
            .map_err(|e| generic(format!("HTTP client: {e}")))?;
        Ok(HttpClient::new(client))
    }
}
