//! Attribute arguments. Each attribute declares its keys once, in a table of
//! [`Key`]s that pairs every key with the parser writing its value into the
//! attribute's typed arguments; [`parse`] reads a token stream against such a
//! table and is the one place where unknown and duplicate keys are found.

mod common;
pub mod duration;
mod node;
mod workflow;

pub use common::{CommonArgs, Format, InlineObjective, ObjectiveArg, ObserveArgs};
pub use node::NodeArgs;
pub use workflow::{MlflowArg, WorkflowArgs};

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Path, Token};

use crate::errors::Errors;

/// The typed arguments of one instrumenting attribute (`#[observe]`,
/// `#[workflow]`, `#[node]`), with what the later stages need to know about it.
pub trait AttrArgs: Default {
    /// The attribute's name, for error messages.
    const NAME: &'static str;
    /// Span fields the runtime records after the span opens (`run_id`, `attempt`, ...).
    const EXTRA_FIELDS: &'static [&'static str];
    /// Whether the attribute drives the body as a future itself, and so accepts only `async fn`.
    const DRIVEN: bool;
    /// Every key the attribute accepts, each with its parser.
    fn keys() -> Vec<Key<Self>>;
    fn common(&self) -> &CommonArgs;
    fn common_mut(&mut self) -> &mut CommonArgs;
}

/// One accepted key and the parser that reads its value into `T`.
pub struct Key<T> {
    pub name: &'static str,
    pub parse: fn(&RawArg, &mut T) -> syn::Result<()>,
}

impl<T> Key<T> {
    pub const fn new(name: &'static str, parse: fn(&RawArg, &mut T) -> syn::Result<()>) -> Key<T> {
        Key { name, parse }
    }
}

/// The names of `keys`, as listed in "expected one of" messages.
pub fn key_names<T>(keys: &[Key<T>]) -> String {
    keys.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// Reads an attribute's arguments into `T` through its key table. Unknown and
/// duplicated keys are reported first, then the errors of the values.
pub fn parse<T: Default>(tokens: TokenStream, keys: &[Key<T>], errors: &mut Errors) -> T {
    let mut out = T::default();
    apply(parse_list(tokens, errors), keys, &mut out, errors);
    out
}

/// `key, key = value, key(...)`, not yet interpreted.
pub fn parse_list(tokens: TokenStream, errors: &mut Errors) -> Vec<RawArg> {
    match Punctuated::<RawArg, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(parsed) => parsed.into_iter().collect(),
        Err(err) => {
            errors.push(err);
            Vec::new()
        }
    }
}

/// Runs the parser of each argument's key, after checking every key against the table.
pub fn apply<T>(args: Vec<RawArg>, keys: &[Key<T>], out: &mut T, errors: &mut Errors) {
    let mut seen: Vec<String> = Vec::new();
    let mut known = Vec::new();
    for arg in args {
        let name = arg.name();
        match keys.iter().find(|k| k.name == name) {
            None => {
                let message = match crate::suggest::did_you_mean(&name, keys.iter().map(|k| k.name)) {
                    Some(meant) => format!("unknown argument `{name}`; did you mean `{meant}`?"),
                    None => format!("unknown argument `{name}`, expected one of: {}", key_names(keys)),
                };
                errors.push(syn::Error::new(arg.key.span(), message));
            }
            Some(_) if seen.contains(&name) => {
                errors.push(syn::Error::new(arg.key.span(), format!("duplicate argument `{name}`")));
            }
            Some(key) => {
                seen.push(name);
                known.push((key, arg));
            }
        }
    }
    for (key, arg) in known {
        errors.take((key.parse)(&arg, out));
    }
}

/// One `key`, `key = value` or `key(...)` argument, not yet interpreted.
pub struct RawArg {
    pub key: Ident,
    pub value: RawValue,
}

pub enum RawValue {
    Flag,
    Assign(Expr),
    List(Span, TokenStream),
}

impl Parse for RawArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // `crate` is a keyword but a valid argument name here.
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            let eq = input.parse::<Token![=]>()?;
            if input.is_empty() || input.peek(Token![,]) {
                // Otherwise syn reports "unexpected end of input" on the whole attribute.
                return Err(syn::Error::new(eq.span, format!("expected a value after `{key} =`")));
            }
            RawValue::Assign(input.parse()?)
        } else if input.peek(syn::token::Paren) {
            let content;
            let parens = syn::parenthesized!(content in input);
            RawValue::List(parens.span.join(), content.parse()?)
        } else {
            RawValue::Flag
        };
        Ok(RawArg { key, value })
    }
}

