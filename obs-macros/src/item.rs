//! The function an attribute is placed on, and what kind of function it is.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Attribute, Block, Expr, FnArg, GenericArgument, Ident, Pat, PathArguments, ReturnType, Signature, Stmt, Type,
    TypeParamBound, Visibility,
};

/// An annotated function with a body: a free function, a method, a trait impl
/// method, or the output of `#[async_trait]`.
pub struct Function {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub sig: Signature,
    pub block: Block,
}

/// How the function produces its result, which decides where the measurement goes.
pub enum Flavor {
    /// `async fn`: the body becomes an observed future awaited in place.
    Async,
    /// Returns a future (`impl Future`, `Pin<Box<dyn Future>>` from `#[async_trait]`):
    /// the returned future is wrapped. `boxed_tail` is set when the body ends in
    /// `Box::pin(fut)`, so the wrapper goes inside the box rather than boxing twice.
    ReturnsFuture { boxed: bool },
    /// A plain function: measured with a guard around the body.
    Sync,
}

impl Function {
    /// Parses the annotated item; anything but a function with a body is a
    /// spanned error on the item's leading keyword.
    pub fn parse(item: TokenStream, attr_name: &str) -> syn::Result<Function> {
        let parsed = match syn::parse2::<syn::Item>(item.clone()) {
            Ok(syn::Item::Fn(f)) => {
                return Ok(Function { attrs: f.attrs, vis: f.vis, sig: f.sig, block: *f.block });
            }
            parsed => parsed,
        };
        // A method declaration without a body (`fn get(&self);` in a trait) is no
        // `Item::Fn`: syn keeps it as `Item::Verbatim`.
        if let Ok(f) = syn::parse2::<syn::TraitItemFn>(item)
            && f.default.is_none()
        {
            return Err(syn::Error::new(
                f.sig.fn_token.span,
                format!("#[{attr_name}] needs a function body; put it on the method in the impl block"),
            ));
        }
        let span = parsed.map_or_else(|_| proc_macro2::Span::call_site(), |other| item_keyword_span(&other));
        let or_block = if attr_name == "observe" { " or an `impl` block" } else { "" };
        Err(syn::Error::new(span, format!("#[{attr_name}] can only be placed on a function{or_block}")))
    }

    pub fn flavor(&self) -> Flavor {
        if self.sig.asyncness.is_some() {
            return Flavor::Async;
        }
        match &self.sig.output {
            ReturnType::Type(_, ty) if future_output(ty).is_some() => {
                Flavor::ReturnsFuture { boxed: self.boxed_tail().is_some() }
            }
            _ => Flavor::Sync,
        }
    }

    /// The type the caller finally receives: the future's `Output` for async
    /// functions, the return type otherwise. `None` means `()`.
    pub fn output_type(&self) -> Option<&Type> {
        let ReturnType::Type(_, ty) = &self.sig.output else { return None };
        if self.sig.asyncness.is_some() {
            return Some(ty);
        }
        Some(future_output(ty).unwrap_or(ty))
    }

    /// The `fut` of a body ending in `Box::pin(fut)`.
    pub fn boxed_tail(&self) -> Option<&Expr> {
        let Some(Stmt::Expr(Expr::Call(call), None)) = self.block.stmts.last() else { return None };
        let Expr::Path(path) = &*call.func else { return None };
        let segments: Vec<String> = path.path.segments.iter().map(|s| s.ident.to_string()).collect();
        let ends_box_pin =
            segments.len() >= 2 && segments[segments.len() - 2] == "Box" && segments[segments.len() - 1] == "pin";
        (ends_box_pin && call.args.len() == 1).then(|| &call.args[0])
    }

    /// Whether the body can leave the function early (`return`, `?`, or a macro
    /// that might expand to them), so that it must run inside a closure to be
    /// measured to its end. Nested closures, async blocks and items have their
    /// own exits and are not looked into.
    pub fn body_may_exit_early(&self) -> bool {
        let mut finder = EarlyExit(false);
        // `VisitMut` is the visitor syn is already built with; a clone of the
        // body is cheap next to the rest of the expansion.
        finder.visit_block_mut(&mut self.block.clone());
        finder.0
    }

    /// The parameters that can be recorded: simple names (and `self`), in
    /// order, each with whether its type is recorded as a plain value rather
    /// than through `Debug` (the primitive and string types, as `#[instrument]` does).
    pub fn params(&self) -> Vec<Param> {
        self.sig
            .inputs
            .iter()
            .filter_map(|arg| match arg {
                FnArg::Receiver(r) => {
                    Some(Param { ident: Ident::new("self", r.self_token.span), plain: false, text: false })
                }
                FnArg::Typed(t) => match &*t.pat {
                    Pat::Ident(p) => {
                        Some(Param { ident: p.ident.clone(), plain: is_plain_value(&t.ty), text: is_text(&t.ty) })
                    }
                    _ => None,
                },
            })
            .collect()
    }
}

