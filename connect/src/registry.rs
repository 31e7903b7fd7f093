//! The connector registry: connectors by name, with metadata, building type-erased
//! connectors from JSON/YAML config.
//!
//! Connectors get in three ways: the built-ins ([`Registry::builtin`]); every connector
//! whose config derive names it with `connector = Type` ([`Registry::discovered`], through
//! `inventory`, no registration line); and explicit calls such as
//! [`Registry::register_source`]. A config is deserialized and validated once, when the
//! connector is built — never per batch.
//!
//! ```
//! use rivven_connect::registry::{Category, Registry};
//!
//! let registry = Registry::discovered().unwrap();
//! let datagen = registry.source("datagen").unwrap();
//! assert_eq!(datagen.category, Category::Utility);
//! let source = datagen
//!     .build(serde_json::json!({"pattern": "orders", "max_events": 10}))
//!     .unwrap();
//! assert_eq!(source.spec().name, "datagen");
//! let err = datagen.build(serde_json::json!({"pattern": "nope"})).err().unwrap();
//! assert!(err.to_string().contains("datagen"));
//! assert!(registry.search("jsonl").iter().any(|m| m.name == "file"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::connector::{
    BatchSink, Sink, SinkConfig, Source, SourceConfig, Transform, TransformConfig,
};
use crate::error::{ConnectorError, Result};
use crate::runtime::{
    AnySink, AnySource, AnyTransform, BatchSinkAdapter, SinkAdapter, SourceAdapter,
    TransformAdapter,
};
use crate::spec::{ConnectorKind, ConnectorSpec};

/// Registry categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Databases and CDC.
    Database,
    /// Brokers and queues.
    Messaging,
    /// Files and object storage.
    Storage,
    /// Analytical warehouses.
    Warehouse,
    /// Table formats (Iceberg, Delta).
    Lakehouse,
    /// Vector stores and model endpoints.
    AiMl,
    /// Everything else (datagen, stdout, transforms).
    Utility,
}

impl Category {
    /// Parses the derive's `category = "…"` value (unknown values are `Utility`).
    pub fn parse(s: &str) -> Self {
        match s {
            "database" => Category::Database,
            "messaging" => Category::Messaging,
            "storage" => Category::Storage,
            "warehouse" => Category::Warehouse,
            "lakehouse" => Category::Lakehouse,
            "ai-ml" => Category::AiMl,
            _ => Category::Utility,
        }
    }
}

type Builder<T> = fn(Value) -> Result<Arc<T>>;

/// Declares a registration type emitted by a config derive with `connector = …`.
macro_rules! registration {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $target:ty) => {
        $(#[$doc])*
        #[doc(hidden)]
        #[derive(Debug)]
        pub struct $name {
            /// `std::any::type_name` of the connector, the same string explicit
            /// registration records, so one type registered both ways is not a clash.
            pub type_name: fn() -> &'static str,
            pub category: &'static str,
            pub tags: &'static [&'static str],
            pub spec: fn() -> ConnectorSpec,
            pub build: Builder<$target>,
        }

        impl $name {
            fn entry(&self) -> Entry<$target> {
                Entry::new(
                    $kind,
                    (self.type_name)(),
                    Category::parse(self.category),
                    self.tags,
                    self.spec,
                    self.build,
                )
            }
        }
    };
}

registration!(
    /// A registration emitted by `#[derive(SourceConfig)]` with `connector = …`.
    SourceRegistration, ConnectorKind::Source, dyn AnySource
);
registration!(
    /// A registration emitted by `#[derive(SinkConfig)]` with `connector = …`.
    SinkRegistration, ConnectorKind::Sink, dyn AnySink
);
registration!(
    /// A registration emitted by `#[derive(TransformConfig)]` with `connector = …`.
    TransformRegistration, ConnectorKind::Transform, dyn AnyTransform
);

inventory::collect!(SourceRegistration);
inventory::collect!(SinkRegistration);
inventory::collect!(TransformRegistration);

