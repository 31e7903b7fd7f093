//! Derive macros for `rivven-connect` connector configurations.
//!
//! `#[derive(SourceConfig)]`, `#[derive(SinkConfig)]` and `#[derive(TransformConfig)]` turn
//! a config struct (which also derives `Deserialize`, `Validate` and `JsonSchema`) into:
//!
//! * a `<Struct>Spec` type with `spec()`, `name()`, `version()` (sinks: `batch_config()`),
//!   whose spec embeds the struct's JSON Schema — doc comments as descriptions, serde
//!   defaults, `validator` rules, secret fields marked `writeOnly` / `x-secret` (found in
//!   the generated schema, nested ones included, under their serde names);
//! * the config trait (`from_value`, `from_yaml`: reject unknown keys unless
//!   `allow_unknown_fields`, deserialize, then validate);
//! * with `connector = Type`, the connector's registration, so it appears in
//!   `Registry::discovered()` and is usable from YAML by name.
//!
//! The attributes, their defaults and examples are documented on `rivven_connect::derive`
//! and in this crate's README. Use the macros through `rivven_connect`, which re-exports
//! them; the generated code refers to `::rivven_connect::__private` (override with
//! `#[rivven(crate = path)]` when the dependency is renamed).

mod attrs;
mod expand;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

use attrs::Kind;

/// Derives the source config trait, a `<Struct>Spec` and (with `connector = ..`) the
/// registration. Attributes: `#[source(name, version, description, author, license,
/// documentation_url, incremental, category, tags, allow_unknown_fields, connector)]`.
#[proc_macro_derive(SourceConfig, attributes(source, sink, transform, rivven))]
pub fn derive_source_config(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::expand(&input, Kind::Source).into()
}

/// Derives the sink config trait, a `<Struct>Spec` with `batch_config()` and (with
/// `connector = ..`) the registration. Attributes: `#[sink(name, version, description,
/// author, license, documentation_url, batching, batch_size, category, tags, aliases,
/// allow_unknown_fields, connector)]`.
#[proc_macro_derive(SinkConfig, attributes(source, sink, transform, rivven))]
pub fn derive_sink_config(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::expand(&input, Kind::Sink).into()
}

/// Derives the transform config trait, a `<Struct>Spec` and (with `connector = ..`) the
/// registration. Attributes: `#[transform(name, version, description, author, license,
/// documentation_url, category, tags, aliases, allow_unknown_fields, connector)]`.
#[proc_macro_derive(TransformConfig, attributes(source, sink, transform, rivven))]
pub fn derive_transform_config(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::expand(&input, Kind::Transform).into()
}
