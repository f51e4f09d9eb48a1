//! `#[health(...)]` on a field, and `#[health(crate = path)]` on the struct,
//! each read through a table of keys and the generic argument parser.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, LitStr, Meta, Path};

use crate::args::{self, Key, RawArg};
use crate::errors::Errors;

/// The arguments of a field as written, each with the token it came from.
#[derive(Default)]
pub struct FieldAttrs {
    pub name: Option<LitStr>,
    pub critical: Option<Ident>,
    pub non_critical: Option<Ident>,
    pub timeout: Option<LitStr>,
    pub liveness: Option<Ident>,
    pub readiness: Option<Ident>,
    pub skip: Option<Ident>,
}

fn field_keys() -> [Key<FieldAttrs>; 7] {
    fn flag(arg: &RawArg, slot: &mut Option<Ident>) -> syn::Result<()> {
        *slot = Some(arg.flag()?);
        Ok(())
    }
    [
        Key::new("name", |arg, a| {
            a.name = Some(arg.str()?);
            Ok(())
        }),
        Key::new("critical", |arg, a| flag(arg, &mut a.critical)),
        Key::new("non_critical", |arg, a| flag(arg, &mut a.non_critical)),
        // Read as text here; `validate` decides whether it is a usable timeout.
        Key::new("timeout", |arg, a| {
            a.timeout = Some(arg.str()?);
            Ok(())
        }),
        Key::new("liveness", |arg, a| flag(arg, &mut a.liveness)),
        Key::new("readiness", |arg, a| flag(arg, &mut a.readiness)),
        Key::new("skip", |arg, a| flag(arg, &mut a.skip)),
    ]
}

impl FieldAttrs {
    /// Every argument given, as (key, its token), for checks that concern all of them.
    pub fn given(&self) -> Vec<(&'static str, Span)> {
        let flags = [
            ("critical", &self.critical),
            ("non_critical", &self.non_critical),
            ("liveness", &self.liveness),
            ("readiness", &self.readiness),
        ];
        let mut given: Vec<_> = flags.iter().filter_map(|(k, v)| Some((*k, v.as_ref()?.span()))).collect();
        given.extend(self.name.as_ref().map(|n| ("name", n.span())));
        given.extend(self.timeout.as_ref().map(|t| ("timeout", t.span())));
        given
    }
}

/// Reads every `#[health(...)]` of a field as one argument list, so that a key
/// repeated across two attributes is a duplicate too.
pub fn parse_field(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let keys = field_keys();
    let mut tokens = TokenStream::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("health")) {
        match &attr.meta {
            Meta::List(list) => {
                if !tokens.is_empty() {
                    tokens.extend(quote::quote!(,));
                }
                list.tokens.to_tokens(&mut tokens);
            }
            other => errors.push(syn::Error::new(
                other.span(),
                format!(
                    "expected arguments, as in `#[health(name = \"db\", timeout = \"1s\")]`; known: {}",
                    args::key_names(&keys)
                ),
            )),
        }
    }
    args::parse(tokens, &keys, errors)
}

/// The arguments of the struct: where the runtime is.
#[derive(Default)]
pub struct ContainerAttrs {
    /// `crate = path`, when `obs_runtime` is re-exported by another crate.
    pub krate: Option<Path>,
}

fn container_keys() -> [Key<ContainerAttrs>; 1] {
    [Key::new("crate", |arg, a| {
        a.krate = Some(arg.path()?);
        Ok(())
    })]
}

const ON_FIELDS: &str = "`#[health(...)]` goes on the fields of a #[derive(HealthCheck)] struct, not on the struct";

/// Reads the `#[health(...)]` attributes of the struct. A field's key there is
/// most likely a misplaced field attribute, and is reported as one.
pub fn parse_container(attrs: &[Attribute], errors: &mut Errors) -> ContainerAttrs {
    let field_keys = field_keys();
    let mut given = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("health")) {
        let Meta::List(list) = &attr.meta else {
            errors.push(syn::Error::new(attr.path().span(), ON_FIELDS));
            continue;
        };
        let (misplaced, rest): (Vec<RawArg>, Vec<RawArg>) = args::parse_list(list.tokens.clone(), errors)
            .into_iter()
            .partition(|arg| field_keys.iter().any(|k| k.name == arg.name()));
        if !misplaced.is_empty() {
            errors.push(syn::Error::new(attr.path().span(), ON_FIELDS));
        }
        given.extend(rest);
    }
    let mut out = ContainerAttrs::default();
    args::apply(given, &container_keys(), &mut out, errors);
    out
}
