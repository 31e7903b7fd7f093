//! Formats by name: every crate registers the formats it provides with
//! [`register_format!`](crate::register_format) (an `inventory` item), and
//! whoever picks a format from a configuration looks it up here. This crate
//! registers `jsonl` and `json`; `rivven-connect-storage` registers `csv`,
//! `parquet` and `avro` (the last two always, so that a build without their
//! features can say which feature it lacks).
//!
//! A registration says what the format can do: every format makes whole
//! files ([`FormatRegistration::writer`]); an *appendable* one can also
//! continue an existing file ([`FormatRegistration::appender`], used by the
//! `file` sink), and a *readable* one decodes records one by one
//! ([`FormatRegistration::reader`], used by the `file` source). Options
//! arrive as the JSON of the configuration's options block (`null` when
//! there is none) and are checked by the constructor, so a bad option is an
//! error when the connector is built, not on the first event.
//!
//! ```
//! use rivven_connect::format::registry;
//!
//! let jsonl = registry::lookup("output_format", "jsonl").unwrap();
//! assert!(jsonl.appendable() && jsonl.readable());
//! let json = registry::lookup("output_format", "json").unwrap();
//! assert!(!json.appendable());
//! let err = registry::lookup("output_format", "xml").unwrap_err();
//! assert!(err.to_string().contains("output_format: no format `xml`"));
//! ```

use serde_json::Value;

use super::{AppendWriter, FormatWriter, JsonArrayWriter, JsonlReader, JsonlWriter, RecordReader};
use crate::error::{ConnectorError, Result};

/// Builds a writer of whole files from the format's options.
pub type WriterFn = fn(&Value) -> Result<Box<dyn FormatWriter>>;
/// Builds a writer that continues existing files from the format's options.
pub type AppenderFn = fn(&Value) -> Result<Box<dyn AppendWriter>>;
/// Builds a record reader from the format's options.
pub type ReaderFn = fn(&Value) -> Result<Box<dyn RecordReader>>;

/// One registered format: its name, extension, the crate providing it and
/// its constructors. Build it with [`FormatRegistration::new`] (a `const fn`,
/// as `inventory` needs) and submit it with
/// [`register_format!`](crate::register_format).
#[derive(Debug)]
pub struct FormatRegistration {
    name: &'static str,
    extension: &'static str,
    provider: &'static str,
    missing_feature: Option<&'static str>,
    writer: WriterFn,
    appender: Option<AppenderFn>,
    reader: Option<ReaderFn>,
}

inventory::collect!(FormatRegistration);

impl FormatRegistration {
    /// A format `name` with files `*.extension`, provided by the crate
    /// `provider` (named in errors), written by `writer`.
    pub const fn new(
        name: &'static str,
        extension: &'static str,
        provider: &'static str,
        writer: WriterFn,
    ) -> Self {
        Self {
            name,
            extension,
            provider,
            missing_feature: None,
            writer,
            appender: None,
            reader: None,
        }
    }

    /// The format can continue an existing file.
    pub const fn with_appender(mut self, appender: AppenderFn) -> Self {
        self.appender = Some(appender);
        self
    }

    /// The format's records can be read one by one.
    pub const fn with_reader(mut self, reader: ReaderFn) -> Self {
        self.reader = Some(reader);
        self
    }

    /// The format is known but not built: it needs the provider's cargo
    /// `feature` (every constructor then fails naming it).
    pub const fn not_built(mut self, feature: &'static str) -> Self {
        self.missing_feature = Some(feature);
        self
    }

    /// The name in configurations.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The file extension, without the dot.
    pub fn extension(&self) -> &'static str {
        self.extension
    }

    /// The crate that provides the format.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// Whether this build has the format (not only its name).
    pub fn is_built(&self) -> bool {
        self.missing_feature.is_none()
    }

    /// Whether an existing file can be continued (`jsonl`, `csv`).
    pub fn appendable(&self) -> bool {
        self.appender.is_some()
    }

    /// Whether the records can be read one by one (by the `file` source).
    pub fn readable(&self) -> bool {
        self.reader.is_some()
    }

    fn built(&self) -> Result<()> {
        match self.missing_feature {
            None => Ok(()),
            Some(feature) => Err(ConnectorError::config(format!(
                "format `{}` is not built into this binary: it needs the `{feature}` feature of \
                 {} (the `{feature}` or `storage-full` feature of the rivven-connect binary)",
                self.name, self.provider
            ))),
        }
    }

    /// A writer of whole files.
    pub fn writer(&self, options: &Value) -> Result<Box<dyn FormatWriter>> {
        self.built()?;
        (self.writer)(options)
    }

    /// A writer continuing existing files; a `Config` error for a format
    /// that only makes whole files.
    pub fn appender(&self, options: &Value) -> Result<Box<dyn AppendWriter>> {
        self.built()?;
        match self.appender {
            Some(build) => build(options),
            None => Err(ConnectorError::config(format!(
                "format `{}` makes whole files; it cannot be appended to",
                self.name
            ))),
        }
    }

    /// A record reader; a `Config` error for a format without one.
    pub fn reader(&self, options: &Value) -> Result<Box<dyn RecordReader>> {
        self.built()?;
        match self.reader {
            Some(build) => build(options),
            None => Err(ConnectorError::config(format!(
                "format `{}` cannot be read record by record",
                self.name
            ))),
        }
    }
}

