//! `#[workflow]`: each call is a run with a run id, budgets and run metrics.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Instrumented, Parts, flow_site, private_path, respan};
use crate::args::{AttrArgs, WorkflowArgs};
use crate::item::Function;

pub fn expand(function: Function, args: WorkflowArgs) -> TokenStream {
    let private = private_path(args.common.krate.as_ref());
    let on_budget = on_budget(&private, &args);
    let options = options(&private, &args);
    let driver = |parts: &Parts<'_>| driver(parts, &options, &on_budget);
    Instrumented {
        function: &function,
        args: &args.common,
        kind: quote!(#private::Kind::Workflow),
        default_span_level: "INFO",
        default_ok_level: "INFO",
        extra_fields: WorkflowArgs::EXTRA_FIELDS,
        driver: Some(&driver),
    }
    .expand()
}

/// The run's budgets: `WorkflowOptions::DEFAULT.with_deadline(..)...`, one call per budget given.
fn options(private: &TokenStream, args: &WorkflowArgs) -> TokenStream {
    let mut options = quote!(#private::WorkflowOptions::DEFAULT);
    if let Some(n) = args.deadline {
        options.extend(quote!(.with_deadline(#private::Duration::from_nanos(#n))));
    }
    if let Some(n) = args.max_hops {
        options.extend(quote!(.with_max_hops(#n)));
    }
    if let Some(n) = args.max_tokens {
        options.extend(quote!(.with_max_tokens(#n)));
    }
    options
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
fn driver(parts: &Parts<'_>, options: &TokenStream, on_budget: &TokenStream) -> TokenStream {
    let Parts { private, site, span, block, classify } = parts;
    let flow = flow_site(private, site, quote!(workflow), options);
    // The span is opened in its own statement so that the borrowed argument
    // values are not held across the await (the future stays `Send`).
    quote! {
        #flow
        let __obs_span = #span;
        #private::WorkflowRun::new(&__OBS_FLOW, __obs_span, async move #block, #classify, #on_budget).await
    }
}
