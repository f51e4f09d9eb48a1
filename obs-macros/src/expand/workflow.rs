//! `#[workflow]`: each call is a run with a run id, budgets and run metrics.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::{Instrumented, Parts, flow_site, is_credential_name, private_path, respan};
use crate::args::{AttrArgs, MlflowArg, WorkflowArgs};
use crate::item::Function;

pub fn expand(function: Function, args: WorkflowArgs) -> TokenStream {
    let private = private_path(args.common.krate.as_ref());
    let on_budget = on_budget(&private, &args);
    let options = options(&private, &args);
    let tracking = args.mlflow.as_ref().map(|mlflow| tracking(&private, mlflow, &args));
    let driver = |parts: &Parts<'_>| driver(parts, &options, &on_budget, tracking.as_ref());
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

/// `mlflow(...)`: the experiment and the named arguments, rendered by the one
/// runtime call (`Display`, `Debug` with `name: debug`, credential-like names redacted
/// as on the span unless `reveal`ed), spanned on each name so that a missing
/// `Display` is reported there.
fn tracking(private: &TokenStream, mlflow: &MlflowArg, args: &WorkflowArgs) -> TokenStream {
    let experiment = match &mlflow.experiment {
        Some(name) => quote!(::core::option::Option::Some(#name)),
        None => quote!(::core::option::Option::None),
    };
    let params = mlflow.params.iter().map(|param| {
        let ident = &param.ident;
        let name = ident.to_string();
        let revealed = args.common.reveal.contains(ident);
        let value = if is_credential_name(&name) && !revealed {
            quote!(&#private::REDACTED as &dyn ::core::fmt::Display)
        } else if param.debug {
            quote_spanned!(ident.span()=> &#private::mlflow_debug_param(&#ident) as &dyn ::core::fmt::Display)
        } else {
            quote_spanned!(ident.span()=> #private::mlflow_param(&#ident))
        };
        quote!((#name, #value))
    });
    quote!(#private::mlflow_tracking(#experiment, &[#(#params),*]))
}

/// The body: the run, driven by `WorkflowRun`.
fn driver(
    parts: &Parts<'_>,
    options: &TokenStream,
    on_budget: &TokenStream,
    tracking: Option<&TokenStream>,
) -> TokenStream {
    let Parts { private, site, span, block, classify, labels, labelled } = parts;
    let flow = flow_site(private, site, quote!(workflow), options);
    // The span is opened in its own statement so that the borrowed argument
    // values are not held across the await (the future stays `Send`); so are
    // the MLflow params, rendered before the body takes the arguments.
    let run =
        quote!(#private::WorkflowRun::new(&__OBS_FLOW, __obs_span, async move #block, #classify, #on_budget)#labelled);
    match tracking {
        Some(tracking) => quote! {
            #flow
            #labels
            let __obs_span = #span;
            let __obs_tracking = #tracking;
            #run.tracked(__obs_tracking).await
        },
        None => quote! {
            #flow
            #labels
            let __obs_span = #span;
            #run.await
        },
    }
}
