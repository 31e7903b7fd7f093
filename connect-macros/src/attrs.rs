//! Parsing of `#[source(..)]`, `#[sink(..)]`, `#[transform(..)]` and `#[rivven(..)]`.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, LitInt, LitStr, Path};

/// Which derive is expanding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Source,
    Sink,
    Transform,
}

impl Kind {
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Sink => "sink",
            Kind::Transform => "transform",
        }
    }

    pub(crate) fn derive(self) -> &'static str {
        match self {
            Kind::Source => "SourceConfig",
            Kind::Sink => "SinkConfig",
            Kind::Transform => "TransformConfig",
        }
    }

    fn keys(self) -> &'static str {
        match self {
            Kind::Source => "name, version, description, author, license, documentation_url, incremental, category, tags, allow_unknown_fields, connector",
            Kind::Sink => "name, version, description, author, license, documentation_url, batching, batch_size, category, tags, aliases, allow_unknown_fields, connector",
            Kind::Transform => "name, version, description, author, license, documentation_url, category, tags, aliases, allow_unknown_fields, connector",
        }
    }
}

/// The registry categories a connector may declare.
pub(crate) const CATEGORIES: &[&str] = &[
    "database",
    "messaging",
    "storage",
    "warehouse",
    "lakehouse",
    "ai-ml",
    "utility",
];

/// A string-valued attribute: a literal, or a macro such as `env!("CARGO_PKG_VERSION")`.
pub(crate) enum Text {
    Lit(LitStr),
    Macro(syn::ExprMacro),
}

#[derive(Default)]
pub(crate) struct ConnectorAttrs {
    pub(crate) name: Option<LitStr>,
    pub(crate) version: Option<Text>,
    pub(crate) description: Option<Text>,
    pub(crate) author: Option<Text>,
    pub(crate) license: Option<Text>,
    pub(crate) documentation_url: Option<Text>,
    pub(crate) incremental: bool,
    pub(crate) batching: bool,
    pub(crate) allow_unknown_fields: bool,
    pub(crate) batch_size: Option<LitInt>,
    pub(crate) category: Option<LitStr>,
    pub(crate) tags: Vec<LitStr>,
    pub(crate) aliases: Vec<LitStr>,
    pub(crate) connector: Option<Path>,
    pub(crate) krate: Option<Path>,
}

fn text(meta: &ParseNestedMeta<'_>) -> syn::Result<Text> {
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Ok(Text::Lit(s)),
        Expr::Macro(m) => Ok(Text::Macro(m)),
        other => Err(syn::Error::new_spanned(
            other,
            "expected a string literal (or a macro producing one, such as `env!(\"CARGO_PKG_VERSION\")`)",
        )),
    }
}

fn once<T>(
    slot: &mut Option<T>,
    value: T,
    meta: &ParseNestedMeta<'_>,
    key: &str,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("duplicate attribute key `{key}`")));
    }
    *slot = Some(value);
    Ok(())
}

fn flag(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Result<bool> {
    if meta.input.peek(syn::Token![=]) {
        let lit: syn::LitBool = meta.value()?.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("`{key}` is a flag: write `{key}` or `{key} = true`"),
            )
        })?;
        Ok(lit.value)
    } else {
        Ok(true)
    }
}

/// Every error of the check pass, combined so that all of them are reported at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub(crate) fn finish(self) -> Option<syn::Error> {
        self.0
    }
}

/// After a failed key, skips the rest of its value so the next key is still checked.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    while !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
        meta.input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

impl ConnectorAttrs {
    /// Reads the derive's attributes; every problem goes to `errors` and parsing goes on.
    pub(crate) fn parse(attrs: &[Attribute], kind: Kind, errors: &mut Errors) -> Self {
        let mut out = ConnectorAttrs::default();
        for attr in attrs {
            if attr.path().is_ident("rivven") {
                let parsed = attr.parse_nested_meta(|meta| {
                    let result = if meta.path.is_ident("crate") {
                        (|| {
                            let value = meta.value()?;
                            let path = if value.peek(LitStr) {
                                value.parse::<LitStr>()?.parse::<Path>()?
                            } else {
                                value.parse::<Path>()?
                            };
                            once(&mut out.krate, path, &meta, "crate")
                        })()
                    } else {
                        Err(meta.error("unknown `rivven` attribute key; expected `crate = path`"))
                    };
                    if let Err(e) = result {
                        errors.push(e);
                        skip_value(&meta)?;
                    }
                    Ok(())
                });
                if let Err(e) = parsed {
                    errors.push(e);
                }
                continue;
            }
            let is_own = attr.path().is_ident(kind.attr());
            let other = [Kind::Source, Kind::Sink, Kind::Transform]
                .into_iter()
                .find(|k| *k != kind && attr.path().is_ident(k.attr()));
            if let Some(other) = other {
                errors.push(syn::Error::new_spanned(
                    attr,
                    format!(
                        "`#[{}(..)]` belongs to `#[derive({})]`; this struct derives `{}`, which reads `#[{}(..)]`",
                        other.attr(),
                        other.derive(),
                        kind.derive(),
                        kind.attr()
                    ),
                ));
                continue;
            }
            if !is_own {
                continue;
            }
            let parsed = attr.parse_nested_meta(|meta| {
                if let Err(e) = out.key(&meta, kind) {
                    errors.push(e);
                    skip_value(&meta)?;
                }
                Ok(())
            });
            if let Err(e) = parsed {
                errors.push(e);
            }
        }
        out
    }

