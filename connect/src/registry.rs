//! The connector registry: connectors by name, with metadata, building type-erased
//! connectors from JSON/YAML config.
//!
//! Connectors get in two ways: every connector whose config derive names it with
//! `connector = Type` (through `inventory`, no registration line) — this crate's built-ins
//! ([`Registry::builtin`]) exactly like everybody's ([`Registry::discovered`]) — and
//! explicit calls such as [`Registry::register_source`]. A config is deserialized and validated once, when the
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

use crate::connector::{BatchSink, Sink, Source, Transform};
use crate::error::{ConnectorError, Result};
use crate::runtime::{AnySink, AnySource, AnyTransform};
use crate::spec::{ConnectorKind, ConnectorSpec};

mod registration;

use registration::kind_name;
#[doc(hidden)]
pub use registration::{
    build_batch_sink, build_sink, build_source, build_transform, SinkRegistration,
    SourceRegistration, TransformRegistration,
};

/// The crate whose registrations are the built-ins ([`Registry::builtin`]).
const THIS_CRATE: &str = env!("CARGO_CRATE_NAME");

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
    /// Parses the derive's `category = "…"` value (unknown values are `Utility`; the
    /// derive accepts only the known ones).
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
    sink_aliases: BTreeMap<String, String>,
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
            "duplicate {} connector name `{}`: registered by both `{}` and `{}`",
            kind_name(entry.kind),
            entry.name,
            existing.type_name,
            entry.type_name
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

    /// The connectors of this crate: `datagen`, `stdout`, `file` (source and sink) and the
    /// single-message transforms of [`crate::smt`]. Each registers itself through its
    /// config derive (`connector = …`, with its category and tags beside it), exactly as
    /// a user's connector does; see [`Registry::try_builtin`] for the fallible form.
    ///
    /// # Panics
    ///
    /// If two built-ins claim one name — a bug of this crate that its own tests rule out.
    pub fn builtin() -> Self {
        match Self::try_builtin() {
            Ok(registry) => registry,
            Err(e) => panic!("rivven-connect's built-in connectors clash: {e}"),
        }
    }

    /// The connectors of this crate (see [`Registry::builtin`]); fails, naming both Rust
    /// types, when two of them claim one name or alias.
    pub fn try_builtin() -> Result<Self> {
        Self::collect(Some(THIS_CRATE))
    }

    /// Every connector registered by a derive's `connector = …` in any crate linked into
    /// this program, the built-ins included. Fails when two different types claim the
    /// same name or alias (the error names both types).
    pub fn discovered() -> Result<Self> {
        Self::collect(None)
    }

    /// The registrations of the crate `only` (all crates for `None`).
    fn collect(only: Option<&str>) -> Result<Self> {
        let mut r = Self::new();
        for reg in inventory::iter::<SourceRegistration> {
            if only.is_none_or(|c| reg.is_in_crate(c)) {
                insert(&mut r.sources, reg.entry())?;
            }
        }
        let mut sink_aliases = Vec::new();
        for reg in inventory::iter::<SinkRegistration> {
            if only.is_none_or(|c| reg.is_in_crate(c)) {
                let entry = reg.entry();
                sink_aliases.extend(reg.aliases.iter().map(|a| (*a, entry.name.clone())));
                insert(&mut r.sinks, entry)?;
            }
        }
        for (alias, name) in sink_aliases {
            r.try_alias_sink(alias, &name)?;
        }
        let mut aliases = Vec::new();
        for reg in inventory::iter::<TransformRegistration> {
            if only.is_none_or(|c| reg.is_in_crate(c)) {
                let entry = reg.entry();
                aliases.extend(reg.aliases.iter().map(|a| (*a, entry.name.clone())));
                r.add_transform(entry)?;
            }
        }
        for (alias, name) in aliases {
            r.try_alias_transform(alias, &name)?;
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
        self.add_transform(entry)?;
        Ok(self)
    }

    /// Inserts a transform; its name must not be another type's alias.
    fn add_transform(&mut self, entry: Entry<dyn AnyTransform>) -> Result<()> {
        if let Some(target) = self.transform_aliases.get(&entry.name) {
            if let Some(other) = self.transforms.get(target) {
                if other.type_name != entry.type_name {
                    return Err(ConnectorError::configuration(format!(
                        "transform name `{}` of `{}` is already an alias of `{}` (`{}`)",
                        entry.name, entry.type_name, other.name, other.type_name
                    )));
                }
            }
        }
        insert(&mut self.transforms, entry)
    }

    /// Makes `alias` another name of the registered transform `name`
    /// (`rename_field` → `replace_field`). Listed with the transform. A derive declares
    /// this beside the connector (`aliases = ["…"]`); this call is for connectors
    /// registered by hand. An alias that cannot be added (see
    /// [`Registry::try_alias_transform`]) is logged as an error and not added.
    pub fn alias_transform(&mut self, alias: &str, name: &str) -> &mut Self {
        if let Err(e) = self.try_alias_transform(alias, name) {
            tracing::error!(alias, transform = name, error = %e, "transform alias not added");
        }
        self
    }

    /// Makes `alias` another name of the registered transform `name`; fails when `name` is
    /// not registered, or when `alias` already names (or is an alias of) another type — the
    /// error names both types. Repeating an existing alias is fine.
    pub fn try_alias_transform(&mut self, alias: &str, name: &str) -> Result<&mut Self> {
        let Some(entry) = self.transforms.get(name) else {
            return Err(ConnectorError::configuration(format!(
                "transform alias `{alias}` names `{name}`, which is not registered"
            )));
        };
        let type_name = entry.type_name.clone();
        let taken_by = self.transforms.get(alias).or_else(|| {
            self.transform_aliases
                .get(alias)
                .and_then(|target| self.transforms.get(target))
        });
        if let Some(other) = taken_by {
            if other.type_name == type_name {
                return Ok(self);
            }
            return Err(ConnectorError::configuration(format!(
                "duplicate transform name `{alias}`: an alias of `{type_name}` and a name of `{}`",
                other.type_name
            )));
        }
        if let Some(entry) = self.transforms.get_mut(name) {
            entry.aliases.push(alias.to_string());
        }
        self.transform_aliases
            .insert(alias.to_string(), name.to_string());
        Ok(self)
    }

    /// A source by name.
    pub fn source(&self, name: &str) -> Option<&Entry<dyn AnySource>> {
        self.sources.get(name)
    }

    /// A sink by name or alias.
    pub fn sink(&self, name: &str) -> Option<&Entry<dyn AnySink>> {
        self.sinks.get(name).or_else(|| {
            self.sink_aliases
                .get(name)
                .and_then(|target| self.sinks.get(target))
        })
    }

    /// Makes `alias` another name of the registered sink `name` (`s3` →
    /// `object-storage`); fails when `name` is not registered or `alias`
    /// names another sink (the error names both types).
    pub fn try_alias_sink(&mut self, alias: &str, name: &str) -> Result<&mut Self> {
        let Some(entry) = self.sinks.get(name) else {
            return Err(ConnectorError::configuration(format!(
                "sink alias `{alias}` names `{name}`, which is not registered"
            )));
        };
        let type_name = entry.type_name.clone();
        if let Some(other) = self.sink(alias) {
            if other.type_name == type_name {
                return Ok(self);
            }
            return Err(ConnectorError::configuration(format!(
                "duplicate sink name `{alias}`: an alias of `{type_name}` and a name of `{}`",
                other.type_name
            )));
        }
        if let Some(entry) = self.sinks.get_mut(name) {
            entry.aliases.push(alias.to_string());
        }
        self.sink_aliases
            .insert(alias.to_string(), name.to_string());
        Ok(self)
    }

    /// A transform by name or alias; the PascalCase spelling of the original
    /// rivven-connect works too (`MaskField` finds `mask_field`).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_clash_names_both_types() {
        let mut r = Registry::builtin();
        let err = r
            .try_alias_transform("filter", "cast")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("smt::cast::Cast") && err.contains("smt::filter::Filter"),
            "{err}"
        );
        let err = r
            .try_alias_transform("x", "no_such_transform")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("no_such_transform"), "{err}");
        // Repeating an alias, or aliasing a transform to its own name, is fine.
        assert!(r
            .try_alias_transform("rename_field", "replace_field")
            .is_ok());
        assert!(r.try_alias_transform("cast", "cast").is_ok());
        assert_eq!(
            r.transform("rename_field").map(|e| e.aliases.clone()),
            Some(vec!["rename_field".to_string()])
        );
    }

    #[test]
    fn a_second_type_under_a_registered_name_names_both_types() {
        #[derive(Debug, Default)]
        struct OtherStdout;
        #[async_trait::async_trait]
        impl Sink for OtherStdout {
            type Config = crate::builtin::StdoutSinkConfig;
            fn spec() -> ConnectorSpec {
                ConnectorSpec::builder("stdout", "0.0.1").build()
            }
            async fn check(&self, _: &Self::Config) -> Result<crate::CheckResult> {
                Ok(crate::CheckResult::success())
            }
            async fn write(
                &self,
                _: &Self::Config,
                _: futures::stream::BoxStream<'static, crate::SourceEvent>,
            ) -> Result<crate::WriteResult> {
                Ok(crate::WriteResult::new())
            }
        }
        let mut r = Registry::builtin();
        let err = r
            .register_sink::<OtherStdout>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("duplicate sink connector name `stdout`")
                && err.contains("StdoutSink")
                && err.contains("OtherStdout"),
            "{err}"
        );
        // The same type again (its derive registered it already) is not a clash.
        assert!(r.register_sink::<crate::builtin::StdoutSink>().is_ok());
    }
}
