//! `#[workflow]`: each call is a run with a run id, budgets and run metrics.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Instrumented, Parts, private_path, respan};
use crate::args::{AttrArgs, WorkflowArgs};
use crate::item::Function;

pub fn expand(function: Function, args: WorkflowArgs) -> TokenStream {
    let private = private_path(args.common.krate.as_ref());
    let on_budget = on_budget(&private, &args);
    let driver = |parts: &Parts<'_>| driver(parts, &on_budget);
    Instrumented {
        function: &function,
        args: &args.common,
        kind: site_kind(&private, &args),
        default_span_level: "INFO",
        default_ok_level: "INFO",
        extra_fields: WorkflowArgs::EXTRA_FIELDS,
        driver: Some(&driver),
    }
    .expand()
}

/// The call site's kind, with the run's budgets.
fn site_kind(private: &TokenStream, args: &WorkflowArgs) -> TokenStream {
    let some = |value: Option<TokenStream>| match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    };
    let deadline = some(args.deadline.map(|n| quote!(#private::Duration::from_nanos(#n))));
    let max_hops = some(args.max_hops.map(|n| quote!(#n)));
    let max_tokens = some(args.max_tokens.map(|n| quote!(#n)));
    quote! {
        #private::Kind::Workflow(#private::WorkflowOptions { deadline: #deadline, max_hops: #max_hops, max_tokens: #max_tokens })
    }
}

/// The conversion of an exceeded budget into the function's error, spanned on
/// the first budget key so that a missing `From` impl is reported there.
fn on_budget(private: &TokenStream, args: &WorkflowArgs) -> TokenStream {
    match args.budget_key {
        Some(span) => {
            let convert = respan(quote!(#private::budget_error(__obs_b)), span);
            quote!(::core::option::Option::Some(|__obs_b| ::core::result::Result::Err(#convert)))
        }
        None => quote!(::core::option::Option::None::<fn(#private::BudgetExceeded) -> _>),
    }
}

/// The body: the run, driven by `WorkflowRun`.
fn driver(parts: &Parts<'_>, on_budget: &TokenStream) -> TokenStream {
    let Parts { private, site, span, block, classify } = parts;
    // The span is opened in its own statement so that the borrowed argument
    // values are not held across the await (the future stays `Send`).
    quote! {
        let __obs_span = #span;
        #private::WorkflowRun::new(&#site, __obs_span, async move #block, #classify, #on_budget).await
    }
}
