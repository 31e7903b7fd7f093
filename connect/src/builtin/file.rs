//! The `file` source and sink (JSON Lines).

mod lines;
mod sink;
mod source;

pub use sink::{FileSink, FileSinkConfig, FileSinkConfigSpec, FileSinkFormat};
pub use source::{FileSource, FileSourceConfig, FileSourceConfigSpec, FileSourceFormat};
