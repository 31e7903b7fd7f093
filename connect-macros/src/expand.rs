//! Code generation for the three derives.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr, Type};

use crate::attrs::{call_site_str, default_name, ConnectorAttrs, Kind, Text};

fn text_tokens(t: &Option<Text>) -> TokenStream {
    match t {
        Some(Text::Lit(lit)) => quote!(::core::option::Option::Some(#lit)),
        Some(Text::Macro(m)) => quote!(::core::option::Option::Some(#m)),
        None => quote!(::core::option::Option::None),
    }
}

/// The doc comment's paragraphs joined into one line.
fn doc_comment(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let text = lines
        .iter()
        .map(String::as_str)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!text.is_empty()).then_some(text)
}

/// `true` for `SecretString`, `SecretBox<..>`, `Secret<..>` and `Option` of those.
fn is_secret(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    if last.ident == "Option" {
        if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
            if let Some(syn::GenericArgument::Type(inner)) = args.args.first() {
                return is_secret(inner);
            }
        }
        return false;
    }
    last.ident.to_string().starts_with("Secret")
}

/// `#[serde(rename = "..")]` on a field, and `#[serde(rename_all = "..")]` on the container.
fn serde_string(attrs: &[syn::Attribute], key: &str) -> syn::Result<Option<String>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(key) {
                if let Ok(v) = meta.value() {
                    if let Ok(s) = v.parse::<LitStr>() {
                        found = Some(s.value());
                    }
                }
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                let _: TokenStream = content.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(found)
}

/// `#[validate(custom(function = "f"))]` / `custom(function = f)` on a field.
fn custom_validator(attrs: &[syn::Attribute]) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("validate")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("custom") && meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|inner| {
                    if inner.path.is_ident("function") {
                        let expr: syn::Expr = inner.value()?.parse()?;
                        found = Some(match expr {
                            syn::Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Str(s),
                                ..
                            }) => s.value(),
                            other => quote!(#other).to_string().replace(' ', ""),
                        });
                    } else if inner.input.peek(syn::Token![=]) {
                        let _: syn::Expr = inner.value()?.parse()?;
                    }
                    Ok(())
                })
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
                Ok(())
            } else if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                let _: TokenStream = content.parse()?;
                Ok(())
            } else {
                Ok(())
            }
        });
    }
    found
}