fn named_error(kind: ConnectorKind, name: &str, e: ConnectorError) -> ConnectorError {
    let kind = match kind {
        ConnectorKind::Source => "source",
        ConnectorKind::Sink => "sink",
        ConnectorKind::Transform => "transform",
    };
    e.context(format!("{kind} connector `{name}`"))
}

/// Builds a source from JSON config (used by registrations).
#[doc(hidden)]
pub fn build_source<S: Source + Default>(config: Value) -> Result<Arc<dyn AnySource>> {
    let config = <S::Config as SourceConfig>::from_value(config)
        .map_err(|e| named_error(ConnectorKind::Source, &S::spec().name, e))?;
    Ok(Arc::new(SourceAdapter::new(S::default(), config)))
}

/// Builds a sink from JSON config (used by registrations).
#[doc(hidden)]
pub fn build_sink<K: Sink + Default>(config: Value) -> Result<Arc<dyn AnySink>> {
    let config = <K::Config as SinkConfig>::from_value(config)
        .map_err(|e| named_error(ConnectorKind::Sink, &K::spec().name, e))?;
    Ok(Arc::new(SinkAdapter::new(K::default(), config)))
}

/// Builds a batch sink from JSON config (used by registrations).
#[doc(hidden)]
pub fn build_batch_sink<K: BatchSink + Default>(config: Value) -> Result<Arc<dyn AnySink>> {
    let config = <K::Config as SinkConfig>::from_value(config)
        .map_err(|e| named_error(ConnectorKind::Sink, &K::spec().name, e))?;
    Ok(Arc::new(BatchSinkAdapter::new(K::default(), config)))
}

/// Builds a transform from JSON config (used by registrations).
#[doc(hidden)]
pub fn build_transform<T: Transform + Default>(config: Value) -> Result<Arc<dyn AnyTransform>> {
    let config = <T::Config as TransformConfig>::from_value(config)
        .map_err(|e| named_error(ConnectorKind::Transform, &T::spec().name, e))?;
    Ok(Arc::new(TransformAdapter::new(T::default(), config)))
}

/// One registered connector: metadata plus its factory.
pub struct Entry<T: ?Sized> {
    /// Name used in YAML.
    pub name: String,
    /// Source, sink or transform.
    pub kind: ConnectorKind,
    /// Version.
    pub version: String,
    /// Description from the spec.
    pub description: String,
    /// Registry category.
    pub category: Category,
    /// Search tags.
    pub tags: Vec<String>,
    /// The Rust type that implements it.
    pub type_name: String,
    /// Other names it is found by (see [`Registry::alias_transform`]).
    pub aliases: Vec<String>,
    spec: fn() -> ConnectorSpec,
    build: Builder<T>,
}

impl<T: ?Sized> fmt::Debug for Entry<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("version", &self.version)
            .field("category", &self.category)
            .field("type_name", &self.type_name)
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> Entry<T> {
    /// Builds the spec once: name, version and description come from it.
    fn new(
        kind: ConnectorKind,
        type_name: &str,
        category: Category,
        tags: &[&str],
        spec: fn() -> ConnectorSpec,
        build: Builder<T>,
    ) -> Self {
        let s = spec();
        Self {
            name: s.name,
            kind,
            version: s.version,
            description: s.description.unwrap_or_default(),
            category,
            tags: tags.iter().map(|t| (*t).to_string()).collect(),
            type_name: type_name.to_string(),
            aliases: Vec::new(),
            spec,
            build,
        }
    }

    /// The full spec, with the config's JSON Schema.
    pub fn spec(&self) -> ConnectorSpec {
        (self.spec)()
    }

    /// Deserializes and validates `config`, then builds the connector.
    pub fn build(&self, config: Value) -> Result<Arc<T>> {
        (self.build)(config)
    }

    fn matches(&self, needle: &str) -> bool {
        let needle = needle.to_lowercase();
        self.name.to_lowercase().contains(&needle)
            || self.aliases.iter().any(|a| a.contains(&needle))
            || self.description.to_lowercase().contains(&needle)
            || self.tags.iter().any(|t| t.to_lowercase().contains(&needle))
    }

    fn metadata(&self) -> ConnectorMetadata {
        ConnectorMetadata {
            name: self.name.clone(),
            kind: self.kind,
            version: self.version.clone(),
            description: self.description.clone(),
            category: self.category,
            tags: self.tags.clone(),
            type_name: self.type_name.clone(),
            aliases: self.aliases.clone(),
        }
    }
}

