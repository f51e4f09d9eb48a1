//! `#[workflow]`: each call is a run with a run id, budgets and run metrics.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use super::{Instrumented, Parts, flow_site, respan, runtime_path};
use crate::args::{COMMON_KEYS, CommonArgs, duration, parse_raw};
use crate::errors::Errors;
use crate::item::{Function, is_result};

const KEYS: &[&str] = &["deadline", "max_hops", "max_tokens"];

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let schema: Vec<&str> = COMMON_KEYS.iter().chain(KEYS).copied().collect();
    let raw = parse_raw(attr, &schema, &mut errors);
    let args = CommonArgs::from_raw(&raw, &mut errors);
    let Some(function) = errors.take(Function::parse(item.clone(), "workflow")) else {
        return Ok(errors.or_item(TokenStream::new(), item));
    };
    let rt = runtime_path(args.krate.as_ref());
    let private = quote!(#rt::__private);

    // `WorkflowOptions::DEFAULT.with_deadline(..).with_max_hops(..)`, one call per budget given.
    let mut options = quote!(#private::WorkflowOptions::DEFAULT);
    // The first budget key, where a missing `From<BudgetExceeded>` is reported.
    let mut budget_key: Option<Span> = None;
    for arg in &raw {
        let setting = match arg.name().as_str() {
            "deadline" => {
                errors.take(duration(arg)).map(|n| quote!(.with_deadline(#private::Duration::from_nanos(#n))))
            }
            "max_hops" => errors.take(arg.u64()).map(|n| quote!(.with_max_hops(#n))),
            "max_tokens" => errors.take(arg.u64()).map(|n| quote!(.with_max_tokens(#n))),
            _ => continue,
        };
        budget_key.get_or_insert(arg.key.span());
        options.extend(setting);
    }
    if let Some(span) = budget_key
        && !function.output_type().is_some_and(is_result)
    {
        errors.push(syn::Error::new(span, "workflow budgets need a function that returns `Result<_, E>` with `E: From<obs_runtime::budget::BudgetExceeded>`"));
    }

    let on_budget = match budget_key {
        Some(span) => {
            let convert = respan(quote!(#private::budget_error(__obs_b)), span);
            quote!(::core::option::Option::Some(|__obs_b| ::core::result::Result::Err(#convert)))
        }
        None => quote!(::core::option::Option::None::<fn(#private::BudgetExceeded) -> _>),
    };
    let driver = |parts: &Parts<'_>| {
        let Parts { private, site, span, block, classify } = parts;
        let flow = flow_site(private, site, quote!(workflow), &options);
        // The span is opened in its own statement so that the borrowed argument
        // values are not held across the await (the future stays `Send`).
        quote! {
            #flow
            let __obs_span = #span;
            #private::WorkflowRun::new(&__OBS_FLOW, __obs_span, async move #block, #classify, #on_budget).await
        }
    };
    let expanded = Instrumented {
        function: &function,
        args: &args,
        kind: quote!(#private::Kind::Workflow),
        default_span_level: "INFO",
        default_ok_level: "INFO",
        extra_fields: &["workflow", "run_id"],
        driver: Some(&driver),
        attr_name: "workflow",
    }
    .expand(&mut errors);
    Ok(errors.or_item(expanded, item))
}
