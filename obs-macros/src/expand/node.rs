//! `#[node]`: a step of a workflow, found through the run context, with a span
//! per attempt, retries with backoff and a timeout per attempt.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Pat};

use super::{Instrumented, Parts, flow_site, respan, runtime_path};
use crate::args::{COMMON_KEYS, CommonArgs, duration, parse_raw};
use crate::errors::Errors;
use crate::item::{Function, is_result};

const KEYS: &[&str] = &["retries", "backoff", "max_backoff", "retry_if", "timeout"];

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let schema: Vec<&str> = COMMON_KEYS.iter().chain(KEYS).copied().collect();
    let raw = parse_raw(attr, &schema, &mut errors);
    let args = CommonArgs::from_raw(&raw, &mut errors);
    let Some(mut function) = errors.take(Function::parse(item.clone(), "node")) else {
        return Ok(errors.or_item(TokenStream::new(), item));
    };
    let rt = runtime_path(args.krate.as_ref());
    let private = quote!(#rt::__private);

    let mut retries: Option<(Span, u32)> = None;
    // `NodeOptions::DEFAULT.with_retries(..)...`, one call per setting given.
    let mut options = quote!(#private::NodeOptions::DEFAULT);
    let mut timeout: Option<(Span, u64)> = None;
    let mut retry_if: Option<(Span, syn::Path)> = None;
    for arg in &raw {
        let span = arg.key.span();
        match arg.name().as_str() {
            "retries" => {
                let count = arg
                    .u64()
                    .and_then(|n| u32::try_from(n).map_err(|_| syn::Error::new(span, "`retries` must fit in a u32")));
                retries = errors.take(count).map(|n| (span, n));
            }
            "backoff" => {
                if let Some(n) = errors.take(duration(arg)) {
                    options.extend(quote!(.with_backoff(#private::Duration::from_nanos(#n))));
                }
            }
            "max_backoff" => {
                if let Some(n) = errors.take(duration(arg)) {
                    options.extend(quote!(.with_max_backoff(#private::Duration::from_nanos(#n))));
                }
            }
            "timeout" => timeout = errors.take(duration(arg)).map(|n| (span, n)),
            "retry_if" => retry_if = errors.take(arg.path()).map(|p| (span, p)),
            _ => {}
        }
    }
    let returns_result = function.output_type().is_some_and(is_result);
    for (span, what) in [(retries.map(|r| r.0), "`retries`"), (timeout.map(|t| t.0), "`timeout`")] {
        if let Some(span) = span
            && !returns_result
        {
            errors.push(syn::Error::new(span, format!("{what} needs a function that returns `Result`")));
        }
    }
    let retrying = retries.is_some_and(|(_, n)| n > 0);
    if let Some((span, _)) = &retry_if
        && !retrying
    {
        errors.push(syn::Error::new(*span, "`retry_if` needs `retries = N` with N > 0"));
    }

    // Each retry runs on clones of the arguments: name each one, and drop `mut`
    // from the signature since the clones are what the body mutates.
    let mut clones = Vec::new();
    if retrying {
        for input in function.sig.inputs.iter_mut() {
            match input {
                FnArg::Receiver(r) if r.reference.is_none() || r.mutability.is_some() => errors.push(syn::Error::new(
                    r.self_token.span,
                    "a node with `retries` cannot take `self` by value or `&mut self`: take `&self`",
                )),
                FnArg::Receiver(_) => {}
                FnArg::Typed(typed) => match &mut *typed.pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                        let ident = p.ident.clone();
                        let mutability = p.mutability.take();
                        clones.push(
                            quote_spanned!(ident.span()=> let #mutability #ident = #private::clone_arg(&#ident);),
                        );
                    }
                    other => errors.push(syn::Error::new(
                        other.span(),
                        "a node with `retries` needs plain parameter names so that it can clone them for each attempt",
                    )),
                },
            }
        }
    }

    if let Some((_, n)) = retries {
        options.extend(quote!(.with_retries(#n)));
    }
    if let Some((_, n)) = timeout {
        options.extend(quote!(.with_timeout(#private::Duration::from_nanos(#n))));
    }
    let retry_if_tokens = match (&retry_if, retrying) {
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
    };
    let on_timeout = match timeout {
        Some((span, _)) => {
            let convert = respan(quote!(#private::timeout_error(__obs_t)), span);
            quote!(::core::option::Option::Some(|__obs_t| ::core::result::Result::Err(#convert)))
        }
        None => quote!(::core::option::Option::None::<fn(#private::TimeoutError) -> _>),
    };

    let driver = |parts: &Parts<'_>| {
        let Parts { private, site, span, block, classify } = parts;
        let flow = flow_site(private, site, quote!(node), &options);
        let attempts = if retrying {
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
            #flow
            let __obs_attempts = #attempts;
            #private::NodeCall::new(&__OBS_FLOW, __obs_attempts, #classify, #retry_if_tokens, #on_timeout).await
        }
    };
    let expanded = Instrumented {
        function: &function,
        args: &args,
        kind: quote!(#private::Kind::Node),
        default_span_level: "INFO",
        default_ok_level: "INFO",
        extra_fields: &["node", "attempt"],
        driver: Some(&driver),
        attr_name: "node",
    }
    .expand(&mut errors);
    Ok(errors.or_item(expanded, item))
}
