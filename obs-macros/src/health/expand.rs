//! The impls: `HealthCheck` listing the components, and `Check` so that the
//! struct nests as a group inside another one.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Generics, Ident, Path};

use super::ast::Input;
use super::validate::CheckField;

pub fn expand(input: &Input, checks: &[CheckField], krate: Option<&Path>) -> TokenStream {
    let health = private_health(krate);
    let mut generics = input.generics.clone();
    let where_clause = generics.make_where_clause();
    // Generic field types need the bound; concrete ones are checked by the
    // `Component::new` call, spanned on the field, which reports a type that is
    // not a check right there.
    let params: Vec<&Ident> = input.generics.type_params().map(|p| &p.ident).collect();
    for check in checks.iter().filter(|c| mentions_any(c.ty.to_token_stream(), &params)) {
        let ty = check.ty;
        where_clause.predicates.push(syn::parse_quote_spanned!(ty.span()=> #ty: #health::Check));
    }
    let components = checks.iter().map(|check| {
        let CheckField { ident, name, critical, liveness, readiness, .. } = check;
        let timeout = check.timeout_nanos.map(|nanos| quote!(.timeout(::core::time::Duration::from_nanos(#nanos))));
        quote_spanned! {ident.span()=>
            #health::Component::new(#name, &self.#ident).critical(#critical).probes(#liveness, #readiness) #timeout
        }
    });
    impls(input.ident, &generics, &health, quote!(::std::vec![#(#components),*]))
}

/// `::obs_runtime::__private::health` (or under `crate = path`), through the
/// one place that spells the runtime's path.
fn private_health(krate: Option<&Path>) -> TokenStream {
    let private = crate::expand::private_path(krate);
    quote!(#private::health)
}

fn mentions_any(tokens: TokenStream, params: &[&Ident]) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => params.iter().any(|p| **p == ident),
        TokenTree::Group(group) => mentions_any(group.stream(), params),
        _ => false,
    })
}

/// What is emitted when the input has errors: the impls with no components.
pub fn fallback(input: &DeriveInput, krate: Option<&Path>) -> TokenStream {
    impls(&input.ident, &input.generics, &private_health(krate), quote!(::std::vec::Vec::new()))
}

fn impls(ident: &Ident, generics: &Generics, health: &TokenStream, components: TokenStream) -> TokenStream {
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        impl #impl_generics #health::HealthCheck for #ident #ty_generics #where_clause {
            fn components(&self) -> ::std::vec::Vec<#health::Component<'_>> {
                #components
            }
            fn version(&self) -> ::core::option::Option<&'static str> {
                ::core::option_env!("CARGO_PKG_VERSION")
            }
        }
        impl #impl_generics #health::Check for #ident #ty_generics #where_clause {
            fn check(&self) -> impl ::core::future::Future<Output = #health::CheckResult> + ::core::marker::Send {
                #health::check_group(self)
            }
            fn as_group(&self) -> ::core::option::Option<&dyn #health::HealthCheck> {
                ::core::option::Option::Some(self)
            }
        }
    }
}
