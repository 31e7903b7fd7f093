//! Topic routing for CDC sources: a template such as `cdc.{schema}.{table}` turns
//! each change's source coordinates into a topic (stream) name.
//!
//! Placeholders: `{database}`, `{schema}` and `{table}`. The template's literal
//! parts are kept as written (they may use only `[A-Za-z0-9._-]`, checked when
//! the resolver is built); each placeholder value is normalized, in this order:
//!
//! 1. **Prefix and suffix stripping**: the first listed prefix that matches and
//!    leaves a non-empty rest is removed (at most one), then likewise one suffix.
//!    Matching is case-sensitive.
//! 2. **Case conversion** ([`CaseConversion`]): `none` (default), `lower`, `upper`,
//!    `snake_case` or `kebab-case`. The two word cases split words at camel-case
//!    boundaries (`UserProfiles` → `user_profiles`, `SalesDB` → `sales_db`,
//!    `HTTPServer` → `http_server`) and treat every character that is not an ASCII
//!    letter or digit (`-`, `_`, space, `.`, `@`, `é`, …) as a word separator, so `snake_case`
//!    turns `my-table` into `my_table` and `kebab-case` turns `my_table` into
//!    `my-table`.
//! 3. **Character rules**: any character outside `[A-Za-z0-9_-]` becomes `_` (dots
//!    too: dots separate the template's parts, never a value's); with
//!    `avro_compatible`, `-` becomes `_` as well and a leading digit gets a `_`
//!    prefix; runs of `_` collapse to one.
//!
//! An empty value (a database without schemas, say) gives an empty part, so choose
//! a template whose placeholders all have values. Normalizing a normalized value
//! gives it back unchanged (prefix stripping aside: it removes one prefix per pass).
//!
//! A name longer than [`MAX_TOPIC_LENGTH`] (249, Kafka's limit) is cut and ends in
//! `-` (`_` in avro-compatible mode) and the first 8 hex digits of the SHA-256 of
//! the full name, so distinct long names stay distinct.
//!
//! ```
//! use rivven_connect::{CaseConversion, NormalizationConfig, TopicMetadata, TopicResolver};
//!
//! # fn main() -> rivven_connect::Result<()> {
//! // Simple snake_case conversion
//! let resolver = TopicResolver::builder("cdc.{schema}.{table}")
//!     .snake_case()
//!     .build()?;
//! let users = TopicMetadata::new("mydb", "public", "UserProfiles");
//! assert_eq!(resolver.resolve(&users), "cdc.public.user_profiles");
//!
//! // Production configuration with all options
//! let resolver = TopicResolver::builder("{database}.{schema}.{table}")
//!     .snake_case()
//!     .avro_compatible()
//!     .strip_prefixes(vec!["dbo_", "public_"])
//!     .build()?;
//!
//! // Resolve topic name
//! let metadata = TopicMetadata::new("SalesDB", "dbo_MySchema", "UserProfiles");
//! let topic = resolver.resolve(&metadata);
//! assert_eq!(topic, "sales_db.my_schema.user_profiles");
//!
//! // Custom normalization config
//! let config = NormalizationConfig::new()
//!     .with_case_conversion(CaseConversion::SnakeCase)
//!     .with_avro_compatible()
//!     .with_strip_prefixes(vec!["dbo_".to_string()]);
//!
//! let resolver = TopicResolver::builder("cdc.{table}")
//!     .normalization(config)
//!     .build()?;
//! assert_eq!(resolver.resolve(&TopicMetadata::new("db", "dbo", "dbo_2024-Orders")), "cdc._2024_orders");
//!
//! // Mistakes are caught when the resolver is built.
//! let err = TopicResolver::builder("cdc.{tabel}").build().unwrap_err();
//! assert!(err.to_string().contains("{tabel}"));
//! # Ok(())
//! # }
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use validator::{Validate, ValidationError};

use crate::error::{ConnectorError, Result};

/// The longest topic name [`TopicResolver::resolve`] returns (Kafka's limit).
pub const MAX_TOPIC_LENGTH: usize = 249;

/// Hex digits of the hash that ends a truncated topic name.
const HASH_HEX_DIGITS: usize = 8;

