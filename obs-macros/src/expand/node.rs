//! `#[node]`: a step of a workflow, found through the run context, with a span
//! per attempt, retries with backoff and a timeout per attempt.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Pat};

use super::{Instrumented, Parts, private_path, respan};
use crate::args::{AttrArgs, NodeArgs};
use crate::item::Function;

/// The pieces of a node's call the driver assembles.
struct Call {
    /// `let x = clone_arg(&x);` for each argument, run before every attempt.
    clones: Vec<TokenStream>,
    retrying: bool,
    retry_if: TokenStream,
    on_timeout: TokenStream,
}

pub fn expand(mut function: Function, args: NodeArgs) -> TokenStream {
    let private = private_path(args.common.krate.as_ref());
    let call = Call {
        clones: clone_args(&private, &mut function, &args),
        retrying: args.retrying(),
        retry_if: retry_if(&args),
        on_timeout: on_timeout(&private, &args),
    };
    let driver = |parts: &Parts<'_>| driver(parts, &call);
    Instrumented {
        function: &function,
        args: &args.common,
        kind: site_kind(&private, &args),
        default_span_level: "INFO",
        default_ok_level: "INFO",
        extra_fields: NodeArgs::EXTRA_FIELDS,
        driver: Some(&driver),
    }
    .expand()
}

/// The call site's kind, with the node's retry and timeout options.
fn site_kind(private: &TokenStream, args: &NodeArgs) -> TokenStream {
    let retries = args.retries.map_or(0, |r| r.1);
    let duration_or = |nanos: Option<u64>, default: TokenStream| match nanos {
        Some(n) => quote!(#private::Duration::from_nanos(#n)),
        None => default,
    };
    let backoff = duration_or(args.backoff, quote!(#private::NodeOptions::DEFAULT.backoff));
    let max_backoff = duration_or(args.max_backoff, quote!(#private::NodeOptions::DEFAULT.max_backoff));
    let timeout = match args.timeout {
        Some((_, n)) => quote!(::core::option::Option::Some(#private::Duration::from_nanos(#n))),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #private::Kind::Node(#private::NodeOptions {
            retries: #retries,
            backoff: #backoff,
            max_backoff: #max_backoff,
            timeout: #timeout,
        })
    }
}

/// Each retry runs on clones of the arguments: name each one, and drop `mut`
/// from the signature since the clones are what the body mutates.
fn clone_args(private: &TokenStream, function: &mut Function, args: &NodeArgs) -> Vec<TokenStream> {
    if !args.retrying() {
        return Vec::new();
    }
    let mut clones = Vec::new();
    for input in function.sig.inputs.iter_mut() {
        if let FnArg::Typed(typed) = input
            && let Pat::Ident(p) = &mut *typed.pat
        {
            let ident = p.ident.clone();
            let mutability = p.mutability.take();
            clones.push(quote_spanned!(ident.span()=> let #mutability #ident = #private::clone_arg(&#ident);));
        }
    }
    clones
}

/// Which failed attempts run again: those `retry_if` accepts, or every error.
fn retry_if(args: &NodeArgs) -> TokenStream {
    match (&args.retry_if, args.retrying()) {
        (Some((_, path)), true) => {
            let call = quote_spanned!(path.span()=> #path(__obs_e));
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
    let Parts { private, site, span, block, classify } = parts;
    let Call { clones, retrying, retry_if, on_timeout } = call;
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
    quote! {
        let __obs_attempts = #attempts;
        #private::NodeCall::new(&#site, __obs_attempts, #classify, #retry_if, #on_timeout).await
    }
}
