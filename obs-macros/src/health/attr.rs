//! `#[health(...)]` on a field, read through the generic argument parser.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, LitStr, Meta};

use crate::args::parse_raw;
use crate::errors::Errors;

const KEYS: &[&str] = &["name", "critical", "non_critical", "timeout", "liveness", "readiness", "skip"];

/// The arguments as written, each with the token it came from.
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

impl FieldAttrs {
    /// Every argument given, as (key, its token), for checks that concern all of them.
    pub fn given(&self) -> Vec<(&'static str, proc_macro2::Span)> {
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
pub fn parse(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
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
                    KEYS.join(", ")
                ),
            )),
        }
    }
    let mut out = FieldAttrs::default();
    for arg in parse_raw(tokens, KEYS, errors) {
        let flag = |arg: &crate::args::RawArg| arg.flag().map(|()| Some(arg.key.clone()));
        let result = match arg.name().as_str() {
            "name" => arg.str().map(|v| out.name = Some(v)),
            "timeout" => arg.str().map(|v| out.timeout = Some(v)),
            "critical" => flag(&arg).map(|v| out.critical = v),
            "non_critical" => flag(&arg).map(|v| out.non_critical = v),
            "liveness" => flag(&arg).map(|v| out.liveness = v),
            "readiness" => flag(&arg).map(|v| out.readiness = v),
            "skip" => flag(&arg).map(|v| out.skip = v),
            _ => Ok(()),
        };
        errors.take(result);
    }
    out
}
