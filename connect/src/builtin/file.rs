//! The `file` source and sink (JSON Lines).

mod sink;
mod source;

pub use sink::{FileSink, FileSinkConfig, FileSinkFormat};
pub use source::{FileSource, FileSourceConfig, FileSourceFormat};
