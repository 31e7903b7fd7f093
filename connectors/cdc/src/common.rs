//! What every CDC source shares: event deduplication, tombstones after
//! deletes and per-table column filters ([`features`]).

pub mod features;
