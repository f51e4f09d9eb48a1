//! `#[derive(ErrorKind)]`: the variant name of an error enum, in snake_case, as
//! the bounded `error` label of `obs_function_errors_total`. The one container
//! attribute, `#[error_kind(crate = path)]`, says where `obs_runtime` is when
//! another crate re-exports it.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Path};

use crate::args::{self, Key};
use crate::errors::Errors;

#[derive(Default)]
struct ContainerAttrs {
    krate: Option<Path>,
}

fn keys() -> [Key<ContainerAttrs>; 1] {
    [Key::new("crate", |arg, a| {
        a.krate = Some(arg.path()?);
        Ok(())
    })]
}

pub fn derive(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let mut errors = Errors::default();
    let attrs = container_attrs(&input, &mut errors);
    let expanded = errors.take(expand(&input, attrs.krate.as_ref())).unwrap_or_default();
    let mut out = errors.into_compile_error();
    out.extend(expanded);
    Ok(out)
}

/// Every `#[error_kind(...)]` of the type, read as one argument list.
fn container_attrs(input: &DeriveInput, errors: &mut Errors) -> ContainerAttrs {
    let keys = keys();
    let mut given = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("error_kind")) {
        match attr.meta.require_list() {
            Ok(list) => given.extend(args::parse_list(list.tokens.clone(), errors)),
            Err(_) => errors.push(syn::Error::new_spanned(
                attr.path(),
                format!("expected arguments, as in `#[error_kind(crate = path)]`; known: {}", args::key_names(&keys)),
            )),
        }
    }
    let mut out = ContainerAttrs::default();
    args::apply(given, &keys, &mut out, errors);
    out
}

fn expand(input: &DeriveInput, krate: Option<&Path>) -> syn::Result<TokenStream> {
    let rt = crate::expand::runtime_path(krate);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let body = match &input.data {
        Data::Enum(data) => {
            let arms = data.variants.iter().map(|v| {
                let name = &v.ident;
                let kind = snake_case(&name.to_string());
                let pattern = match &v.fields {
                    Fields::Named(_) => quote!(Self::#name { .. }),
                    Fields::Unnamed(_) => quote!(Self::#name(..)),
                    Fields::Unit => quote!(Self::#name),
                };
                quote!(#pattern => #kind,)
            });
            if data.variants.is_empty() { quote!(match *self {}) } else { quote!(match self { #(#arms)* }) }
        }
        Data::Struct(_) => {
            let kind = snake_case(&ident.to_string());
            quote!(#kind)
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(ErrorKind)] supports enums and structs, not unions",
            ));
        }
    };
    Ok(quote! {
        impl #impl_generics #rt::ErrorKind for #ident #ty_generics #where_clause {
            fn kind(&self) -> &'static str {
                #body
            }
        }
    })
}

/// `NotFound` → `not_found`, `HTTPError` → `http_error`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn variant_names_become_snake_case() {
        assert_eq!(snake_case("NotFound"), "not_found");
        assert_eq!(snake_case("HTTPError"), "http_error");
        assert_eq!(snake_case("Io"), "io");
        assert_eq!(snake_case("Timeout2Long"), "timeout2_long");
    }
}