/// Registers a format: `register_format!(FormatRegistration::new(…))` at
/// module level in the crate that provides it. A binary gets the formats of
/// every crate it links (a crate it does not otherwise use must be
/// referenced, e.g. `rivven_connect_storage::link()`).
#[macro_export]
macro_rules! register_format {
    ($registration:expr) => {
        $crate::__private::inventory::submit! { $registration }
    };
}

/// Every registered format, by name (the first registration of a name wins).
pub fn formats() -> Vec<&'static FormatRegistration> {
    let mut all: Vec<&'static FormatRegistration> =
        inventory::iter::<FormatRegistration>.into_iter().collect();
    all.sort_by_key(|f| f.name);
    all.dedup_by_key(|f| f.name);
    all
}

/// The format registered as `name`.
pub fn find(name: &str) -> Option<&'static FormatRegistration> {
    inventory::iter::<FormatRegistration>
        .into_iter()
        .find(|f| f.name == name)
}

/// The format registered as `name`, or a `Config` error naming the
/// configuration `key`, the formats this build has, and where the others
/// come from.
pub fn lookup(key: &str, name: &str) -> Result<&'static FormatRegistration> {
    if let Some(format) = find(name) {
        return Ok(format);
    }
    let known: Vec<&str> = formats().iter().map(|f| f.name).collect();
    Err(ConnectorError::config(format!(
        "{key}: no format `{name}` in this build (it has {}); csv, parquet and avro are \
         registered by rivven-connect-storage (the `storage` feature of the rivven-connect \
         binary; a custom binary calls `rivven_connect_storage::link()`)",
        known.join(", ")
    )))
}

/// Refuses options for a format that takes none.
fn no_options(name: &str, options: &Value) -> Result<()> {
    match options {
        Value::Null => Ok(()),
        Value::Object(map) if map.is_empty() => Ok(()),
        _ => Err(ConnectorError::config(format!(
            "format `{name}` takes no options"
        ))),
    }
}

crate::register_format!(
    FormatRegistration::new("jsonl", "jsonl", "rivven-connect", |options| {
        no_options("jsonl", options)?;
        Ok(Box::new(JsonlWriter::new()))
    })
    .with_appender(|options| {
        no_options("jsonl", options)?;
        Ok(Box::new(JsonlWriter::new()))
    })
    .with_reader(|options| {
        no_options("jsonl", options)?;
        Ok(Box::new(JsonlReader))
    })
);

crate::register_format!(FormatRegistration::new(
    "json",
    "json",
    "rivven-connect",
    |options| {
        no_options("json", options)?;
        Ok(Box::new(JsonArrayWriter::new()))
    }
));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SourceEvent;
    use serde_json::json;

    #[test]
    fn this_crate_registers_jsonl_and_json_with_what_they_can_do() {
        let names: Vec<&str> = formats().iter().map(|f| f.name()).collect();
        assert!(
            names.contains(&"jsonl") && names.contains(&"json"),
            "{names:?}"
        );
        let jsonl = find("jsonl").unwrap_or_else(|| panic!("jsonl"));
        assert_eq!(
            (jsonl.extension(), jsonl.provider(), jsonl.is_built()),
            ("jsonl", "rivven-connect", true)
        );
        assert!(jsonl.appendable() && jsonl.readable());
        let json = find("json").unwrap_or_else(|| panic!("json"));
        assert!(!json.appendable() && !json.readable());
        let err = json.appender(&Value::Null).err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("makes whole files"));
    }

    #[test]
    fn constructors_build_working_writers_and_readers() {
        let jsonl = find("jsonl").unwrap_or_else(|| panic!("jsonl"));
        let mut appender = jsonl.appender(&json!({})).unwrap_or_else(|e| panic!("{e}"));
        appender
            .write(&SourceEvent::record("s", json!({"id": 1})))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(appender.take().unwrap_or_default(), b"{\"id\":1}\n");
        let mut reader = jsonl.reader(&Value::Null).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reader.decode(b"{\"id\":1}").ok(), Some(json!({"id": 1})));
        assert!(reader.decode(b"{nope").is_err());
        let err = jsonl
            .writer(&json!({"delimiter": ";"}))
            .err()
            .map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("takes no options"));
    }

    #[test]
    fn an_unknown_name_is_a_config_error_naming_the_key_and_the_providing_crate() {
        let err = lookup("output_format", "csvv").err();
        let err = err.unwrap_or_else(|| panic!("csvv is not a format"));
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        let text = err.to_string();
        for part in [
            "output_format: no format `csvv`",
            "jsonl",
            "rivven-connect-storage",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
    }

    #[test]
    fn a_format_registered_without_its_feature_names_the_feature() {
        let parquet = FormatRegistration::new("parquet-test", "parquet", "some-crate", |_| {
            Err(ConnectorError::fatal("never called"))
        })
        .not_built("parquet");
        assert!(!parquet.is_built());
        let text = parquet
            .writer(&Value::Null)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            text.contains("needs the `parquet` feature of some-crate"),
            "{text}"
        );
    }
}
