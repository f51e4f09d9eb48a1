//! `#[observe]`: a function call as a span, metrics and an end-of-call log event.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Instrumented, runtime_path};
use crate::args::{COMMON_KEYS, CommonArgs, parse_raw};
use crate::errors::Errors;
use crate::item::Function;

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let raw = parse_raw(attr, COMMON_KEYS, &mut errors);
    let args = CommonArgs::from_raw(&raw, &mut errors);
    // Not a function: reported with the argument errors, and the item is kept as it is.
    let expanded = match errors.take(Function::parse(item.clone(), "observe")) {
        Some(function) => {
            let rt = runtime_path(args.krate.as_ref());
            Instrumented {
                function: &function,
                args: &args,
                kind: quote!(#rt::__private::Kind::Function),
                default_span_level: "INFO",
                default_ok_level: "DEBUG",
                extra_fields: &[],
                driver: None,
                attr_name: "observe",
            }
            .expand(&mut errors)
        }
        None => TokenStream::new(),
    };
    Ok(errors.or_item(expanded, item))
}
