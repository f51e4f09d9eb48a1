//! `#[observe]`: a function call as a span, metrics and an end-of-call log event.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Instrumented, private_path};
use crate::args::{AttrArgs, ObserveArgs};
use crate::item::Function;

pub fn expand(function: Function, args: ObserveArgs) -> TokenStream {
    let private = private_path(args.0.krate.as_ref());
    Instrumented {
        function: &function,
        args: &args.0,
        kind: quote!(#private::Kind::Function),
        default_span_level: "INFO",
        default_ok_level: "DEBUG",
        extra_fields: ObserveArgs::EXTRA_FIELDS,
        driver: None,
    }
    .expand()
}