pub(crate) fn expand(input: &DeriveInput, kind: Kind) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    let derive = kind.derive();
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            format!("`#[derive({derive})]` does not support generic structs: a connector config is one concrete type"),
        ));
    }
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => &named.named,
            Fields::Unit => {
                return Err(syn::Error::new(
                    ident.span(),
                    format!("`#[derive({derive})]` needs a struct with named fields; write `struct {ident} {{}}` for an empty config"),
                ))
            }
            Fields::Unnamed(_) => {
                return Err(syn::Error::new(
                    ident.span(),
                    format!("`#[derive({derive})]` does not support tuple structs: config keys come from field names"),
                ))
            }
        },
        Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span,
                format!("`#[derive({derive})]` supports structs with named fields, not enums"),
            ))
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                format!("`#[derive({derive})]` supports structs with named fields, not unions"),
            ))
        }
    };

    let attrs = ConnectorAttrs::parse(&input.attrs, kind)?;
    let krate = attrs
        .krate
        .clone()
        .map(|p| quote!(#p))
        .unwrap_or_else(|| quote!(::rivven_connect));
    let rc = quote!(#krate::__private);

    let name = attrs
        .name
        .clone()
        .unwrap_or_else(|| call_site_str(&default_name(&ident.to_string())));
    let version = match &attrs.version {
        Some(Text::Lit(l)) => quote!(#l),
        Some(Text::Macro(m)) => quote!(#m),
        None => quote!("0.0.1"),
    };
    // Without `description = ".."`, the struct's doc comment describes the connector.
    let description = match (&attrs.description, doc_comment(&input.attrs)) {
        (None, Some(doc)) => quote!(::core::option::Option::Some(#doc)),
        (d, _) => text_tokens(d),
    };
    let author = text_tokens(&attrs.author);
    let license = text_tokens(&attrs.license);
    let documentation_url = text_tokens(&attrs.documentation_url);
    let incremental = attrs.incremental;
    let batching = attrs.batching;
    let category = attrs
        .category
        .clone()
        .unwrap_or_else(|| call_site_str("utility"));
    let tags = &attrs.tags;

    let rename_all = serde_string(&input.attrs, "rename_all")?;
    let rename_all = match rename_all {
        Some(r) => quote!(::core::option::Option::Some(#r)),
        None => quote!(::core::option::Option::None),
    };
    let mut secrets = Vec::new();
    let mut customs = Vec::new();
    for field in fields {
        let Some(fident) = &field.ident else { continue };
        let raw = fident.to_string();
        let raw = raw.strip_prefix("r#").unwrap_or(&raw).to_string();
        let rename = serde_string(&field.attrs, "rename")?;
        let rename = match rename {
            Some(r) => quote!(::core::option::Option::Some(#r)),
            None => quote!(::core::option::Option::None),
        };
        let key = quote!(#rc::derive::FieldKey { field: #raw, rename: #rename });
        if is_secret(&field.ty) {
            secrets.push(key.clone());
        }
        if let Some(function) = custom_validator(&field.attrs) {
            customs.push(quote!((#key, #function)));
        }
    }

    let spec_ident = format_ident!("{}Spec", ident);
    let vis = &input.vis;
    let kind_tokens = match kind {
        Kind::Source => quote!(#rc::ConnectorKind::Source),
        Kind::Sink => quote!(#rc::ConnectorKind::Sink),
        Kind::Transform => quote!(#rc::ConnectorKind::Transform),
    };
    let config_trait = match kind {
        Kind::Source => quote!(#rc::SourceConfig),
        Kind::Sink => quote!(#rc::SinkConfig),
        Kind::Transform => quote!(#rc::TransformConfig),
    };
    let schema_fn = match kind {
        Kind::Source => format_ident!("source_schema"),
        Kind::Sink => format_ident!("sink_schema"),
        Kind::Transform => format_ident!("transform_schema"),
    };
    let batch_fn = if kind == Kind::Sink {
        let size = attrs
            .batch_size
            .as_ref()
            .map(|l| quote!(#l))
            .unwrap_or_else(|| quote!(#rc::BatchConfig::DEFAULT_MAX_RECORDS));
        quote! {
            /// The batching this sink asks the runtime for (`batch_size`, default 10 000).
            pub fn batch_config() -> #rc::BatchConfig {
                #rc::BatchConfig::new(#size, #rc::BatchConfig::DEFAULT_TIMEOUT_MS)
            }
        }
    } else {
        quote!()
    };

    let registration = match &attrs.connector {
        None => quote!(),
        Some(connector) => {
            let (registration, builder) = match kind {
                Kind::Source => (
                    quote!(SourceRegistration),
                    quote!(build_source::<#connector>),
                ),
                Kind::Sink if batching => (
                    quote!(SinkRegistration),
                    quote!(build_batch_sink::<#connector>),
                ),
                Kind::Sink => (quote!(SinkRegistration), quote!(build_sink::<#connector>)),
                Kind::Transform => (
                    quote!(TransformRegistration),
                    quote!(build_transform::<#connector>),
                ),
            };
            let assoc = match kind {
                Kind::Source => quote!(#rc::derive::assert_source_config::<#connector, #ident>),
                Kind::Sink => quote!(#rc::derive::assert_sink_config::<#connector, #ident>),
                Kind::Transform => {
                    quote!(#rc::derive::assert_transform_config::<#connector, #ident>)
                }
            };
            let cspan = connector.span();
            let assoc = quote_spanned!(cspan=> const _: fn() = #assoc;);
            quote! {
                #assoc
                #rc::inventory::submit! {
                    #rc::registry::#registration {
                        type_name: ::core::any::type_name::<#connector>,
                        category: #category,
                        tags: &[#(#tags),*],
                        spec: <#spec_ident>::spec,
                        build: #rc::registry::#builder,
                    }
                }
            }
        }
    };

    // Spanned at the struct's name: a missing `Deserialize`/`Validate`/`JsonSchema` derive
    // is reported there, as an unsatisfied bound of the config trait.
    let span = ident.span();
    let config_impl = quote_spanned!(span=> impl #config_trait for #ident {});

    let doc = format!(
        "Spec of [`{ident}`], generated by `#[derive({derive})]`: `spec()`, `name()`, `version()`{}.",
        if kind == Kind::Sink { ", `batch_config()`" } else { "" }
    );
    Ok(quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #spec_ident;

        const _: () = {
            impl #spec_ident {
                /// The connector's name.
                pub const NAME: &'static str = #name;

                /// The connector's name.
                pub fn name() -> &'static str {
                    #name
                }

                /// The connector's version.
                pub fn version() -> &'static str {
                    #version
                }

                /// The registry category.
                pub fn category() -> &'static str {
                    #category
                }

                /// Name, version, metadata and the config's JSON Schema.
                pub fn spec() -> #rc::ConnectorSpec {
                    #rc::derive::spec(#rc::derive::SpecInfo {
                        kind: #kind_tokens,
                        name: #name,
                        version: #version,
                        description: #description,
                        author: #author,
                        license: #license,
                        documentation_url: #documentation_url,
                        incremental: #incremental,
                        batching: #batching,
                        rename_all: #rename_all,
                        secret_fields: &[#(#secrets),*],
                        custom_validators: &[#(#customs),*],
                    }, #rc::derive::#schema_fn::<#ident>())
                }

                #batch_fn
            }

            #config_impl

            #registration
        };
    })
}
