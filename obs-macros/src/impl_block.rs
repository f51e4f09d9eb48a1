//! `#[observe]` on an `impl` block (inherent or trait): every method gets an
//! `#[observe]` of its own, carrying the block's arguments (the method's own
//! `#[observe(...)]` overriding them key by key) and the name `Type::method`;
//! the methods then expand one by one, and are checked, like any function.
//! `#[observe(skip_method)]` leaves a method alone; `const fn`s, associated
//! consts, types and macros are left alone too.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::spanned::Spanned;
use syn::{ImplItem, ItemImpl, Meta, Path};

use crate::args::{self, RawArg, RawValue};
use crate::errors::Errors;
use crate::expand::runtime_path;

/// The argument that leaves one method of an observed block uninstrumented.
const SKIP_METHOD: &str = "skip_method";

pub fn observe(attr: TokenStream, mut block: ItemImpl) -> TokenStream {
    let mut errors = Errors::default();
    let shared = args::parse_list(attr, &mut errors);
    if let Some(arg) = shared.iter().find(|a| a.name() == SKIP_METHOD) {
        errors.push(syn::Error::new(arg.key.span(), "`skip_method` goes on a method of the block, not on the block"));
    }
    let krate = shared.iter().find(|a| a.name() == "crate").and_then(|a| match &a.value {
        RawValue::Assign(syn::Expr::Path(path)) => Some(path.path.clone()),
        _ => None,
    });
    let observe: Path = {
        let runtime = runtime_path(krate.as_ref());
        syn::parse_quote!(#runtime::observe)
    };
    let type_name = type_name(&block.self_ty);
    let mut attributes = Vec::new();
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        let (own, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut method.attrs).into_iter().partition(is_observe);
        method.attrs = rest;
        let mut own_args = Vec::new();
        for attr in own {
            match attr.meta {
                Meta::Path(_) => {}
                Meta::List(list) => own_args.extend(args::parse_list(list.tokens, &mut errors)),
                Meta::NameValue(nv) => {
                    errors.push(syn::Error::new(nv.span(), "expected `#[observe]` or `#[observe(...)]`"))
                }
            }
        }
        if own_args.iter().any(|a| a.name() == SKIP_METHOD) {
            if let Some(other) = own_args.iter().find(|a| a.name() != SKIP_METHOD) {
                errors.push(syn::Error::new(
                    other.key.span(),
                    format!(
                        "`{}` has no effect: `skip_method` leaves `{}` uninstrumented",
                        other.name(),
                        method.sig.ident
                    ),
                ));
            }
            continue;
        }
        if method.sig.constness.is_some() {
            continue;
        }
        let overridden = |arg: &RawArg| own_args.iter().any(|o| o.name() == arg.name());
        let mut merged: Vec<TokenStream> =
            shared.iter().filter(|a| !overridden(a)).map(ToTokens::to_token_stream).collect();
        merged.extend(own_args.iter().map(ToTokens::to_token_stream));
        if !shared.iter().chain(&own_args).any(|a| a.name() == "name") {
            let name = format!("{type_name}::{}", method.sig.ident.unraw_string());
            merged.push(quote!(name = #name));
        }
        attributes.push((method.sig.ident.clone(), quote!(#[#observe(#(#merged),*)])));
    }
    // With a mistake, the block is emitted uninstrumented, so that only the mistake is reported.
    if errors.is_empty() {
        for item in &mut block.items {
            let ImplItem::Fn(method) = item else { continue };
            if let Some((_, attr)) = attributes.iter().find(|(ident, _)| *ident == method.sig.ident) {
                method.attrs.insert(0, syn::parse_quote!(#attr));
            }
        }
    }
    errors.or_item(block.to_token_stream(), block.to_token_stream())
}

/// Whether `item` is an `impl` block, by its leading tokens (so that a
/// function, the common case, is not parsed twice): `impl` comes before
/// `fn` and before the first brace.
pub fn is_impl(item: &TokenStream) -> bool {
    for tree in item.clone() {
        match tree {
            proc_macro2::TokenTree::Ident(ident) if ident == "impl" => return true,
            proc_macro2::TokenTree::Ident(ident) if ident == "fn" => return false,
            proc_macro2::TokenTree::Group(group) if group.delimiter() == proc_macro2::Delimiter::Brace => return false,
            _ => {}
        }
    }
    false
}

/// An `#[observe]` or `#[<path>::observe]` attribute.
fn is_observe(attr: &syn::Attribute) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == "observe")
}

/// The type as written, without its generic arguments: `Cache<K, V>` is `Cache`,
/// `store::Cache<K>` is `store::Cache`.
fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => {
            path.path.segments.iter().map(|s| s.ident.unraw_string()).collect::<Vec<_>>().join("::")
        }
        syn::Type::Reference(reference) => type_name(&reference.elem),
        syn::Type::Group(group) => type_name(&group.elem),
        other => other.to_token_stream().to_string().replace(' ', ""),
    }
}

trait UnrawString {
    fn unraw_string(&self) -> String;
}

impl UnrawString for syn::Ident {
    fn unraw_string(&self) -> String {
        syn::ext::IdentExt::unraw(self).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_lose_their_generics() {
        let name = |ty: &str| type_name(&syn::parse_str(ty).unwrap());
        assert_eq!(name("Cache<K, V>"), "Cache");
        assert_eq!(name("store::Cache<K>"), "store::Cache");
        assert_eq!(name("&'a Client"), "Client");
        assert_eq!(name("[u8]"), "[u8]");
    }
}
