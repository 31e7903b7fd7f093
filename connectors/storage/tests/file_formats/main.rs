//! The built-in `file` sink and source with the formats this crate
//! registers: CSV written by the sink (through the real runtime), read back
//! by the `file` source and by Python's `csv` module and pyarrow, with
//! quoting, delimiters, nested values, a widening schema, torn tails and
//! restarts; and the configuration errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config_errors;
mod csv_round_trip;
mod support;
mod torn_tail;
