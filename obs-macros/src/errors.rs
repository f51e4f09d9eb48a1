//! Collects every error found while reading an attribute, so the user sees all
//! of them at once rather than one per compile.

use proc_macro2::TokenStream;

#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    /// Keeps the value of `result`, recording its error.
    pub fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|err| self.push(err)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The expansion when nothing went wrong; otherwise the errors followed by
    /// the user's item untouched, so the rest of the crate does not drown in
    /// follow-on errors.
    pub fn or_item(self, expanded: TokenStream, item: TokenStream) -> TokenStream {
        match self.0 {
            None => expanded,
            Some(err) => {
                let mut out = err.into_compile_error();
                out.extend(item);
                out
            }
        }
    }

    /// `Ok` when nothing was recorded, else every recorded error as one.
    pub fn into_result(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }

    pub fn into_compile_error(self) -> TokenStream {
        self.0.map(syn::Error::into_compile_error).unwrap_or_default()
    }
}
