//! Attribute arguments: parsed once into a generic list, checked against each
//! attribute's schema in one place, then read into a typed struct per attribute.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Path, Token};

use crate::errors::Errors;

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

/// Parses the attribute's token stream and checks every key against `schema`:
/// unknown and duplicated keys become spanned errors in `errors`; the known
/// arguments are returned in order.
pub fn parse_raw(tokens: TokenStream, schema: &[&str], errors: &mut Errors) -> Vec<RawArg> {
    let parsed = match Punctuated::<RawArg, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(parsed) => parsed,
        Err(err) => {
            errors.push(err);
            return Vec::new();
        }
    };
    let mut seen: Vec<String> = Vec::new();
    let mut known = Vec::new();
    for arg in parsed {
        let key = arg.key.unraw().to_string();
        if !schema.contains(&key.as_str()) {
            errors.push(syn::Error::new(
                arg.key.span(),
                format!("unknown argument `{key}`, expected one of: {}", schema.join(", ")),
            ));
        } else if seen.contains(&key) {
            errors.push(syn::Error::new(arg.key.span(), format!("duplicate argument `{key}`")));
        } else {
            seen.push(key);
            known.push(arg);
        }
    }
    known
}

impl RawArg {
    pub fn name(&self) -> String {
        self.key.unraw().to_string()
    }

    fn expected(&self, what: &str) -> syn::Error {
        let span = match &self.value {
            RawValue::Flag => self.key.span(),
            RawValue::Assign(expr) => expr.span(),
            RawValue::List(span, _) => *span,
        };
        syn::Error::new(span, format!("`{}` expects {what}", self.name()))
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

    /// A bare `key` with no value.
    pub fn flag(&self) -> syn::Result<()> {
        match &self.value {
            RawValue::Flag => Ok(()),
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

    /// `key(...)` parsed as `T`.
    pub fn list<T: Parse>(&self, what: &str) -> syn::Result<Option<T>> {
        match &self.value {
            RawValue::Flag => Ok(None),
            RawValue::List(_, tokens) => syn::parse2(tokens.clone()).map(Some),
            RawValue::Assign(_) => Err(self.expected(what)),
        }
    }
}

/// `fields(key = expr, dotted.key = expr, "quoted key" = expr)`.
pub struct Field {
    pub name: LitStr,
    pub value: Expr,
}

pub struct FieldList(pub Vec<Field>);

impl Parse for FieldList {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let list = Punctuated::<Field, Token![,]>::parse_terminated(input)?;
        Ok(FieldList(list.into_iter().collect()))
    }
}

impl Parse for Field {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = if input.peek(LitStr) {
            input.parse()?
        } else {
            let first = Ident::parse_any(input)?;
            let span = first.span();
            let mut text = first.unraw().to_string();
            while input.peek(Token![.]) {
                input.parse::<Token![.]>()?;
                text.push('.');
                text.push_str(&Ident::parse_any(input)?.unraw().to_string());
            }
            LitStr::new(&text, span)
        };
        if !input.peek(Token![=]) {
            // On the name: at the end of the list `input.error` would span the whole attribute.
            return Err(syn::Error::new(
                name.span(),
                format!("expected `= value` after the field name `{}`", name.value()),
            ));
        }
        input.parse::<Token![=]>()?;
        Ok(Field { name, value: input.parse()? })
    }
}

/// The format asked for by `err(Debug)`, `err(Display)`, `ret(Debug)`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Auto,
    Debug,
    Display,
}

impl Parse for Format {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let ident: Ident = input.parse()?;
        match ident.to_string().as_str() {
            "Debug" => Ok(Format::Debug),
            "Display" => Ok(Format::Display),
            _ => Err(syn::Error::new(ident.span(), "expected `Debug` or `Display`")),
        }
    }
}

