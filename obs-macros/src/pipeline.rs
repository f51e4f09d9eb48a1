//! The stages of an instrumenting attribute: parse the arguments and the
//! function, validate them together, expand. Expansion runs only on valid
//! input; otherwise the errors are emitted with the user's item untouched.

use proc_macro2::TokenStream;

use crate::args::{self, AttrArgs};
use crate::errors::Errors;
use crate::item::Function;

pub fn attribute<A: AttrArgs>(
    attr: TokenStream,
    item: TokenStream,
    validate: fn(&Function, &A, &mut Errors),
    expand: fn(Function, A) -> TokenStream,
) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let args = args::parse(attr, &A::keys(), &mut errors);
    // Not a function: reported with the argument errors, and the item is kept as it is.
    if let Some(function) = errors.take(Function::parse(item.clone(), A::NAME)) {
        validate(&function, &args, &mut errors);
        if errors.is_empty() {
            return Ok(expand(function, args));
        }
    }
    Ok(errors.or_item(TokenStream::new(), item))
}
