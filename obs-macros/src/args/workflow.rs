//! `#[workflow]`: the common arguments, the run's budgets and MLflow tracking.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Token};

use super::common::common_keys;
use super::{AttrArgs, CommonArgs, Key, RawArg, RawValue, apply, parse_list};
use crate::errors::Errors;

#[derive(Default)]
pub struct WorkflowArgs {
    pub common: CommonArgs,
    /// In nanoseconds.
    pub deadline: Option<u64>,
    pub max_hops: Option<u64>,
    pub max_tokens: Option<u64>,
    /// The first budget key written, where a missing `From<BudgetExceeded>` is
    /// reported; set even when the key's value is invalid.
    pub budget_key: Option<Span>,
    /// `mlflow` or `mlflow(experiment = "...", params(a, b: debug))`: each run an MLflow run.
    pub mlflow: Option<MlflowArg>,
}

/// What `mlflow(...)` says.
#[derive(Default)]
pub struct MlflowArg {
    pub experiment: Option<LitStr>,
    pub params: Vec<MlflowParam>,
}

/// One `params(...)` entry: a parameter name, logged through `Display`, or
/// through `Debug` when written `name: debug`.
pub struct MlflowParam {
    pub ident: Ident,
    pub debug: bool,
}

impl Parse for MlflowParam {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let ident = Ident::parse_any(input)?;
        let debug = if input.peek(Token![:]) {
            input.parse::<Token![:]>()?;
            let format = Ident::parse_any(input)?;
            match format.to_string().as_str() {
                "debug" => true,
                "display" => false,
                _ => {
                    return Err(syn::Error::new(
                        format.span(),
                        "expected `debug` or `display`, as in `params(config: debug)`",
                    ));
                }
            }
        } else {
            false
        };
        Ok(MlflowParam { ident, debug })
    }
}

/// The keys `mlflow(...)` accepts, declared once with their parsers.
fn mlflow_keys() -> Vec<Key<MlflowArg>> {
    vec![
        Key::new("experiment", |arg, m: &mut MlflowArg| {
            let name = arg.str()?;
            if name.value().trim().is_empty() {
                return Err(syn::Error::new(name.span(), "the experiment name must not be empty"));
            }
            m.experiment = Some(name);
            Ok(())
        }),
        Key::new("params", |arg, m: &mut MlflowArg| {
            let RawValue::List(_, tokens) = &arg.value else {
                return Err(arg.expected("a list of parameter names, as in `params(learning_rate, config: debug)`"));
            };
            let list = Punctuated::<MlflowParam, Token![,]>::parse_terminated.parse2(tokens.clone())?;
            m.params = list.into_iter().collect();
            Ok(())
        }),
    ]
}

fn mlflow(arg: &RawArg) -> (Option<MlflowArg>, syn::Result<()>) {
    match &arg.value {
        RawValue::Flag => (Some(MlflowArg::default()), Ok(())),
        RawValue::List(_, tokens) => {
            // The same key table machinery as the attribute itself: unknown and duplicate keys in one place.
            let mut errors = Errors::default();
            let mut out = MlflowArg::default();
            apply(parse_list(tokens.clone(), &mut errors), &mlflow_keys(), &mut out, &mut errors);
            (Some(out), errors.into_result())
        }
        RawValue::Assign(_) => (
            None,
            Err(arg.expected("`mlflow` or a list, as in `mlflow(experiment = \"churn-model\", params(learning_rate))`")),
        ),
    }
}

impl AttrArgs for WorkflowArgs {
    const NAME: &'static str = "workflow";
    const EXTRA_FIELDS: &'static [&'static str] = &["workflow", "run_id"];
    const DRIVEN: bool = true;

    fn keys() -> Vec<Key<Self>> {
        let mut keys = common_keys();
        keys.extend([
            Key::new("deadline", |arg, a: &mut Self| {
                a.budget_key.get_or_insert(arg.key.span());
                a.deadline = Some(arg.duration()?);
                Ok(())
            }),
            Key::new("max_hops", |arg, a: &mut Self| {
                a.budget_key.get_or_insert(arg.key.span());
                a.max_hops = Some(arg.u64()?);
                Ok(())
            }),
            Key::new("max_tokens", |arg, a: &mut Self| {
                a.budget_key.get_or_insert(arg.key.span());
                a.max_tokens = Some(arg.u64()?);
                Ok(())
            }),
            Key::new("mlflow", |arg, a: &mut Self| {
                // What parsed is kept even beside errors, so that its params are still checked.
                let (parsed, errors) = mlflow(arg);
                a.mlflow = parsed;
                errors
            }),
        ]);
        keys
    }

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn common_mut(&mut self) -> &mut CommonArgs {
        &mut self.common
    }
}