/// The placeholders, as listed in error messages.
const VALID_PLACEHOLDERS: &str = "`{database}`, `{schema}`, `{table}`";

/// How the case of placeholder values is converted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseConversion {
    /// Keep the case as it is.
    #[default]
    None,
    /// Lower-case (`UserProfiles` → `userprofiles`).
    Lower,
    /// Upper-case (`UserProfiles` → `USERPROFILES`).
    Upper,
    /// Lower-case words joined by `_` (`UserProfiles` → `user_profiles`, `my-table` → `my_table`).
    SnakeCase,
    /// Lower-case words joined by `-` (`UserProfiles` → `user-profiles`, `my_table` → `my-table`).
    #[serde(rename = "kebab-case")]
    KebabCase,
}

/// How placeholder values are normalized into topic-name parts (the `normalization` block).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct NormalizationConfig {
    /// Case conversion: `none` (default), `lower`, `upper`, `snake_case` or `kebab-case`.
    #[serde(default)]
    pub case_conversion: CaseConversion,
    /// Stricter names for Avro: `-` becomes `_` and a leading digit gets a `_` prefix.
    #[serde(default)]
    pub avro_compatible: bool,
    /// Prefixes removed from values (the first that matches; never the whole value).
    #[serde(default)]
    #[validate(custom(function = "no_empty_affix"))]
    pub strip_prefixes: Vec<String>,
    /// Suffixes removed from values (the first that matches; never the whole value).
    #[serde(default)]
    #[validate(custom(function = "no_empty_affix"))]
    pub strip_suffixes: Vec<String>,
}

fn no_empty_affix(affixes: &[String]) -> std::result::Result<(), ValidationError> {
    if affixes.iter().any(String::is_empty) {
        let message = "an empty prefix or suffix would strip nothing; remove it";
        return Err(ValidationError::new("empty_affix").with_message(message.into()));
    }
    Ok(())
}

impl NormalizationConfig {
    /// No normalization beyond the character rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the case conversion.
    pub fn with_case_conversion(mut self, case_conversion: CaseConversion) -> Self {
        self.case_conversion = case_conversion;
        self
    }

    /// Turns on avro-compatible names.
    pub fn with_avro_compatible(mut self) -> Self {
        self.avro_compatible = true;
        self
    }

    /// Sets the prefixes to strip (replacing any set before).
    pub fn with_strip_prefixes(mut self, prefixes: Vec<String>) -> Self {
        self.strip_prefixes = prefixes;
        self
    }

    /// Sets the suffixes to strip (replacing any set before).
    pub fn with_strip_suffixes(mut self, suffixes: Vec<String>) -> Self {
        self.strip_suffixes = suffixes;
        self
    }

    /// Normalizes one placeholder value (see the [module docs](self) for the rules).
    ///
    /// ```
    /// use rivven_connect::{CaseConversion, NormalizationConfig};
    ///
    /// let config = NormalizationConfig::new().with_case_conversion(CaseConversion::SnakeCase);
    /// assert_eq!(config.normalize("HTTPServer Logs"), "http_server_logs");
    /// ```
    pub fn normalize(&self, value: &str) -> String {
        let stripped = self.strip(value);
        let cased = convert_case(stripped, self.case_conversion);
        apply_character_rules(&cased, self.avro_compatible)
    }

    fn strip<'a>(&self, value: &'a str) -> &'a str {
        let value = self
            .strip_prefixes
            .iter()
            .find_map(|p| {
                value
                    .strip_prefix(p.as_str())
                    .filter(|rest| !rest.is_empty())
            })
            .unwrap_or(value);
        self.strip_suffixes
            .iter()
            .find_map(|s| {
                value
                    .strip_suffix(s.as_str())
                    .filter(|rest| !rest.is_empty())
            })
            .unwrap_or(value)
    }
}

fn convert_case(value: &str, case: CaseConversion) -> String {
    match case {
        CaseConversion::None => value.to_string(),
        CaseConversion::Lower => value.to_lowercase(),
        CaseConversion::Upper => value.to_uppercase(),
        CaseConversion::SnakeCase => join_words(value, '_'),
        CaseConversion::KebabCase => join_words(value, '-'),
    }
}

