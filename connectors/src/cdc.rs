//! Change-data-capture sources and what they share (topic routing lives in
//! `rivven_connect::topic`; deduplication, tombstones and column filters in
//! [`features`]).

pub mod features;
#[cfg(feature = "postgres")]
pub mod postgres;
