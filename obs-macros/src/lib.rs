//! Procedural macros of [obs](https://docs.rs/obs-runtime). Depend on
//! `obs-runtime`, which re-exports them; the generated code calls only
//! `::obs_runtime::__private`.

mod args;
mod error_kind;
mod errors;
mod expand;
mod health;
mod impl_block;
mod item;
mod label_value;
mod pipeline;
mod suggest;
mod validate;

use proc_macro::TokenStream;

/// Whether obs is compiled out (`obs-runtime`'s `disabled` feature, which turns
/// on this crate's): the attributes then give back the item exactly, so a
/// crate ships with its annotations in place at no cost in code or build time.
/// `obs-runtime/testing` wins over it: a test capture needs the instrumentation.
const DISABLED: bool = cfg!(all(feature = "disabled", not(feature = "testing")));

use args::{NodeArgs, ObserveArgs, WorkflowArgs};

/// Instruments a function: a span, call/error/duration/in-flight metrics and an
/// end-of-call JSON log event. The arguments are listed in the `obs_runtime`
/// crate documentation, section "`#[observe]` arguments". On an `impl` block,
/// instruments every method (named `Type::method`).
#[proc_macro_attribute]
pub fn observe(attr: TokenStream, item: TokenStream) -> TokenStream {
    if DISABLED {
        return item;
    }
    if impl_block::is_impl(&item.clone().into())
        && let Ok(block) = syn::parse::<syn::ItemImpl>(item.clone())
    {
        return impl_block::observe(attr.into(), block).into();
    }
    pipeline::attribute::<ObserveArgs>(attr.into(), item.into(), validate::observe, expand::observe::expand)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Makes each call of an `async fn` a workflow run: a run id, a span that its
/// nodes' spans nest under, run metrics and lifecycle events, and budgets.
/// The arguments are listed in the `obs_runtime` crate documentation, section
/// "Workflows".
#[proc_macro_attribute]
pub fn workflow(attr: TokenStream, item: TokenStream) -> TokenStream {
    if DISABLED {
        return item;
    }
    pipeline::attribute::<WorkflowArgs>(attr.into(), item.into(), validate::workflow, expand::workflow::expand)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Makes an `async fn` a step of the workflow it runs in: a span per attempt,
/// node metrics and events, retries and a timeout. The arguments are listed in
/// the `obs_runtime` crate documentation, section "Workflows".
#[proc_macro_attribute]
pub fn node(attr: TokenStream, item: TokenStream) -> TokenStream {
    if DISABLED {
        return item;
    }
    pipeline::attribute::<NodeArgs>(attr.into(), item.into(), validate::node, expand::node::expand)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Gives an error type a bounded kind: the variant name in snake_case (the
/// type's name for a struct).
///
/// When `obs_runtime` is reached through another crate's re-export, say where
/// with `#[error_kind(crate = path)]`:
///
/// ```ignore
/// #[derive(Debug, ErrorKind)]
/// #[error_kind(crate = my_platform::obs)]
/// enum FetchError { NotFound, Timeout }
/// ```
#[proc_macro_derive(ErrorKind, attributes(error_kind))]
pub fn derive_error_kind(input: TokenStream) -> TokenStream {
    error_kind::derive(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Makes a fieldless enum a metric label whose values are known at build time:
/// each variant's name in snake_case, or `#[label(rename = "...")]` on the
/// variant. Use it as a value in `#[observe(labels(name = expr))]`; see
/// `obs_runtime::labels`. `#[label(crate = path)]` on the enum says where
/// `obs_runtime` is when another crate re-exports it.
#[proc_macro_derive(LabelValue, attributes(label))]
pub fn derive_label_value(input: TokenStream) -> TokenStream {
    label_value::derive(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Makes a struct whose fields are health checks the application's health,
/// with `#[health(...)]` field attributes. See `obs_runtime::health`.
///
/// When `obs_runtime` is reached through another crate's re-export, say where
/// with `#[health(crate = path)]` on the struct, its only struct-level argument.
#[proc_macro_derive(HealthCheck, attributes(health))]
pub fn derive_health_check(input: TokenStream) -> TokenStream {
    health::derive(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}