    fn key(&mut self, meta: &ParseNestedMeta<'_>, kind: Kind) -> syn::Result<()> {
        let Some(ident) = meta.path.get_ident().map(ToString::to_string) else {
            return Err(meta.error("expected a key such as `name = \"...\"`"));
        };
        match ident.as_str() {
            "name" => {
                let lit: LitStr = meta.value()?.parse()?;
                validate_name(&lit)?;
                once(&mut self.name, lit, meta, "name")
            }
            "version" => {
                let t = text(meta)?;
                once(&mut self.version, t, meta, "version")
            }
            "description" => {
                let t = text(meta)?;
                once(&mut self.description, t, meta, "description")
            }
            "author" => {
                let t = text(meta)?;
                once(&mut self.author, t, meta, "author")
            }
            "license" => {
                let t = text(meta)?;
                once(&mut self.license, t, meta, "license")
            }
            "documentation_url" => {
                let t = text(meta)?;
                once(&mut self.documentation_url, t, meta, "documentation_url")
            }
            "incremental" if kind == Kind::Source => {
                self.incremental = flag(meta, "incremental")?;
                Ok(())
            }
            "allow_unknown_fields" => {
                self.allow_unknown_fields = flag(meta, "allow_unknown_fields")?;
                Ok(())
            }
            "batching" if kind == Kind::Sink => {
                self.batching = flag(meta, "batching")?;
                Ok(())
            }
            "batch_size" if kind == Kind::Sink => {
                let lit: LitInt = meta.value()?.parse()?;
                let n: u64 = lit.base10_parse()?;
                if n == 0 {
                    return Err(syn::Error::new(
                        lit.span(),
                        "`batch_size` must be at least 1",
                    ));
                }
                once(&mut self.batch_size, lit, meta, "batch_size")
            }
            "category" => {
                let lit: LitStr = meta.value()?.parse()?;
                if !CATEGORIES.contains(&lit.value().as_str()) {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!(
                            "unknown category `{}`; expected one of: {}",
                            lit.value(),
                            CATEGORIES.join(", ")
                        ),
                    ));
                }
                once(&mut self.category, lit, meta, "category")
            }
            "tags" => {
                let value = meta.value()?;
                let content;
                syn::bracketed!(content in value);
                let tags = content.parse_terminated(|p| p.parse::<LitStr>(), syn::Token![,])?;
                self.tags.extend(tags);
                Ok(())
            }
            "aliases" if kind != Kind::Source => {
                let value = meta.value()?;
                let content;
                syn::bracketed!(content in value);
                let aliases = content.parse_terminated(|p| p.parse::<LitStr>(), syn::Token![,])?;
                for alias in &aliases {
                    validate_name(alias)?;
                }
                self.aliases.extend(aliases);
                Ok(())
            }
            "connector" => {
                let path: Path = meta.value()?.parse()?;
                once(&mut self.connector, path, meta, "connector")
            }
            "incremental" | "batching" | "batch_size" | "aliases" => Err(meta.error(format!(
                "`{ident}` is not supported by `#[derive({})]`; it applies to {}",
                kind.derive(),
                match ident.as_str() {
                    "incremental" => "sources",
                    "aliases" => "sinks and transforms",
                    _ => "sinks",
                }
            ))),
            _ => Err(meta.error(format!(
                "unknown `{}` attribute key `{ident}`; expected one of: {}",
                kind.attr(),
                kind.keys()
            ))),
        }
    }
}

fn validate_name(lit: &LitStr) -> syn::Result<()> {
    let name = lit.value();
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(syn::Error::new(
            lit.span(),
            "connector names are non-empty and use lowercase letters, digits, `-` and `_`",
        ))
    }
}

/// `MySourceConfig` → `my-source`.
pub(crate) fn default_name(ident: &str) -> String {
    let base = ident
        .strip_suffix("Config")
        .filter(|b| !b.is_empty())
        .unwrap_or(ident);
    let mut out = String::new();
    let chars: Vec<char> = base.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('-');
            }
            out.extend(c.to_lowercase());
        } else if *c == '_' {
            out.push('-');
        } else {
            out.push(*c);
        }
    }
    out
}

pub(crate) fn call_site_str(s: &str) -> LitStr {
    LitStr::new(s, Span::call_site())
}

#[cfg(test)]
mod tests {
    use super::default_name;

    #[test]
    fn kebab_case_without_config_suffix() {
        assert_eq!(default_name("MySourceConfig"), "my-source");
        assert_eq!(default_name("HTTPWebhookSinkConfig"), "http-webhook-sink");
        assert_eq!(default_name("S3Config"), "s3");
        assert_eq!(default_name("Config"), "config");
        assert_eq!(default_name("Datagen"), "datagen");
        assert_eq!(default_name("PostgresCdcConfig"), "postgres-cdc");
    }
}
