//! The `object-storage` sink: objects on S3, GCS, Azure Blob or a local
//! directory, through the `object_store` crate.

pub mod config;
pub mod sink;
pub mod source;
pub(crate) mod store;

pub use config::{
    AzureOptions, GcsOptions, LocalOptions, PartitionTime, Partitioning, Provider, S3Options,
};
pub use sink::{
    put_object, ObjectStorageSink, ObjectStorageSinkConfig, ObjectStorageSinkConfigSpec,
};
pub use source::{ObjectStorageSource, ObjectStorageSourceConfig, ObjectStorageSourceConfigSpec};

/// The object store a sink configuration writes to (for tools and tests
/// that read or write beside the sink).
pub fn open_store(
    config: &ObjectStorageSinkConfig,
) -> rivven_connect::Result<std::sync::Arc<dyn object_store::ObjectStore>> {
    store::build(&config.location())
}