/// Lower-cases `value` and puts `joiner` between its words: at every run of
/// characters that are not ASCII letters or digits, and at camel-case boundaries
/// (`aB`, `1B`, and the last capital of an acronym followed by a lower-case letter:
/// `HTTPServer`). The result holds only `[a-z0-9]` and `joiner`.
fn join_words(value: &str, joiner: char) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let push_joiner = |out: &mut String| {
        if !out.ends_with(joiner) {
            out.push(joiner);
        }
    };
    let mut prev: Option<char> = None;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_ascii_alphanumeric() {
            push_joiner(&mut out);
        } else {
            if c.is_ascii_uppercase() {
                let next_is_lower = chars.peek().is_some_and(char::is_ascii_lowercase);
                let boundary = prev.is_some_and(|p| {
                    p.is_ascii_lowercase()
                        || p.is_ascii_digit()
                        || (p.is_ascii_uppercase() && next_is_lower)
                });
                if boundary {
                    push_joiner(&mut out);
                }
            }
            out.push(c.to_ascii_lowercase());
        }
        prev = Some(c);
    }
    out
}

fn apply_character_rules(value: &str, avro_compatible: bool) -> String {
    let mut out = String::with_capacity(value.len() + 1);
    for c in value.chars() {
        let c = match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => c,
            '-' if !avro_compatible => c,
            _ => '_',
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if avro_compatible && out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Where a change comes from: the values of the template's placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TopicMetadata {
    /// Database name (`{database}`).
    pub database: String,
    /// Schema name (`{schema}`).
    pub schema: String,
    /// Table name (`{table}`).
    pub table: String,
}

impl TopicMetadata {
    /// Metadata of `database`.`schema`.`table`.
    pub fn new(
        database: impl Into<String>,
        schema: impl Into<String>,
        table: impl Into<String>,
    ) -> Self {
        Self {
            database: database.into(),
            schema: schema.into(),
            table: table.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Database,
    Schema,
    Table,
}

impl Placeholder {
    fn value(self, metadata: &TopicMetadata) -> &str {
        match self {
            Placeholder::Database => &metadata.database,
            Placeholder::Schema => &metadata.schema,
            Placeholder::Table => &metadata.table,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder(Placeholder),
}

fn parse_template(template: &str) -> Result<Vec<Segment>> {
    let invalid = |what: String| {
        ConnectorError::config(format!("invalid topic template `{template}`: {what}"))
    };
    if template.is_empty() {
        return Err(ConnectorError::config(format!(
            "the topic template is empty; use placeholders {VALID_PLACEHOLDERS} and literal text"
        )));
    }
    let mut segments = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let Some(open) = rest.find(['{', '}']) else {
            segments.push(Segment::Literal(rest.to_string()));
            break;
        };
        if open > 0 {
            segments.push(Segment::Literal(rest[..open].to_string()));
        }
        if rest[open..].starts_with('}') {
            return Err(invalid(
                "unbalanced braces: `}` without a matching `{`".into(),
            ));
        }
        let after = &rest[open + 1..];
        let close = match after.find(['{', '}']) {
            Some(close) if after[close..].starts_with('}') => close,
            _ => {
                return Err(invalid(
                    "unbalanced braces: `{` is not closed by `}`".into(),
                ))
            }
        };
        let placeholder = match &after[..close] {
            "database" => Placeholder::Database,
            "schema" => Placeholder::Schema,
            "table" => Placeholder::Table,
            other => {
                return Err(invalid(format!(
                    "unknown placeholder `{{{other}}}`; valid placeholders are {VALID_PLACEHOLDERS}"
                )))
            }
        };
        segments.push(Segment::Placeholder(placeholder));
        rest = &after[close + 1..];
    }
    for segment in &segments {
        if let Segment::Literal(text) = segment {
            if let Some(bad) = text
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            {
                return Err(invalid(format!(
                    "`{bad}` is not allowed in a topic name (use letters, digits, `.`, `_`, `-`)"
                )));
            }
        }
    }
    Ok(segments)
}

/// Turns a change's [`TopicMetadata`] into a topic name (see the [module docs](self)).
///
/// Resolving allocates a few small strings; a source that routes every event
/// should cache the topic per table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicResolver {
    template: String,
    segments: Vec<Segment>,
    normalization: NormalizationConfig,
}

impl TopicResolver {
    /// Starts building a resolver for `template`.
    pub fn builder(template: impl Into<String>) -> TopicResolverBuilder {
        TopicResolverBuilder {
            template: template.into(),
            normalization: NormalizationConfig::default(),
        }
    }

    /// A resolver for `template` with `normalization` (the YAML's `topic_routing` and
    /// `normalization`). Fails on an empty template, unbalanced braces, an unknown
    /// placeholder, a character not allowed in topic names, or an empty prefix/suffix.
    pub fn new(template: impl Into<String>, normalization: NormalizationConfig) -> Result<Self> {
        let template = template.into();
        let segments = parse_template(&template)?;
        for (key, affixes) in [
            ("strip_prefixes", &normalization.strip_prefixes),
            ("strip_suffixes", &normalization.strip_suffixes),
        ] {
            if affixes.iter().any(String::is_empty) {
                return Err(ConnectorError::config(format!(
                    "normalization `{key}` contains an empty string, which would strip nothing"
                )));
            }
        }
        Ok(Self {
            template,
            segments,
            normalization,
        })
    }

    /// The template as written.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The normalization applied to placeholder values.
    pub fn normalization(&self) -> &NormalizationConfig {
        &self.normalization
    }

    /// The topic name for `metadata`: literal parts as written, placeholder values
    /// normalized, at most [`MAX_TOPIC_LENGTH`] characters.
    pub fn resolve(&self, metadata: &TopicMetadata) -> String {
        let mut topic = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => topic.push_str(text),
                Segment::Placeholder(p) => {
                    topic.push_str(&self.normalization.normalize(p.value(metadata)))
                }
            }
        }
        let joiner = if self.normalization.avro_compatible {
            '_'
        } else {
            '-'
        };
        limit_length(topic, joiner)
    }
}

/// Cuts a name longer than [`MAX_TOPIC_LENGTH`] and appends `joiner` and a hash of
/// the full name.
fn limit_length(topic: String, joiner: char) -> String {
    if topic.len() <= MAX_TOPIC_LENGTH {
        return topic;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(topic.as_bytes());
    let mut cut = MAX_TOPIC_LENGTH - 1 - HASH_HEX_DIGITS;
    while !topic.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(MAX_TOPIC_LENGTH);
    out.push_str(&topic[..cut]);
    out.push(joiner);
    for byte in digest.iter().take(HASH_HEX_DIGITS / 2) {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// Builds a [`TopicResolver`]; see [`TopicResolver::builder`]. Later calls override
/// earlier ones (`.normalization(config)` replaces every option set before it).
#[derive(Debug, Clone)]
pub struct TopicResolverBuilder {
    template: String,
    normalization: NormalizationConfig,
}

impl TopicResolverBuilder {
    /// Converts values to snake_case.
    pub fn snake_case(self) -> Self {
        self.case_conversion(CaseConversion::SnakeCase)
    }

    /// Converts values to lower case.
    pub fn lowercase(self) -> Self {
        self.case_conversion(CaseConversion::Lower)
    }

    /// Sets the case conversion.
    pub fn case_conversion(mut self, case_conversion: CaseConversion) -> Self {
        self.normalization.case_conversion = case_conversion;
        self
    }

    /// Turns on avro-compatible names.
    pub fn avro_compatible(mut self) -> Self {
        self.normalization.avro_compatible = true;
        self
    }

    /// Sets the prefixes stripped from values.
    pub fn strip_prefixes<S: Into<String>>(mut self, prefixes: Vec<S>) -> Self {
        self.normalization.strip_prefixes = prefixes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the suffixes stripped from values.
    pub fn strip_suffixes<S: Into<String>>(mut self, suffixes: Vec<S>) -> Self {
        self.normalization.strip_suffixes = suffixes.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the whole normalization.
    pub fn normalization(mut self, normalization: NormalizationConfig) -> Self {
        self.normalization = normalization;
        self
    }

    /// The resolver; fails as [`TopicResolver::new`] does.
    pub fn build(self) -> Result<TopicResolver> {
        TopicResolver::new(self.template, self.normalization)
    }
}

#[cfg(test)]
mod tests;
