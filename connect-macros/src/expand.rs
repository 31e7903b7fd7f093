//! Code generation for the three derives.
//!
//! A check pass reads the struct's shape and attributes and collects every error; with
//! errors, the derive still emits the items it normally generates (the `<Struct>Spec`
//! type and, for a concrete named struct, the config trait impl) with minimal bodies, so
//! that only the errors themselves are reported, not "cannot find `<Struct>Spec`".

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Field, Fields, Ident, Meta, Token};

use crate::attrs::{call_site_str, default_name, ConnectorAttrs, Errors, Kind, Text};

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

/// The `rename…` entries of the `#[serde(..)]` attributes, passed on unchanged to a
/// helper struct whose schemars schema then yields the serde name (serde's rules are
/// applied by schemars, not re-implemented here).
fn serde_renames(attrs: &[syn::Attribute], key: &str) -> Vec<Meta> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .filter_map(|a| {
            a.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .filter(|m| m.path().is_ident(key))
        .collect()
}

/// `#[validate(custom(function = "f"))]` / `custom(function = f)` on a field.
fn custom_validator(attrs: &[syn::Attribute]) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("validate")) {
        // A malformed `validate` attribute is the `Validate` derive's to report.
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

/// The named fields of a concrete struct, or the error saying why the input is not one.
fn named_fields(input: &DeriveInput, kind: Kind) -> syn::Result<&Punctuated<Field, Token![,]>> {
    let ident = &input.ident;
    let derive = kind.derive();
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => Ok(&named.named),
            Fields::Unit => Err(syn::Error::new(
                ident.span(),
                format!("`#[derive({derive})]` needs a struct with named fields; write `struct {ident} {{}}` for an empty config"),
            )),
            Fields::Unnamed(_) => Err(syn::Error::new(
                ident.span(),
                format!("`#[derive({derive})]` does not support tuple structs: config keys come from field names"),
            )),
        },
        Data::Enum(e) => Err(syn::Error::new(
            e.enum_token.span,
            format!("`#[derive({derive})]` supports structs with named fields, not enums"),
        )),
        Data::Union(u) => Err(syn::Error::new(
            u.union_token.span,
            format!("`#[derive({derive})]` supports structs with named fields, not unions"),
        )),
    };
    if !input.generics.params.is_empty() {
        let generic = syn::Error::new(
            input.generics.span(),
            format!("`#[derive({derive})]` does not support generic structs: a connector config is one concrete type"),
        );
        return Err(match fields {
            Ok(_) => generic,
            Err(mut e) => {
                e.combine(generic);
                e
            }
        });
    }
    fields
}

/// What every expansion (full or stub) needs.
struct Common<'a> {
    ident: &'a Ident,
    kind: Kind,
    rc: TokenStream,
    spec_ident: Ident,
    name: syn::LitStr,
    version: TokenStream,
    category: syn::LitStr,
    attrs: ConnectorAttrs,
}

impl Common<'_> {
    fn config_trait(&self) -> TokenStream {
        let rc = &self.rc;
        match self.kind {
            Kind::Source => quote!(#rc::SourceConfig),
            Kind::Sink => quote!(#rc::SinkConfig),
            Kind::Transform => quote!(#rc::TransformConfig),
        }
    }

    /// `batch_config()` of a sink's spec type.
    fn batch_fn(&self) -> TokenStream {
        let rc = &self.rc;
        if self.kind != Kind::Sink {
            return quote!();
        }
        let size = self
            .attrs
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
    }

    /// The `<Struct>Spec` type: outside the `const _` block, since users name it.
    fn spec_type(&self, vis: &syn::Visibility) -> TokenStream {
        let (ident, spec_ident) = (self.ident, &self.spec_ident);
        let doc = format!(
            "Spec of [`{ident}`], generated by `#[derive({})]`: `spec()`, `name()`, `version()`, `category()`{}.",
            self.kind.derive(),
            if self.kind == Kind::Sink { ", `batch_config()`" } else { "" }
        );
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, Copy, Default)]
            #vis struct #spec_ident;
        }
    }

    /// The spec type's methods, with `spec_body` as the body of `spec()`.
    fn spec_impl(&self, spec_body: TokenStream) -> TokenStream {
        let (spec_ident, name, version, category) =
            (&self.spec_ident, &self.name, &self.version, &self.category);
        let rc = &self.rc;
        let batch_fn = self.batch_fn();
        quote! {
            #[automatically_derived]
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
                    #spec_body
                }

                #batch_fn
            }
        }
    }
}

