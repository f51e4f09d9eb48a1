//! The arguments every instrumenting attribute shares with `#[observe]`.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Path, Token};

use super::{AttrArgs, Key, RawArg, RawValue, apply, parse_list};
use crate::errors::Errors;
use crate::item::Param;

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
    /// Poll time and slow polls of async functions (`poll_metrics = false` turns them off).
    pub poll_metrics: bool,
    pub log: bool,
    pub krate: Option<Path>,
    pub reveal: Vec<Ident>,
    pub objective: Option<ObjectiveArg>,
    /// `labels(name = expr, ...)`, in order: metric labels from the arguments.
    pub labels: Vec<Field>,
}

impl Default for CommonArgs {
    fn default() -> Self {
        CommonArgs {
            name: None,
            level: None,
            skip: Vec::new(),
            skip_all: false,
            fields: Vec::new(),
            err: None,
            ret: None,
            metrics: true,
            poll_metrics: true,
            log: true,
            krate: None,
            reveal: Vec::new(),
            objective: None,
            labels: Vec::new(),
        }
    }
}

impl CommonArgs {
    /// The parameters recorded on the span, in order: all of them but the skipped ones.
    pub fn recorded<'p>(&self, params: &'p [Param]) -> impl Iterator<Item = &'p Param> {
        // `self` often holds clients and their keys: recorded only when `reveal(self)` asks.
        params.iter().filter(move |p| {
            !self.skip_all
                && !self.skip.contains(&p.ident)
                && (p.ident != "self" || self.reveal.iter().any(|r| r == "self"))
        })
    }
}

/// The common keys, for an attribute whose arguments hold [`CommonArgs`].
pub fn common_keys<T: AttrArgs>() -> Vec<Key<T>> {
    fn set<T: AttrArgs>(args: &mut T) -> &mut CommonArgs {
        args.common_mut()
    }
    vec![
        Key::new("name", |arg, a: &mut T| {
            set(a).name = Some(arg.str()?);
            Ok(())
        }),
        Key::new("level", |arg, a: &mut T| {
            set(a).level = Some(level(arg)?);
            Ok(())
        }),
        Key::new("skip", |arg, a: &mut T| {
            set(a).skip = arg.ident_list()?;
            Ok(())
        }),
        Key::new("skip_all", |arg, a: &mut T| {
            arg.flag()?;
            set(a).skip_all = true;
            Ok(())
        }),
        Key::new("fields", |arg, a: &mut T| {
            let list = arg
                .list::<FieldList>("a list of `key = value` fields")?
                .ok_or_else(|| arg.expected("a list, as in `fields(key = value)`"))?;
            set(a).fields = list.0;
            Ok(())
        }),
        Key::new("err", |arg, a: &mut T| {
            let format = arg.list::<Format>("`err`, `err(Debug)` or `err(Display)`")?;
            set(a).err = Some((arg.key.span(), format.unwrap_or(Format::Auto)));
            Ok(())
        }),
        Key::new("ret", |arg, a: &mut T| {
            let format = arg.list::<Format>("`ret`, `ret(Debug)` or `ret(Display)`")?;
            set(a).ret = Some(format.unwrap_or(Format::Debug));
            Ok(())
        }),
        Key::new("metrics", |arg, a: &mut T| {
            set(a).metrics = arg.bool()?;
            Ok(())
        }),
        Key::new("poll_metrics", |arg, a: &mut T| {
            set(a).poll_metrics = arg.bool()?;
            Ok(())
        }),
        Key::new("log", |arg, a: &mut T| {
            set(a).log = arg.bool()?;
            Ok(())
        }),
        Key::new("crate", |arg, a: &mut T| {
            set(a).krate = Some(arg.path()?);
            Ok(())
        }),
        Key::new("reveal", |arg, a: &mut T| {
            set(a).reveal = arg.ident_list()?;
            Ok(())
        }),
        Key::new("objective", |arg, a: &mut T| {
            set(a).objective = Some(objective(arg)?);
            Ok(())
        }),
        // `labels(tier = user.tier, region = req.region())`: each name with the
        // expression over the arguments that gives its value (names checked in `validate`).
        Key::new("labels", |arg, a: &mut T| {
            let list = arg
                .list::<FieldList>("a list of `name = value` labels")?
                .ok_or_else(|| arg.expected("a list, as in `labels(tier = user.tier)`"))?;
            set(a).labels = list.0;
            Ok(())
        }),
    ]
}

/// `#[observe]`: the common arguments.
#[derive(Default)]
pub struct ObserveArgs(pub CommonArgs);

impl AttrArgs for ObserveArgs {
    const NAME: &'static str = "observe";
    const EXTRA_FIELDS: &'static [&'static str] = &[];
    const DRIVEN: bool = false;

    fn keys() -> Vec<Key<Self>> {
        common_keys()
    }

    fn common(&self) -> &CommonArgs {
        &self.0
    }

    fn common_mut(&mut self) -> &mut CommonArgs {
        &mut self.0
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
fn level(arg: &RawArg) -> syn::Result<Ident> {
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

/// `objective(success = 99.9, latency = "250ms", percentile = 99)`, or
/// `objective = NAME` naming a `const` of type `obs_runtime::ops::Objective`.
pub enum ObjectiveArg {
    Inline(InlineObjective),
    Named(Path),
}

/// The keys of an inline objective, each number with the span of its value
/// (where `validate` reports it out of range).
pub struct InlineObjective {
    /// The parentheses, where an empty objective is reported.
    pub span: Span,
    pub success: Option<(Span, f64)>,
    /// In nanoseconds.
    pub latency: Option<(Span, u64)>,
    pub percentile: Option<(Span, f64)>,
}

impl Default for InlineObjective {
    fn default() -> Self {
        InlineObjective { span: Span::call_site(), success: None, latency: None, percentile: None }
    }
}

/// The keys `objective(...)` accepts, declared once with their parsers.
fn objective_keys() -> Vec<Key<InlineObjective>> {
    vec![
        Key::new("success", |arg, o: &mut InlineObjective| {
            o.success = Some((arg.value_span(), arg.number()?));
            Ok(())
        }),
        Key::new("latency", |arg, o: &mut InlineObjective| {
            o.latency = Some((arg.value_span(), arg.duration()?));
            Ok(())
        }),
        Key::new("percentile", |arg, o: &mut InlineObjective| {
            o.percentile = Some((arg.value_span(), arg.number()?));
            Ok(())
        }),
    ]
}

fn objective(arg: &RawArg) -> syn::Result<ObjectiveArg> {
    match &arg.value {
        RawValue::Assign(_) => Ok(ObjectiveArg::Named(arg.path().map_err(|_| {
            arg.expected("a list, as in `objective(success = 99.9)`, or the name of a `const` `obs_runtime::ops::Objective`")
        })?)),
        RawValue::List(span, tokens) => {
            // The same key table machinery as the attribute itself: unknown and duplicate keys in one place.
            let mut errors = Errors::default();
            let mut inline = InlineObjective { span: *span, ..InlineObjective::default() };
            apply(parse_list(tokens.clone(), &mut errors), &objective_keys(), &mut inline, &mut errors);
            errors.into_result().map(|()| ObjectiveArg::Inline(inline))
        }
        RawValue::Flag => Err(arg.expected(
            "a list, as in `objective(success = 99.9, latency = \"250ms\")`, or the name of a `const` `obs_runtime::ops::Objective`",
        )),
    }
}
