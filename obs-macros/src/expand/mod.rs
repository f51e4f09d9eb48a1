//! Expansion shared by every instrumenting attribute: the static call site, the
//! span with the function's arguments, and the wrapper that measures the call.
//! Each attribute only decides the call site's kind and options. Nothing here
//! checks its input: `crate::validate` has.

pub mod node;
pub mod observe;
pub mod workflow;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Path};

use crate::args::{CommonArgs, Format, ObjectiveArg};
use crate::item::{Flavor, Function, is_result};
use crate::validate::{LEADING_FIELDS, TRAILING_FIELDS};

/// Names that look like credentials are recorded as `[redacted]`, decided here
/// so that such an argument need not be `Debug`. The same list as
/// `obs_runtime::log::redact::CREDENTIAL_WORDS`, which filters fields inside
/// recorded values at run time (`tests/observe.rs` checks that they agree).
const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "accesskey",
    "private_key",
    "privatekey",
    "credential",
    "authorization",
    "cookie",
    "dsn",
    "database_url",
    "db_url",
    "connection_string",
    "conn_str",
    "session_key",
    "signature",
];

/// Whether `name` looks like it holds a credential: it contains one of
/// [`CREDENTIAL_WORDS`], or `auth` is one of its `_`-separated words.
pub fn is_credential_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    CREDENTIAL_WORDS.iter().any(|w| lower.contains(w)) || lower.split(['_', '-']).any(|word| word == "auth")
}

/// Everything needed to expand one instrumented function.
pub struct Instrumented<'a> {
    pub function: &'a Function,
    pub args: &'a CommonArgs,
    /// `::obs_runtime::__private::Kind::...` for this call site.
    pub kind: TokenStream,
    /// The default level of the span and of the success event when `level` is not given.
    pub default_span_level: &'static str,
    pub default_ok_level: &'static str,
    /// Span fields the runtime records after the span opens (`run_id`, `attempt`, ...).
    pub extra_fields: &'static [&'static str],
    /// How the attribute drives an `async fn` body, when it is not `#[observe]`'s
    /// `Observed` future. Attributes with a driver accept only `async fn`.
    pub driver: Option<&'a dyn Fn(&Parts<'_>) -> TokenStream>,
}

/// What a driver builds the body from.
pub struct Parts<'a> {
    /// `::obs_runtime::__private`.
    pub private: &'a TokenStream,
    /// The static call site.
    pub site: &'a Ident,
    /// An expression opening the call's span (borrows the arguments).
    pub span: &'a TokenStream,
    /// The user's body, in its own block, typed against the declared output.
    pub block: &'a TokenStream,
    /// The closure turning the output into an outcome (callable more than once).
    pub classify: &'a TokenStream,
    /// `labels(...)`: the `let` that evaluates the values into the index of
    /// their series (empty without labels), and `.labelled(index)` for the
    /// driver's future (empty too). The values are evaluated once per call,
    /// before anything moves the arguments.
    pub labels: &'a TokenStream,
    pub labelled: &'a TokenStream,
}

/// The `__OBS_FLOW` static a workflow or node adds beside its call site:
/// `FlowSite::workflow(..)` or `FlowSite::node(..)` with its options. Only
/// `#[workflow]` and `#[node]` emit it, so `#[observe]` sites stay small.
pub fn flow_site(private: &TokenStream, site: &Ident, constructor: TokenStream, options: &TokenStream) -> TokenStream {
    quote! {
        static __OBS_FLOW: #private::FlowSite = #private::FlowSite::#constructor(&__OBS_FLOW, &#site, #options);
    }
}

