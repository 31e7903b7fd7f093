//! [`Catalog`]: the streams a source offers, and which of them to read.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a stream is read.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Read everything every time.
    #[default]
    FullRefresh,
    /// Read only what changed since the last committed state.
    Incremental,
}

/// A stream (table, topic, collection) offered by a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    /// Stream name.
    pub name: String,
    /// Namespace (schema, database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// JSON Schema of the records.
    #[serde(default)]
    pub json_schema: Value,
    /// Supported sync modes.
    #[serde(default)]
    pub supported_sync_modes: Vec<SyncMode>,
    /// Whether the source picks the cursor itself.
    #[serde(default)]
    pub source_defined_cursor: bool,
    /// Default cursor field path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_cursor_field: Vec<String>,
    /// Primary key (list of field paths).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_defined_primary_key: Vec<Vec<String>>,
}

impl Stream {
    /// A stream with a JSON Schema, supporting full refresh.
    pub fn new(name: impl Into<String>, json_schema: Value) -> Self {
        Self {
            name: name.into(),
            namespace: None,
            json_schema,
            supported_sync_modes: vec![SyncMode::FullRefresh],
            source_defined_cursor: false,
            default_cursor_field: Vec::new(),
            source_defined_primary_key: Vec::new(),
        }
    }

    /// Set the namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Declare incremental support with a cursor field.
    pub fn with_incremental(mut self, cursor_field: impl Into<String>) -> Self {
        if !self.supported_sync_modes.contains(&SyncMode::Incremental) {
            self.supported_sync_modes.push(SyncMode::Incremental);
        }
        self.source_defined_cursor = true;
        self.default_cursor_field = vec![cursor_field.into()];
        self
    }

    /// Declare the primary key.
    pub fn with_primary_key(mut self, fields: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.source_defined_primary_key = fields.into_iter().map(|f| vec![f.into()]).collect();
        self
    }
}

/// The streams a source offers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Streams.
    pub streams: Vec<Stream>,
}

impl Catalog {
    /// A catalog of `streams`.
    pub fn new(streams: Vec<Stream>) -> Self {
        Self { streams }
    }

    /// Add a stream.
    pub fn add_stream(mut self, stream: Stream) -> Self {
        self.streams.push(stream);
        self
    }

    /// A stream by name.
    pub fn stream(&self, name: &str) -> Option<&Stream> {
        self.streams.iter().find(|s| s.name == name)
    }

    /// Select every stream, preferring incremental where supported.
    pub fn configure_all(&self) -> ConfiguredCatalog {
        ConfiguredCatalog {
            streams: self
                .streams
                .iter()
                .map(|s| {
                    let mode = if s.supported_sync_modes.contains(&SyncMode::Incremental) {
                        SyncMode::Incremental
                    } else {
                        SyncMode::FullRefresh
                    };
                    ConfiguredStream::new(s.clone(), mode)
                })
                .collect(),
        }
    }
}

/// A stream selected for reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfiguredStream {
    /// The stream.
    pub stream: Stream,
    /// How to read it.
    pub sync_mode: SyncMode,
    /// Cursor field override.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cursor_field: Vec<String>,
}

impl ConfiguredStream {
    /// Select `stream` with `sync_mode`.
    pub fn new(stream: Stream, sync_mode: SyncMode) -> Self {
        Self {
            stream,
            sync_mode,
            cursor_field: Vec::new(),
        }
    }
}

/// The streams to read. An empty catalog means "everything the source offers".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfiguredCatalog {
    /// Selected streams.
    pub streams: Vec<ConfiguredStream>,
}

impl ConfiguredCatalog {
    /// Whether `name` is selected (always true for an empty catalog).
    pub fn includes(&self, name: &str) -> bool {
        self.streams.is_empty() || self.streams.iter().any(|s| s.stream.name == name)
    }

    /// The configured stream called `name`.
    pub fn stream(&self, name: &str) -> Option<&ConfiguredStream> {
        self.streams.iter().find(|s| s.stream.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configure_all_prefers_incremental() {
        let catalog = Catalog::default()
            .add_stream(Stream::new("a", json!({"type": "object"})).with_incremental("id"))
            .add_stream(Stream::new("b", json!({"type": "object"})).with_primary_key(["id"]));
        let configured = catalog.configure_all();
        assert_eq!(
            configured.stream("a").map(|s| s.sync_mode),
            Some(SyncMode::Incremental)
        );
        assert_eq!(
            configured.stream("b").map(|s| s.sync_mode),
            Some(SyncMode::FullRefresh)
        );
        assert!(configured.includes("a") && !configured.includes("c"));
        assert!(ConfiguredCatalog::default().includes("anything"));
        assert_eq!(
            catalog
                .stream("b")
                .map(|s| s.source_defined_primary_key.clone()),
            Some(vec![vec!["id".to_string()]])
        );
    }
}
