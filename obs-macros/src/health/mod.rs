//! `#[derive(HealthCheck)]` as a pipeline: [`ast`] reads the struct into a
//! typed model (with [`attr`] for the `#[health(...)]` attributes),
//! [`validate`] checks it as a whole, [`expand`] writes the impls. Errors from
//! every stage are collected and reported together.

mod ast;
mod attr;
mod expand;
mod validate;

use proc_macro2::TokenStream;

use crate::errors::Errors;

pub fn derive(input: TokenStream) -> syn::Result<TokenStream> {
    let input: syn::DeriveInput = syn::parse2(input)?;
    let mut errors = Errors::default();
    let container = attr::parse_container(&input.attrs, &mut errors);
    let model = ast::Input::from_syn(&input, &mut errors);
    let checks = model.as_ref().map(|model| validate::validate(model, &mut errors));
    let krate = container.krate.as_ref();
    if !errors.is_empty() {
        // Keep a valid (empty) impl so that uses of the type do not add follow-on errors.
        let mut out = errors.into_compile_error();
        out.extend(expand::fallback(&input, krate));
        return Ok(out);
    }
    match (model, checks) {
        (Some(model), Some(checks)) => Ok(expand::expand(&model, &checks, krate)),
        _ => Ok(expand::fallback(&input, krate)),
    }
}