/// `::obs_runtime`, or the path given with `crate = ...`: the one place that
/// spells the runtime's path, for every macro and derive.
pub fn runtime_path(krate: Option<&Path>) -> TokenStream {
    match krate {
        Some(path) => quote!(#path),
        None => quote!(::obs_runtime),
    }
}

/// `<runtime>::__private`.
pub fn private_path(krate: Option<&Path>) -> TokenStream {
    let rt = runtime_path(krate);
    quote!(#rt::__private)
}

impl Instrumented<'_> {
    pub fn expand(&self) -> TokenStream {
        let f = self.function;
        let private = private_path(self.args.krate.as_ref());
        let ident = &f.sig.ident;
        let (field_names, field_values, arg_bindings) = self.fields(&private);

        let name = match &self.args.name {
            Some(name) => quote!(#name),
            None => ident.to_string().into_token_stream_lit(),
        };
        let span_name = match &self.args.name {
            Some(name) => quote!(#name),
            None => {
                let text = ident.to_string();
                quote!(::core::concat!(::core::module_path!(), "::", #text))
            }
        };
        let level = self.args.level.clone().unwrap_or_else(|| Ident::new(self.default_span_level, Span::call_site()));
        let ok_level = self.args.level.clone().unwrap_or_else(|| Ident::new(self.default_ok_level, Span::call_site()));
        let line = quote_spanned!(ident.span()=> ::core::line!());
        let (metrics, poll_metrics, log) = (self.args.metrics, self.args.poll_metrics, self.args.log);
        let kind = &self.kind;
        let objective = objective(&private, self.args.objective.as_ref());
        let all_names = LEADING_FIELDS
            .iter()
            .map(|s| quote!(#s))
            .chain(field_names.iter().map(|n| quote!(#n)))
            .chain(self.extra_fields.iter().map(|s| quote!(#s)))
            .chain(TRAILING_FIELDS.iter().map(|s| quote!(#s)));

        let site = format_ident!("__OBS_CALLSITE", span = Span::mixed_site());
        let (labels_static, labels_info, labels_let) = self.labels(&private);
        let span_var = format_ident!("__obs_span", span = Span::mixed_site());

        let statics = quote! {
            static #site: #private::CallSite = #private::CallSite::new(&#site, #private::Info {
                name: #name,
                span_name: #span_name,
                function: ::core::concat!(::core::module_path!(), "::", #name),
                module: ::core::module_path!(),
                file: ::core::file!(),
                line: #line,
                level: #private::Level::#level,
                ok_level: #private::Level::#ok_level,
                fields: &[#(#all_names),*],
                kind: #kind,
                metrics: #metrics,
                poll_metrics: #poll_metrics,
                log: #log,
                objective: #objective,
                labels: #labels_info,
            });
            #labels_static
            #private::register!(#site);
        };
        let span_expr = quote!({
            #(#arg_bindings)*
            #site.span(&[#(::core::option::Option::Some(#field_values)),*])
        });
        // Label values first: evaluated once, before the body can move the arguments.
        let make_span = quote! {
            #labels_let
            let #span_var = #span_expr;
        };
        let labels_var = format_ident!("__obs_labels", span = Span::mixed_site());
        let labels_index = if self.args.labels.is_empty() { quote!(#private::UNLABELLED) } else { quote!(#labels_var) };
        let labelled = if self.args.labels.is_empty() { quote!() } else { quote!(.labelled(#labels_var)) };
        let classify = self.classify(&private);
        // The declared output type, so the classifier sees concrete types even when the body
        // leaves them to inference (`raw.parse()`); `_` where the type cannot be written here.
        let output = match f.output_type() {
            Some(ty) if contains_impl_trait(quote!(#ty)) => quote!(_),
            Some(ty) => quote!(#ty),
            None => quote!(()),
        };
        let block = &f.block;
        // A return edge the type checker meets before the body (as in tracing's `#[instrument]`):
        // the body's returns and tail are checked against the declared type, so a mismatch is
        // reported on the user's own expression rather than on the attribute.
        let return_span = match &f.sig.output {
            syn::ReturnType::Type(_, ty) => ty.span(),
            syn::ReturnType::Default => f.sig.ident.span(),
        };
        // Located on the return type: rustc's "return type inferred here" note points at it.
        let fake_return = format_ident!("__obs_fake_return", span = Span::mixed_site().located_at(return_span));
        // The body's statements, not its block: a one-expression block nested
        // here would be linted as `unused_braces` on the user's code.
        let stmts = &block.stmts;
        let typed_block = quote_spanned! {return_span=> {
            #[allow(unknown_lints, unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop, clippy::let_unit_value, clippy::needless_return)]
            if false {
                let #fake_return: #output = loop {};
                return #fake_return;
            }
            #(#stmts)*
        }};

        let flavor = if self.driver.is_some() { None } else { Some(f.flavor()) };
        let body = match flavor {
            None => {
                let parts = Parts {
                    private: &private,
                    site: &site,
                    span: &span_expr,
                    block: &typed_block,
                    classify: &classify,
                    labels: &labels_let,
                    labelled: &labelled,
                };
                let driven = self.driver.map(|driver| driver(&parts)).unwrap_or_default();
                quote! { #statics #driven }
            }
            Some(flavor) => match flavor {
                Flavor::Async => quote! {
                    #statics
                    #make_span
                    #private::Observed::labelled::<#output>(&#site, #labels_index, #span_var, async move #typed_block, #classify).await
                },
                Flavor::ReturnsFuture { boxed: true } => {
                    let mut block = f.block.clone();
                    if let Some(syn::Stmt::Expr(syn::Expr::Call(call), None)) = block.stmts.last_mut() {
                        let fut = &call.args[0];
                        call.args[0] = syn::parse_quote!(#private::Observed::labelled::<#output>(&#site, #labels_index, #span_var, #fut, #classify));
                    }
                    let stmts = &block.stmts;
                    quote! { #statics #make_span #(#stmts)* }
                }
                Flavor::ReturnsFuture { boxed: false } => {
                    let future = if f.body_may_exit_early() {
                        quote!(#private::call_once(move || #block))
                    } else {
                        quote!(#block)
                    };
                    quote! {
                        #statics
                        #make_span
                        let __obs_future = #future;
                        #private::Observed::labelled::<#output>(&#site, #labels_index, #span_var, __obs_future, #classify)
                    }
                }
                Flavor::Sync => {
                    let guard = format_ident!("__obs_guard", span = Span::mixed_site());
                    let ret = format_ident!("__obs_ret", span = Span::mixed_site());
                    // A body that cannot leave early runs in place, in its own block; one
                    // with `return` or `?` needs a closure to come back to the measurement.
                    let value = if f.body_may_exit_early() {
                        quote!(#private::call_once(move || #typed_block))
                    } else {
                        quote!(#block)
                    };
                    let finish = self.outcome(&private, &quote!(&#ret), &guard);
                    quote! {
                        #statics
                        #make_span
                        let #guard = #private::Guard::enter_labelled(&#site, #labels_index, &#span_var);
                        let #ret: #output = #value;
                        #finish;
                        #ret
                    }
                }
            },
        };

        let attrs = &f.attrs;
        let vis = &f.vis;
        let sig = &f.sig;
        quote! {
            #(#attrs)*
            #vis #sig {
                #body
            }
        }
    }

    /// `labels(...)`: the `__OBS_LABELS` static, the call site's reference to it,
    /// and the `let` that evaluates the values into the index of their series.
    fn labels(&self, private: &TokenStream) -> (TokenStream, TokenStream, TokenStream) {
        let labels = &self.args.labels;
        if labels.is_empty() {
            return (quote!(), quote!(::core::option::Option::None), quote!());
        }
        let statics = format_ident!("__OBS_LABELS", span = Span::mixed_site());
        let kind = &self.kind;
        let var = format_ident!("__obs_labels", span = Span::mixed_site());
        let names = labels.iter().map(|l| &l.name);
        let dims = self.label_dims(private);
        let values = labels.iter().map(|l| {
            let value = &l.value;
            // Respanned whole, so a wrong type is reported on the value alone.
            let checked = respan(quote!(#private::label_arg), value.span());
            quote_spanned!(value.span()=> #checked(&(#value)),)
        });
        let values = quote!([#(#values)*]);
        (
            quote! {
                static #statics: #private::LabelSite = #private::LabelSite::new(&[#(#names),*], #dims, #kind);
            },
            quote!(::core::option::Option::Some(&#statics)),
            quote! {
                let #var: usize = #private::LabelSite::index(&#statics, #values);
            },
        )
    }

    /// The value sets of the labels, read in the static from a closure over
    /// the parameters the values use (never called: its return type names
    /// each value's kind). `None` when those parameters' types cannot be
    /// named in a static (`self`, `Self`, generics, `impl Trait`, named
    /// lifetimes): the first call then tells the table, and the series
    /// register as they are used.
    fn label_dims(&self, private: &TokenStream) -> TokenStream {
        let none = quote!(::core::option::Option::None);
        let mut used = Vec::new();
        for label in &self.args.labels {
            let value = &label.value;
            collect_idents(quote!(#value), &mut used);
        }
        if used.iter().any(|i| i == "self") {
            return none;
        }
        let generics: Vec<String> = self
            .function
            .sig
            .generics
            .params
            .iter()
            .filter_map(|p| match p {
                syn::GenericParam::Type(t) => Some(t.ident.to_string()),
                syn::GenericParam::Const(c) => Some(c.ident.to_string()),
                syn::GenericParam::Lifetime(_) => None,
            })
            .collect();
        let mut pats = Vec::new();
        let mut types = Vec::new();
        for input in &self.function.sig.inputs {
            let syn::FnArg::Typed(typed) = input else { continue };
            let syn::Pat::Ident(pat) = &*typed.pat else { continue };
            if !used.contains(&pat.ident) {
                continue;
            }
            let ty = &typed.ty;
            if !nameable_in_static(quote!(#ty), &generics) {
                return none;
            }
            pats.push(pat.ident.clone());
            types.push(ty);
        }
        let closure_params = quote!(|(#(#pats,)*): (#(#types,)*)|);
        let dims = self.args.labels.iter().map(|l| {
            let value = &l.value;
            let dim = respan(quote!(#private::label_dim), value.span());
            // A probe, not a bound: a wrong type is reported once, by `label_arg` in the call.
            let probe = respan(quote!(#private::LabelProbe), value.span());
            quote_spanned! {value.span()=>
                #dim(#[allow(unused_variables, clippy::all)] #closure_params {
                    #[allow(unused_imports)]
                    use #private::label_probe::*;
                    (&#probe(&(#value))).obs_label_kind()
                }),
            }
        });
        quote!(::core::option::Option::Some(&[#(#dims)*]))
    }

    /// The recorded fields: arguments (unless skipped) then `fields(...)`;
    /// and the `let`s that record the arguments in `Debug` form, each in a
    /// block with an empty type named like the argument, so that a type error
    /// names it (`span_arg.rs`).
    fn fields(&self, private: &TokenStream) -> (Vec<String>, Vec<TokenStream>, Vec<TokenStream>) {
        let params = self.function.params();
        let mut names = Vec::new();
        let mut values = Vec::new();
        let mut bindings = Vec::new();
        for param in self.args.recorded(&params) {
            let ident = &param.ident;
            let text = ident.to_string();
            let secret = is_credential_name(&text) && !self.args.reveal.contains(ident);
            values.push(if secret {
                quote!(&#private::REDACTED as &dyn #private::Value)
            } else if param.text {
                quote_spanned!(ident.span()=> &#private::text_arg(&#ident) as &dyn #private::Value)
            } else if param.plain {
                quote_spanned!(ident.span()=> &#ident as &dyn #private::Value)
            } else {
                let binding = format_ident!("__obs_arg_{}", bindings.len());
                bindings.push(if text == "self" {
                    quote_spanned!(ident.span()=> let #binding = #private::self_arg(&#ident);)
                } else {
                    quote_spanned!(ident.span()=> let #binding = {
                        #[allow(non_camel_case_types, dead_code)]
                        struct #ident {}
                        #private::arg::<_, #ident>(&#ident)
                    };)
                });
                quote!(&#binding as &dyn #private::Value)
            });
            names.push(text);
        }
        for field in &self.args.fields {
            let value = &field.value;
            let name = field.name.value();
            let revealed = self.args.reveal.iter().any(|r| *r == name);
            values.push(if is_credential_name(&name) && !revealed {
                // Still evaluated (it may have effects), never recorded.
                quote_spanned!(value.span()=> { let _ = &#value; &#private::REDACTED as &dyn #private::Value })
            } else {
                quote_spanned!(value.span()=> &#value as &dyn #private::Value)
            });
            names.push(name);
        }
        (names, values, bindings)
    }

    /// The closure that turns the function's output into an outcome; it captures
    /// nothing, so it also coerces to the `fn` pointer `Observed` takes.
    fn classify(&self, private: &TokenStream) -> TokenStream {
        // Drivers receive the output through a projection the compiler resolves
        // too late for the autoref probes, so the type is spelled out.
        let input = match (self.driver.is_some(), self.function.output_type()) {
            (true, Some(ty)) if !contains_impl_trait(quote!(#ty)) => quote!(: &#ty),
            (true, Some(_)) => quote!(),
            (true, None) => quote!(: &()),
            (false, _) => quote!(),
        };
        let completion = Ident::new("__obs_c", Span::call_site());
        let outcome = self.outcome(private, &quote!(__obs_r), &completion);
        // Workflows and nodes end through their own completion, which also knows retries.
        let completion_type =
            if self.driver.is_some() { quote!(#private::FlowCompletion<'_>) } else { quote!(#private::Completion<'_>) };
        quote!(|__obs_r #input, #completion: #completion_type| #outcome)
    }

    /// Ends the call through `target` (anything implementing `Outcome`: a
    /// `Completion`, a `FlowCompletion` or a `Guard`) with the outcome read
    /// from `value`, a reference to the output: a `match` on the concrete type,
    /// so that the error probes resolve.
    fn outcome(&self, private: &TokenStream, value: &TokenStream, target: &Ident) -> TokenStream {
        let ok = |v: TokenStream| match self.args.ret {
            Some(Format::Display) => quote!(#private::Outcome::ok_ret(#target, &#private::display(#v))),
            Some(_) => quote!(#private::Outcome::ok_ret(#target, &#private::ret_debug(#v))),
            None => quote!(#private::Outcome::ok(#target)),
        };
        let returns_result = self.args.err.is_some() || self.function.output_type().is_some_and(is_result);
        if !returns_result {
            let ok = ok(value.clone());
            return quote!(#ok);
        }
        let message = match self.args.err.map(|(_, f)| f) {
            Some(Format::Debug) => quote!(#private::ErrorMessage::Debug(__obs_e)),
            Some(Format::Display) => quote!(#private::ErrorMessage::Display(__obs_e)),
            _ => quote!((&&&#private::ErrorProbe(__obs_e)).obs_message()),
        };
        let ok = ok(quote!(__obs_v));
        quote! {
            match #value {
                ::core::result::Result::Ok(__obs_v) => { let _ = &__obs_v; #ok }
                ::core::result::Result::Err(__obs_e) => {
                    #[allow(unused_imports)]
                    use #private::probe::*;
                    #private::Outcome::error(#target, (&#private::ErrorProbe(__obs_e)).obs_kind(), #message)
                }
            }
        }
    }
}

/// The call site's objective: built from the checked inline keys, or the
/// named `const` passed through the runtime's compile-time check (spanned on
/// the name, so a wrong type or an out-of-range number is reported there).
fn objective(private: &TokenStream, objective: Option<&ObjectiveArg>) -> TokenStream {
    match objective {
        None => quote!(::core::option::Option::None),
        Some(ObjectiveArg::Named(path)) => {
            let checked = respan(quote!(#private::checked_objective(#path)), path.span());
            quote!(::core::option::Option::Some(#checked))
        }
        Some(ObjectiveArg::Inline(inline)) => {
            let mut built = quote!(#private::Objective::new());
            if let Some((_, percent)) = inline.success {
                let percent = proc_macro2::Literal::f64_suffixed(percent);
                built.extend(quote!(.success(#percent)));
            }
            if let Some((_, nanos)) = inline.latency {
                built.extend(quote!(.latency(#private::Duration::from_nanos(#nanos))));
            }
            if let Some((_, percent)) = inline.percentile {
                let percent = proc_macro2::Literal::f64_suffixed(percent);
                built.extend(quote!(.percentile(#percent)));
            }
            quote!(::core::option::Option::Some(#built))
        }
    }
}

/// Every identifier in `tokens`, nested groups included.
pub fn collect_idents(tokens: TokenStream, out: &mut Vec<Ident>) {
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Ident(ident) => out.push(ident),
            proc_macro2::TokenTree::Group(group) => collect_idents(group.stream(), out),
            _ => {}
        }
    }
}

/// Whether a parameter's type can be written in a static inside the function:
/// no `Self`, no `impl Trait`, no `_`, no named lifetime, no generic parameter.
fn nameable_in_static(tokens: TokenStream, generics: &[String]) -> bool {
    tokens.into_iter().all(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident) => {
            ident != "Self" && ident != "impl" && ident != "dyn" && !generics.iter().any(|g| ident == g)
        }
        proc_macro2::TokenTree::Punct(punct) => punct.as_char() != '\'',
        proc_macro2::TokenTree::Group(group) => nameable_in_static(group.stream(), generics),
        proc_macro2::TokenTree::Literal(_) => true,
    })
}

/// Whether a type mentions `impl Trait`, which cannot be named in a `let` or turbofish.
fn contains_impl_trait(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident) => ident == "impl",
        proc_macro2::TokenTree::Group(group) => contains_impl_trait(group.stream()),
        _ => false,
    })
}

trait IntoLit {
    fn into_token_stream_lit(self) -> TokenStream;
}

impl IntoLit for String {
    fn into_token_stream_lit(self) -> TokenStream {
        let lit = syn::LitStr::new(&self, Span::call_site());
        quote!(#lit)
    }
}

/// `tokens` with every span set to `span`, so that an error about the whole
/// expression (an unsatisfied bound on a call's return type) points at the
/// argument that asked for it rather than at the attribute.
pub fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut respanned = proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                tree = proc_macro2::TokenTree::Group(respanned);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}
