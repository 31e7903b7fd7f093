//! The `tls` block every CDC source shares: the mode (libpq's `sslmode`
//! names) and the CA that signs the server's certificate.
//!
//! ```
//! use rivven_connect_cdc::common::tls::{TlsMode, TlsSettings};
//! let tls: TlsSettings = serde_json::from_str(r#"{"mode": "verify-full", "ca_cert": "/etc/ca.pem"}"#).unwrap();
//! assert_eq!(tls.mode, TlsMode::VerifyFull);
//! assert!(tls.mode.verifies_chain() && tls.mode.verifies_host());
//! assert_eq!(TlsSettings::default().mode, TlsMode::Prefer);
//! ```

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::Validate;

/// Transport security of the connections to the server (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, plain TCP otherwise (libpq's default).
    #[default]
    Prefer,
    /// TLS, without verifying the server's certificate.
    Require,
    /// TLS, verifying the certificate chain against `ca_cert` (or the web PKI roots).
    VerifyCa,
    /// As `verify-ca`, and the certificate must name `host` (a DNS name: an IP
    /// address is refused with a config error).
    VerifyFull,
}

impl TlsMode {
    /// Whether the certificate chain is verified (`verify-ca`, `verify-full`).
    pub fn verifies_chain(self) -> bool {
        matches!(self, TlsMode::VerifyCa | TlsMode::VerifyFull)
    }

    /// Whether the certificate must name the host (`verify-full`).
    pub fn verifies_host(self) -> bool {
        self == TlsMode::VerifyFull
    }
}

/// TLS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// `disable`, `prefer` (default), `require`, `verify-ca` or `verify-full`.
    #[serde(default)]
    pub mode: TlsMode,
    /// PEM file of the CA that signed the server's certificate (for `verify-ca`/`verify-full`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}
