//! What a config derive's `connector = …` emits (one `inventory` item per connector), and
//! the builders those items point at.

use std::sync::Arc;

use serde_json::Value;

use super::{Builder, Category, Entry};
use crate::connector::{
    BatchSink, Sink, SinkConfig, Source, SourceConfig, Transform, TransformConfig,
};
use crate::error::{ConnectorError, Result};
use crate::runtime::{
    AnySink, AnySource, AnyTransform, BatchSinkAdapter, SinkAdapter, SourceAdapter,
    TransformAdapter,
};
use crate::spec::{ConnectorKind, ConnectorSpec};

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
            /// `module_path!()` where the derive ran: the crate that registered it.
            pub module_path: &'static str,
            pub category: &'static str,
            pub tags: &'static [&'static str],
            /// Other names (`aliases = [..]`, sinks and transforms).
            pub aliases: &'static [&'static str],
            pub spec: fn() -> ConnectorSpec,
            pub build: Builder<$target>,
        }

        impl $name {
            pub(super) fn entry(&self) -> Entry<$target> {
                Entry::new(
                    $kind,
                    (self.type_name)(),
                    Category::parse(self.category),
                    self.tags,
                    self.spec,
                    self.build,
                )
            }

            /// Whether this registration comes from the crate named `krate`.
            pub(super) fn is_in_crate(&self, krate: &str) -> bool {
                crate_of(self.module_path) == krate
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

/// The crate a `module_path!()` belongs to (`rivven_connect::smt::filter` → `rivven_connect`).
pub(super) fn crate_of(module_path: &str) -> &str {
    module_path.split("::").next().unwrap_or(module_path)
}

pub(super) fn kind_name(kind: ConnectorKind) -> &'static str {
    match kind {
        ConnectorKind::Source => "source",
        ConnectorKind::Sink => "sink",
        ConnectorKind::Transform => "transform",
    }
}

fn named_error(kind: ConnectorKind, name: &str, e: ConnectorError) -> ConnectorError {
    e.context(format!("{} connector `{name}`", kind_name(kind)))
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

#[cfg(test)]
mod tests {
    use super::crate_of;

    #[test]
    fn the_crate_is_the_first_module_path_segment() {
        assert_eq!(crate_of("rivven_connect::smt::filter"), "rivven_connect");
        assert_eq!(crate_of("my_app"), "my_app");
    }
}
