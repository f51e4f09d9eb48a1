//! `#[workflow]`: each call is a run with a run id, budgets and run metrics.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use super::{Instrumented, Parts, respan, runtime_path};
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

    let none = quote!(::core::option::Option::None);
    let (mut deadline, mut max_hops, mut max_tokens) = (none.clone(), none.clone(), none.clone());
    // The first budget key, where a missing `From<BudgetExceeded>` is reported.
    let mut budget_key: Option<Span> = None;
    for arg in &raw {
        let slot = match arg.name().as_str() {
            "deadline" => {
                errors.take(duration(arg)).map(|n| (&mut deadline, quote!(#private::Duration::from_nanos(#n))))
            }
            "max_hops" => errors.take(arg.u64()).map(|n| (&mut max_hops, quote!(#n))),
            "max_tokens" => errors.take(arg.u64()).map(|n| (&mut max_tokens, quote!(#n))),
            _ => continue,
        };
        budget_key.get_or_insert(arg.key.span());
        if let Some((slot, value)) = slot {
            *slot = quote!(::core::option::Option::Some(#value));
        }
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
        // The span is opened in its own statement so that the borrowed argument
        // values are not held across the await (the future stays `Send`).
        quote! {
            let __obs_span = #span;
            #private::WorkflowRun::new(&#site, __obs_span, async move #block, #classify, #on_budget).await
        }
    };
    let expanded = Instrumented {
        function: &function,
        args: &args,
        kind: quote! {
            #private::Kind::Workflow(#private::WorkflowOptions { deadline: #deadline, max_hops: #max_hops, max_tokens: #max_tokens })
        },
        default_span_level: "INFO",
        default_ok_level: "INFO",
        extra_fields: &["workflow", "run_id"],
        driver: Some(&driver),
        attr_name: "workflow",
    }
    .expand(&mut errors);
    Ok(errors.or_item(expanded, item))
}