pub(crate) fn expand(input: &DeriveInput, kind: Kind) -> TokenStream {
    let mut errors = Errors::default();
    let fields = named_fields(input, kind).map_err(|e| errors.push(e)).ok();
    let attrs = ConnectorAttrs::parse(&input.attrs, kind, &mut errors);
    let ident = &input.ident;
    let krate = attrs
        .krate
        .clone()
        .map(|p| quote!(#p))
        .unwrap_or_else(|| quote!(::rivven_connect));
    let name = attrs
        .name
        .clone()
        .unwrap_or_else(|| call_site_str(&default_name(&ident.to_string())));
    let version = match &attrs.version {
        Some(Text::Lit(l)) => quote!(#l),
        Some(Text::Macro(m)) => quote!(#m),
        None => quote!("0.0.1"),
    };
    let category = attrs
        .category
        .clone()
        .unwrap_or_else(|| call_site_str("utility"));
    let common = Common {
        ident,
        kind,
        rc: quote!(#krate::__private),
        spec_ident: format_ident!("{}Spec", ident),
        name,
        version,
        category,
        attrs,
    };
    match (errors.finish(), fields) {
        (None, Some(fields)) => full(input, &common, fields),
        (error, fields) => {
            let error = error.map(|e| e.into_compile_error());
            let stub = stub(input, &common, fields.is_some());
            quote!(#error #stub)
        }
    }
}

/// After an error: the items users name, with minimal bodies.
fn stub(input: &DeriveInput, c: &Common<'_>, concrete_struct: bool) -> TokenStream {
    let (name, version, rc, ident) = (&c.name, &c.version, &c.rc, c.ident);
    let spec_type = c.spec_type(&input.vis);
    let spec_impl = c.spec_impl(quote!(#rc::ConnectorSpec::new(#name, #version)));
    // An enum, union, tuple or generic struct gets no trait impl: it could only add
    // follow-on errors (unsatisfied bounds, missing generics) to the one reported.
    let config_impl = if concrete_struct {
        let config_trait = c.config_trait();
        quote!(#[automatically_derived] impl #config_trait for #ident {})
    } else {
        quote!()
    };
    quote! {
        #spec_type
        const _: () = {
            #spec_impl
            #config_impl
        };
    }
}

fn full(input: &DeriveInput, c: &Common<'_>, fields: &Punctuated<Field, Token![,]>) -> TokenStream {
    let (ident, kind, rc, attrs) = (c.ident, c.kind, &c.rc, &c.attrs);
    let (name, version, category) = (&c.name, &c.version, &c.category);
    let spec_ident = &c.spec_ident;
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
    let tags = &attrs.tags;
    let aliases = &attrs.aliases;

    // `custom` validators: a helper struct with one `()` field per validated field, each
    // with the field's serde renames and the validator's name as its doc comment. Its
    // schema maps the real (serde) property names to the validators.
    let customs: Vec<TokenStream> = fields
        .iter()
        .filter_map(|field| {
            let fident = field.ident.as_ref()?;
            let function = custom_validator(&field.attrs)?;
            let renames = serde_renames(&field.attrs, "rename");
            let serde = (!renames.is_empty()).then(|| quote!(#[serde(#(#renames),*)]));
            Some(quote!(#[doc = #function] #serde #fident: ()))
        })
        .collect();
    let (validators_item, validators) = if customs.is_empty() {
        (quote!(), quote!(::core::option::Option::None))
    } else {
        let renames = serde_renames(&input.attrs, "rename_all");
        let serde = (!renames.is_empty()).then(|| quote!(#[serde(#(#renames),*)]));
        let schemars_crate = quote!(#rc::schemars).to_string().replace(' ', "");
        (
            quote! {
                #[derive(#rc::schemars::JsonSchema)]
                #[schemars(crate = #schemars_crate)]
                #serde
                #[allow(dead_code)]
                struct __RivvenCustomValidators { #(#customs),* }
            },
            quote!(::core::option::Option::Some(
                #rc::derive::schema_of::<__RivvenCustomValidators>
            )),
        )
    };

    let kind_tokens = match kind {
        Kind::Source => quote!(#rc::ConnectorKind::Source),
        Kind::Sink => quote!(#rc::ConnectorKind::Sink),
        Kind::Transform => quote!(#rc::ConnectorKind::Transform),
    };
    let schema_fn = match kind {
        Kind::Source => format_ident!("source_schema"),
        Kind::Sink => format_ident!("sink_schema"),
        Kind::Transform => format_ident!("transform_schema"),
    };
    let spec_impl = c.spec_impl(quote! {
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
            custom_validators: #validators,
        }, #rc::derive::#schema_fn::<#ident>())
    });

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
                        module_path: ::core::module_path!(),
                        category: #category,
                        tags: &[#(#tags),*],
                        aliases: &[#(#aliases),*],
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
    let config_trait = c.config_trait();
    // Unknown keys are rejected (the schema is closed, `from_value` checks against it)
    // unless `allow_unknown_fields`.
    let strict = (!attrs.allow_unknown_fields).then(|| {
        quote!(const __STRICT_CONNECTOR: ::core::option::Option<&'static str> = ::core::option::Option::Some(#name);)
    });
    let config_impl = quote_spanned!(span=> #[automatically_derived] impl #config_trait for #ident {
        #strict
        fn __derived_spec() -> ::core::option::Option<#rc::ConnectorSpec> {
            ::core::option::Option::Some(#spec_ident::spec())
        }
    });

    let spec_type = c.spec_type(&input.vis);
    quote! {
        #spec_type

        const _: () = {
            #validators_item

            #spec_impl

            #config_impl

            #registration
        };
    }
}
