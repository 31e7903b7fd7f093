//! Built-in connectors with no heavy dependency, so that an embedding service gets a
//! working pipeline from this crate alone: `datagen` (source), `stdout` (sink) and
//! `file` (JSON Lines source and sink).

mod datagen;
mod file;
mod stdout;

pub use datagen::{DataPattern, DatagenConfig, DatagenConfigSpec, DatagenSource, MAX_LIVE_KEYS};
pub use file::{
    FileSink, FileSinkConfig, FileSinkConfigSpec, FileSinkFormat, FileSource, FileSourceConfig,
    FileSourceConfigSpec, FileSourceFormat,
};
pub use stdout::{StdoutFormat, StdoutSink, StdoutSinkConfig, StdoutSinkConfigSpec};
