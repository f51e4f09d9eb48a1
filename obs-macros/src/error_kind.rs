//! `#[derive(ErrorKind)]`: the variant name of an error enum, in snake_case, as
//! the bounded `error` label of `obs_function_errors_total`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

pub fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
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
        impl #impl_generics ::obs_runtime::ErrorKind for #ident #ty_generics #where_clause {
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