/// Written back as it was given (an `impl` block hands its arguments on to each method).
impl quote::ToTokens for RawArg {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.key.to_tokens(tokens);
        match &self.value {
            RawValue::Flag => {}
            RawValue::Assign(expr) => {
                <Token![=]>::default().to_tokens(tokens);
                expr.to_tokens(tokens);
            }
            RawValue::List(span, inner) => {
                let mut group = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, inner.clone());
                group.set_span(*span);
                tokens.extend([proc_macro2::TokenTree::Group(group)]);
            }
        }
    }
}

impl RawArg {
    pub fn name(&self) -> String {
        self.key.unraw().to_string()
    }

    pub fn expected(&self, what: &str) -> syn::Error {
        syn::Error::new(self.value_span(), format!("`{}` expects {what}", self.name()))
    }

    /// The value's tokens (the key's, for a bare key).
    pub fn value_span(&self) -> Span {
        match &self.value {
            RawValue::Flag => self.key.span(),
            RawValue::Assign(expr) => expr.span(),
            RawValue::List(span, _) => *span,
        }
    }

    /// `key = "text"`.
    pub fn str(&self) -> syn::Result<LitStr> {
        match &self.value {
            RawValue::Assign(Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. })) => Ok(s.clone()),
            _ => Err(self.expected("a string literal, as in `key = \"...\"`")),
        }
    }

    /// `key = true|false`, or a bare `key` meaning true.
    pub fn bool(&self) -> syn::Result<bool> {
        match &self.value {
            RawValue::Flag => Ok(true),
            RawValue::Assign(Expr::Lit(syn::ExprLit { lit: syn::Lit::Bool(b), .. })) => Ok(b.value),
            _ => Err(self.expected("`true` or `false`")),
        }
    }

    /// A bare `key` with no value; the key itself, to point later errors at.
    pub fn flag(&self) -> syn::Result<Ident> {
        match &self.value {
            RawValue::Flag => Ok(self.key.clone()),
            _ => Err(self.expected("no value")),
        }
    }

    /// `key = some::path`.
    pub fn path(&self) -> syn::Result<Path> {
        match &self.value {
            RawValue::Assign(Expr::Path(p)) if p.qself.is_none() => Ok(p.path.clone()),
            _ => Err(self.expected("a path, as in `key = some::path`")),
        }
    }

    /// `key = 3`.
    pub fn u64(&self) -> syn::Result<u64> {
        match &self.value {
            RawValue::Assign(Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. })) => i.base10_parse(),
            _ => Err(self.expected("an integer literal")),
        }
    }

    /// `key = 99.9` or `key = 99`.
    pub fn number(&self) -> syn::Result<f64> {
        fn literal(expr: &Expr) -> Option<syn::Result<f64>> {
            match expr {
                Expr::Lit(syn::ExprLit { lit: syn::Lit::Float(f), .. }) => Some(f.base10_parse()),
                Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) => Some(i.base10_parse()),
                // `-5`: read, so that the range check can say what is wrong with it.
                Expr::Unary(syn::ExprUnary { op: syn::UnOp::Neg(_), expr, .. }) => {
                    literal(expr).map(|n| n.map(|n: f64| -n))
                }
                _ => None,
            }
        }
        match &self.value {
            RawValue::Assign(expr) => literal(expr),
            _ => None,
        }
        .unwrap_or_else(|| Err(self.expected("a number, as in `key = 99.9`")))
    }

    /// `key = "250ms"`, as whole nanoseconds, in the one duration grammar.
    pub fn duration(&self) -> syn::Result<u64> {
        duration::parse(&self.str()?, duration::EXPECTED)
    }

    /// `key(a, b, c)`: a list of identifiers, `self` included.
    pub fn ident_list(&self) -> syn::Result<Vec<Ident>> {
        match &self.value {
            RawValue::List(_, tokens) => {
                let idents =
                    |input: ParseStream| Punctuated::<Ident, Token![,]>::parse_terminated_with(input, Ident::parse_any);
                let list = idents.parse2(tokens.clone()).map_err(|e| {
                    syn::Error::new(e.span(), format!("`{}` expects a list of parameter names", self.name()))
                })?;
                Ok(list.into_iter().collect())
            }
            _ => Err(self.expected("a list of parameter names, as in `key(a, b)`")),
        }
    }

    /// `key(...)` parsed as `T`; `None` for a bare `key`.
    pub fn list<T: Parse>(&self, what: &str) -> syn::Result<Option<T>> {
        match &self.value {
            RawValue::Flag => Ok(None),
            RawValue::List(_, tokens) => syn::parse2(tokens.clone()).map(Some),
            RawValue::Assign(_) => Err(self.expected(what)),
        }
    }
}
