//! `rivven-connect-broker`: the Rivven broker family for rivven-connect.
//!
//! - [`rivven`] (feature `rivven`, on by default): the `rivven` sink, which
//!   produces each batch of events to a topic on a Rivven broker (`rivvend`)
//!   and returns only once the broker acknowledged it, and the `rivven`
//!   source, which reads every partition of a topic under a consumer group
//!   and commits the group's offsets only after the pipeline's sink durably
//!   wrote the events. Both speak Rivven's own protocol through the
//!   [`rivven-client`](https://docs.rs/rivven-client) crate (not Kafka's).
//! - feature `tls`: TLS (and mTLS) to the broker through rivven-client's
//!   rustls support; without it `tls.enabled: true` is a configuration error.
//!
//! The connectors register themselves (their config derive's `connector =
//! …`), so linking this crate makes them available by name in YAML; a binary
//! that does not otherwise reference the crate calls [`link`] once.
//!
//! ```
//! rivven_connect_broker::link();
//! let registry = rivven_connect::registry::Registry::discovered().unwrap();
//! # #[cfg(feature = "rivven")]
//! assert!(registry.source("rivven").is_some());
//! # #[cfg(feature = "rivven")]
//! assert!(registry.sink("rivven").is_some());
//! ```
#![warn(missing_docs)]

#[cfg(feature = "rivven")]
pub mod rivven;

/// Makes sure this crate — and so its connectors' registrations — is linked
/// into the binary calling it. A no-op at run time.
#[inline(never)]
pub fn link() {
    std::hint::black_box(());
}
