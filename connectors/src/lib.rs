//! The `rivven-connect` command line ([`cli`]) and the feature-gated
//! connectors with external dependencies.
#![warn(missing_docs)]

#[cfg(feature = "postgres")]
pub mod cdc;
pub mod cli;
