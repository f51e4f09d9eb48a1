//! `#[node]`: a step of a workflow, found through the run context, with a span
//! per attempt, retries with backoff and a timeout per attempt.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Pat};

use super::{Instrumented, Parts, collect_idents, flow_site, private_path, respan};
use crate::args::{AttrArgs, NodeArgs};
use crate::item::Function;

/// The pieces of a node's call the driver assembles.
struct Call {
    /// `NodeOptions::DEFAULT.with_retries(..)...`.
    options: TokenStream,
    /// `let x = clone_arg(&x);` for each argument, run before every attempt.
    clones: Vec<TokenStream>,
    retrying: bool,
    retry_if: TokenStream,
    on_timeout: TokenStream,
}

pub fn expand(mut function: Function, args: NodeArgs) -> TokenStream {
    let private = private_path(args.common.krate.as_ref());
    let call = Call {
        options: options(&private, &args),
        clones: clone_args(&private, &mut function, &args),
        retrying: args.retrying(),
        retry_if: retry_if(&private, &args),
        on_timeout: on_timeout(&private, &args),
    };
    let driver = |parts: &Parts<'_>| driver(parts, &call);
    Instrumented {
        function: &function,
        args: &args.common,
        kind: quote!(#private::Kind::Node),
        default_span_level: "INFO",
        default_ok_level: "INFO",
        extra_fields: NodeArgs::EXTRA_FIELDS,
        driver: Some(&driver),
    }
    .expand()
}

/// The node's retry and timeout options, one `with_*` call per setting given.
fn options(private: &TokenStream, args: &NodeArgs) -> TokenStream {
    let mut options = quote!(#private::NodeOptions::DEFAULT);
    if let Some((_, n)) = args.retries {
        options.extend(quote!(.with_retries(#n)));
    }
    if let Some(n) = args.backoff {
        options.extend(quote!(.with_backoff(#private::Duration::from_nanos(#n))));
    }
    if let Some(n) = args.max_backoff {
        options.extend(quote!(.with_max_backoff(#private::Duration::from_nanos(#n))));
    }
    if let Some((_, n)) = args.timeout {
        options.extend(quote!(.with_timeout(#private::Duration::from_nanos(#n))));
    }
    options
}

/// Each retry runs on clones of the arguments: name each one, and drop `mut`
/// from the signature since the clones are what the body mutates.
fn clone_args(private: &TokenStream, function: &mut Function, args: &NodeArgs) -> Vec<TokenStream> {
    if !args.retrying() {
        return Vec::new();
    }
    // A parameter a label reads is used, even when the body never reads its clone.
    let mut labelled = Vec::new();
    for label in &args.common.labels {
        let value = &label.value;
        collect_idents(quote!(#value), &mut labelled);
    }
    let mut clones = Vec::new();
    for input in function.sig.inputs.iter_mut() {
        if let FnArg::Typed(typed) = input
            && let Pat::Ident(p) = &mut *typed.pat
        {
            let ident = p.ident.clone();
            let mutability = p.mutability.take();
            let allow = labelled.contains(&ident).then(|| quote!(#[allow(unused_variables)]));
            clones.push(quote_spanned!(ident.span()=> #allow let #mutability #ident = #private::clone_arg(&#ident);));
        }
    }
    clones
}

/// Which failed attempts run again: those `retry_if` accepts, or every error.
fn retry_if(private: &TokenStream, args: &NodeArgs) -> TokenStream {
    match (&args.retry_if, args.retrying()) {
        (Some((_, path)), true) => {
            // Through a bound that states the expected signature when the function has another.
            let call = quote_spanned!(path.span()=> #private::retry_if(__obs_e, #path));
            quote! {
                ::core::option::Option::Some(|__obs_r: &_| match __obs_r {
                    ::core::result::Result::Err(__obs_e) => #call,
                    ::core::result::Result::Ok(_) => false,
                })
            }
        }
        (None, true) => quote!(::core::option::Option::Some(|__obs_r: &_| ::core::result::Result::is_err(__obs_r))),
        _ => quote!(::core::option::Option::None::<fn(&_) -> bool>),
    }
}

/// The conversion of a timeout into the function's error, spanned on the
/// `timeout` key so that a missing `From` impl is reported there.
fn on_timeout(private: &TokenStream, args: &NodeArgs) -> TokenStream {
    match args.timeout {
        Some((span, _)) => {
            let convert = respan(quote!(#private::timeout_error(__obs_t)), span);
            quote!(::core::option::Option::Some(|__obs_t| ::core::result::Result::Err(#convert)))
        }
        None => quote!(::core::option::Option::None::<fn(#private::TimeoutError) -> _>),
    }
}

/// The body: the attempts, driven by `NodeCall`.
fn driver(parts: &Parts<'_>, call: &Call) -> TokenStream {
    let Parts { private, site, span, block, classify, labels, labelled } = parts;
    let Call { options, clones, retrying, retry_if, on_timeout } = call;
    let flow = flow_site(private, site, quote!(node), options);
    let attempts = if *retrying {
        quote! {
            #private::Repeat(move || {
                let __obs_span = #span;
                #(#clones)*
                (__obs_span, async move #block)
            })
        }
    } else {
        quote! {
            #private::Once(::core::option::Option::Some(move || {
                let __obs_span = #span;
                (__obs_span, async move #block)
            }))
        }
    };
    // The label values once per call, not per attempt: every attempt counts in the call's series.
    quote! {
        #flow
        #labels
        let __obs_attempts = #attempts;
        #private::NodeCall::new(&__OBS_FLOW, __obs_attempts, #classify, #retry_if, #on_timeout)#labelled.await
    }
}
