//! The `object-storage` sink: objects on S3, GCS, Azure Blob or a local
//! directory, through the `object_store` crate.

pub mod config;
pub mod sink;
pub(crate) mod store;

pub use config::{
    AzureOptions, GcsOptions, LocalOptions, PartitionTime, Partitioning, Provider, S3Options,
};
pub use sink::{put_object, ObjectStorageSink, ObjectStorageSinkConfig, ObjectStorageSinkConfigSpec};