/// A recordable parameter.
pub struct Param {
    pub ident: Ident,
    /// Recorded as a `tracing` value (number, bool, string) rather than its `Debug` form.
    pub plain: bool,
    /// A `str` or `String` (behind references): recorded with URL secrets removed.
    pub text: bool,
}

/// Types `tracing` records natively: JSON logs then show numbers as numbers
/// and strings without `Debug` quotes.
fn is_plain_value(ty: &Type) -> bool {
    const PLAIN: &[&str] = &[
        "bool", "str", "String", "u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64", "u128", "i128", "usize",
        "isize", "f32", "f64",
    ];
    match ty {
        Type::Reference(r) => is_plain_value(&r.elem),
        Type::Paren(p) => is_plain_value(&p.elem),
        Type::Path(p) => {
            p.qself.is_none()
                && p.path.segments.last().is_some_and(|s| s.arguments.is_none() && PLAIN.iter().any(|t| s.ident == t))
        }
        _ => false,
    }
}

/// Whether the type is `str` or `String`, behind any references.
fn is_text(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => is_text(&r.elem),
        Type::Paren(p) => is_text(&p.elem),
        Type::Path(p) => {
            p.qself.is_none()
                && p.path
                    .segments
                    .last()
                    .is_some_and(|s| s.arguments.is_none() && (s.ident == "str" || s.ident == "String"))
        }
        _ => false,
    }
}

/// Whether the syntactic type is a `Result` (`Result<T, E>`, `io::Result<T>`, ...).
pub fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        Type::Paren(p) => is_result(&p.elem),
        Type::Group(g) => is_result(&g.elem),
        _ => false,
    }
}

/// `R` of `impl Future<Output = R>`, `Pin<Box<dyn Future<Output = R> + ..>>`
/// or `Box<dyn Future<Output = R>>`.
fn future_output(ty: &Type) -> Option<&Type> {
    match ty {
        Type::ImplTrait(t) => bounds_output(t.bounds.iter()),
        Type::TraitObject(t) => bounds_output(t.bounds.iter()),
        Type::Paren(p) => future_output(&p.elem),
        Type::Group(g) => future_output(&g.elem),
        Type::Path(p) => {
            let last = p.path.segments.last()?;
            if last.ident != "Pin" && last.ident != "Box" {
                return None;
            }
            let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
            args.args.iter().find_map(|a| match a {
                GenericArgument::Type(inner) => future_output(inner),
                _ => None,
            })
        }
        _ => None,
    }
}

fn bounds_output<'a>(mut bounds: impl Iterator<Item = &'a TypeParamBound>) -> Option<&'a Type> {
    bounds.find_map(|b| {
        let TypeParamBound::Trait(t) = b else { return None };
        let last = t.path.segments.last()?;
        if last.ident != "Future" {
            return None;
        }
        let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
        args.args.iter().find_map(|a| match a {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

fn item_keyword_span(item: &syn::Item) -> proc_macro2::Span {
    use syn::Item;
    match item {
        Item::Struct(i) => i.struct_token.span,
        Item::Enum(i) => i.enum_token.span,
        Item::Union(i) => i.union_token.span,
        Item::Const(i) => i.const_token.span,
        Item::Static(i) => i.static_token.span,
        Item::Trait(i) => i.trait_token.span,
        Item::Impl(i) => i.impl_token.span,
        Item::Mod(i) => i.mod_token.span,
        Item::Type(i) => i.type_token.span,
        Item::Use(i) => i.use_token.span,
        other => other.span(),
    }
}

/// Finds an early exit from the function whose body it walks.
struct EarlyExit(bool);

/// Macros of `std` that never expand to `return` or `?` by themselves.
const NON_EXITING_MACROS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "concat",
    "dbg",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "eprint",
    "eprintln",
    "format",
    "format_args",
    "matches",
    "panic",
    "print",
    "println",
    "stringify",
    "todo",
    "unimplemented",
    "unreachable",
    "vec",
    "write",
    "writeln",
];

impl VisitMut for EarlyExit {
    fn visit_expr_return_mut(&mut self, _: &mut syn::ExprReturn) {
        self.0 = true;
    }

    fn visit_expr_try_mut(&mut self, _: &mut syn::ExprTry) {
        self.0 = true;
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        let known = mac.path.segments.last().is_some_and(|s| NON_EXITING_MACROS.iter().any(|m| s.ident == m));
        // Arguments are not parsed: any `return` or `?` among their tokens counts.
        if !known || tokens_may_exit(mac.tokens.clone()) {
            self.0 = true;
        }
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if !self.0 {
            visit_mut::visit_expr_mut(self, expr);
        }
    }

    fn visit_expr_closure_mut(&mut self, _: &mut syn::ExprClosure) {}

    fn visit_expr_async_mut(&mut self, _: &mut syn::ExprAsync) {}

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

fn tokens_may_exit(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident) => ident == "return",
        proc_macro2::TokenTree::Punct(punct) => punct.as_char() == '?',
        proc_macro2::TokenTree::Group(group) => tokens_may_exit(group.stream()),
        proc_macro2::TokenTree::Literal(_) => false,
    })
}