/// A tracing level given as a string: `level = "debug"`.
pub fn level(arg: &RawArg) -> syn::Result<Ident> {
    let lit = arg.str()?;
    let name = match lit.value().to_ascii_lowercase().as_str() {
        "trace" => "TRACE",
        "debug" => "DEBUG",
        "info" => "INFO",
        "warn" | "warning" => "WARN",
        "error" => "ERROR",
        _ => {
            return Err(syn::Error::new(
                lit.span(),
                "unknown level, expected one of: \"trace\", \"debug\", \"info\", \"warn\", \"error\"",
            ));
        }
    };
    Ok(Ident::new(name, lit.span()))
}

/// The arguments every instrumenting attribute shares with `#[observe]`.
pub const COMMON_KEYS: &[&str] =
    &["name", "level", "skip", "skip_all", "fields", "err", "ret", "metrics", "log", "crate", "reveal"];

/// Typed form of the arguments shared by `#[observe]`, `#[workflow]` and `#[node]`.
pub struct CommonArgs {
    pub name: Option<LitStr>,
    pub level: Option<Ident>,
    pub skip: Vec<Ident>,
    pub skip_all: bool,
    pub fields: Vec<Field>,
    pub err: Option<(Span, Format)>,
    pub ret: Option<Format>,
    pub metrics: bool,
    pub log: bool,
    pub krate: Option<Path>,
    pub reveal: Vec<Ident>,
}

impl CommonArgs {
    /// Reads the common keys out of `args`; other keys are left for the caller.
    pub fn from_raw(args: &[RawArg], errors: &mut Errors) -> CommonArgs {
        let mut out = CommonArgs {
            name: None,
            level: None,
            skip: Vec::new(),
            skip_all: false,
            fields: Vec::new(),
            err: None,
            ret: None,
            metrics: true,
            log: true,
            krate: None,
            reveal: Vec::new(),
        };
        for arg in args {
            let result = match arg.name().as_str() {
                "name" => arg.str().map(|v| out.name = Some(v)),
                "level" => level(arg).map(|v| out.level = Some(v)),
                "skip" => arg.ident_list().map(|v| out.skip = v),
                "skip_all" => arg.flag().map(|()| out.skip_all = true),
                "fields" => arg
                    .list::<FieldList>("a list of `key = value` fields")
                    .and_then(|v| v.ok_or_else(|| arg.expected("a list, as in `fields(key = value)`")))
                    .map(|v| out.fields = v.0),
                "err" => arg
                    .list::<Format>("`err`, `err(Debug)` or `err(Display)`")
                    .map(|v| out.err = Some((arg.key.span(), v.unwrap_or(Format::Auto)))),
                "ret" => arg
                    .list::<Format>("`ret`, `ret(Debug)` or `ret(Display)`")
                    .map(|v| out.ret = Some(v.unwrap_or(Format::Debug))),
                "metrics" => arg.bool().map(|v| out.metrics = v),
                "log" => arg.bool().map(|v| out.log = v),
                "crate" => arg.path().map(|v| out.krate = Some(v)),
                "reveal" => arg.ident_list().map(|v| out.reveal = v),
                _ => Ok(()),
            };
            if let Err(err) = result {
                errors.push(err);
            }
        }
        out
    }
}

/// `key = "250ms"`: a duration in `ns`, `us`, `ms`, `s`, `m` or `h`, with an
/// optional fraction (`"1.5s"`), as whole nanoseconds.
pub fn duration(arg: &RawArg) -> syn::Result<u64> {
    let lit = arg.str()?;
    let text = lit.value();
    let invalid = || {
        syn::Error::new(
            lit.span(),
            format!("invalid duration {text:?}, expected a number and a unit: ns, us, ms, s, m or h (as in \"250ms\")"),
        )
    };
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(invalid)?;
    let (number, unit) = trimmed.split_at(split);
    let nanos_per_unit: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => return Err(invalid()),
    };
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let nanos = value * nanos_per_unit;
    if !nanos.is_finite() || nanos >= u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(nanos.round() as u64)
}
