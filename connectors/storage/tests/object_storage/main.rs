//! The `object-storage` sink against the local provider, a private moto S3
//! server and a private Azurite (feature `azure`), checked by independent readers (pyarrow, Python's gzip,
//! zstandard, python-snappy, lz4) from the test venv.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "avro")]
mod avro;
#[cfg(feature = "azure")]
mod azure;
mod bad_input;
#[cfg(feature = "gcs")]
mod gcs;
mod local;
#[cfg(feature = "parquet")]
mod parquet;
mod round_trip;
mod s3;
mod support;