/// What listing and search return.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectorMetadata {
    /// Name used in YAML.
    pub name: String,
    /// Source, sink or transform.
    pub kind: ConnectorKind,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Category.
    pub category: Category,
    /// Tags.
    pub tags: Vec<String>,
    /// Implementing type.
    pub type_name: String,
    /// Other names it is found by.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// Connectors by kind and name.
#[derive(Debug, Default)]
pub struct Registry {
    sources: BTreeMap<String, Entry<dyn AnySource>>,
    sinks: BTreeMap<String, Entry<dyn AnySink>>,
    transforms: BTreeMap<String, Entry<dyn AnyTransform>>,
    transform_aliases: BTreeMap<String, String>,
}

/// `MaskField` → `mask_field`, `ExtractNewRecordState` → `extract_new_record_state`.
fn pascal_to_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn insert<T: ?Sized>(map: &mut BTreeMap<String, Entry<T>>, entry: Entry<T>) -> Result<()> {
    if let Some(existing) = map.get(&entry.name) {
        if existing.type_name == entry.type_name {
            return Ok(());
        }
        return Err(ConnectorError::configuration(format!(
            "duplicate {:?} connector name `{}`: registered by both `{}` and `{}`",
            entry.kind, entry.name, existing.type_name, entry.type_name
        )));
    }
    map.insert(entry.name.clone(), entry);
    Ok(())
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in connectors: `datagen`, `stdout`, `file` (source and sink) and the
    /// single-message transforms of [`crate::smt`].
    pub fn builtin() -> Self {
        use crate::builtin::*;
        let mut r = Self::new();
        // Distinct names and types: these registrations cannot collide.
        let _ = r.register_source_in::<DatagenSource>(
            Category::Utility,
            &["synthetic", "test", "demo", "cdc"],
        );
        let _ = r.register_source_in::<FileSource>(Category::Storage, &["file", "jsonl", "local"]);
        let _ = r.register_sink_in::<StdoutSink>(Category::Utility, &["console", "debug"]);
        let _ = r.register_sink_in::<FileSink>(Category::Storage, &["file", "jsonl", "local"]);
        crate::smt::register_builtin(&mut r);
        r
    }

    /// The built-ins plus every connector registered by a derive's `connector = …`.
    /// Fails when two different types claim the same name (the error names both).
    pub fn discovered() -> Result<Self> {
        let mut r = Self::builtin();
        for reg in inventory::iter::<SourceRegistration> {
            insert(&mut r.sources, reg.entry())?;
        }
        for reg in inventory::iter::<SinkRegistration> {
            insert(&mut r.sinks, reg.entry())?;
        }
        for reg in inventory::iter::<TransformRegistration> {
            insert(&mut r.transforms, reg.entry())?;
        }
        Ok(r)
    }

    /// Registers a source under its spec name (category `utility`).
    pub fn register_source<S: Source + Default>(&mut self) -> Result<&mut Self> {
        self.register_source_in::<S>(Category::Utility, &[])
    }

    /// Registers a source with a category and tags.
    pub fn register_source_in<S: Source + Default>(
        &mut self,
        category: Category,
        tags: &[&str],
    ) -> Result<&mut Self> {
        let entry = Entry::new(
            ConnectorKind::Source,
            std::any::type_name::<S>(),
            category,
            tags,
            S::spec,
            build_source::<S>,
        );
        insert(&mut self.sources, entry)?;
        Ok(self)
    }

    /// Registers a sink under its spec name (category `utility`).
    pub fn register_sink<K: Sink + Default>(&mut self) -> Result<&mut Self> {
        self.register_sink_in::<K>(Category::Utility, &[])
    }

    /// Registers a sink with a category and tags.
    pub fn register_sink_in<K: Sink + Default>(
        &mut self,
        category: Category,
        tags: &[&str],
    ) -> Result<&mut Self> {
        self.add_sink::<K>(category, tags, build_sink::<K>)
    }

    /// Registers a batch sink (written through [`BatchSink::write_batch`]).
    pub fn register_batch_sink<K: BatchSink + Default>(&mut self) -> Result<&mut Self> {
        self.add_sink::<K>(Category::Utility, &[], build_batch_sink::<K>)
    }

    fn add_sink<K: Sink>(
        &mut self,
        category: Category,
        tags: &[&str],
        build: Builder<dyn AnySink>,
    ) -> Result<&mut Self> {
        let entry = Entry::new(
            ConnectorKind::Sink,
            std::any::type_name::<K>(),
            category,
            tags,
            K::spec,
            build,
        );
        insert(&mut self.sinks, entry)?;
        Ok(self)
    }

    /// Registers a transform under its spec name (category `utility`).
    pub fn register_transform<T: Transform + Default>(&mut self) -> Result<&mut Self> {
        self.register_transform_in::<T>(Category::Utility, &[])
    }

    /// Registers a transform with a category and tags.
    pub fn register_transform_in<T: Transform + Default>(
        &mut self,
        category: Category,
        tags: &[&str],
    ) -> Result<&mut Self> {
        let entry = Entry::new(
            ConnectorKind::Transform,
            std::any::type_name::<T>(),
            category,
            tags,
            T::spec,
            build_transform::<T>,
        );
        insert(&mut self.transforms, entry)?;
        Ok(self)
    }

    /// Makes `alias` another name of the registered transform `name`
    /// (`rename_field` → `replace_field`). Listed with the transform.
    pub fn alias_transform(&mut self, alias: &str, name: &str) -> &mut Self {
        if let Some(entry) = self.transforms.get_mut(name) {
            if !entry.aliases.iter().any(|a| a == alias) {
                entry.aliases.push(alias.to_string());
            }
            self.transform_aliases
                .insert(alias.to_string(), name.to_string());
        }
        self
    }

    /// A source by name.
    pub fn source(&self, name: &str) -> Option<&Entry<dyn AnySource>> {
        self.sources.get(name)
    }

    /// A sink by name.
    pub fn sink(&self, name: &str) -> Option<&Entry<dyn AnySink>> {
        self.sinks.get(name)
    }

    /// A transform by name or alias; the seeds' PascalCase spelling works too
    /// (`MaskField` finds `mask_field`).
    pub fn transform(&self, name: &str) -> Option<&Entry<dyn AnyTransform>> {
        let lookup = |n: &str| {
            self.transforms.get(n).or_else(|| {
                self.transform_aliases
                    .get(n)
                    .and_then(|target| self.transforms.get(target))
            })
        };
        lookup(name).or_else(|| {
            let snake = pascal_to_snake(name);
            (snake != name).then(|| lookup(&snake)).flatten()
        })
    }

    /// Every connector, sources first, each kind by name.
    pub fn list(&self) -> Vec<ConnectorMetadata> {
        let sources = self.sources.values().map(Entry::metadata);
        let sinks = self.sinks.values().map(Entry::metadata);
        let transforms = self.transforms.values().map(Entry::metadata);
        sources.chain(sinks).chain(transforms).collect()
    }

    /// Connectors in `category`.
    pub fn by_category(&self, category: Category) -> Vec<ConnectorMetadata> {
        self.list()
            .into_iter()
            .filter(|m| m.category == category)
            .collect()
    }

    /// Connectors whose name, description or tags contain `text` (case-insensitive).
    pub fn search(&self, text: &str) -> Vec<ConnectorMetadata> {
        let sources = self
            .sources
            .values()
            .filter(|e| e.matches(text))
            .map(Entry::metadata);
        let sinks = self
            .sinks
            .values()
            .filter(|e| e.matches(text))
            .map(Entry::metadata);
        let transforms = self
            .transforms
            .values()
            .filter(|e| e.matches(text))
            .map(Entry::metadata);
        sources.chain(sinks).chain(transforms).collect()
    }
}
