//! Every check of an attribute against the function it is placed on, run
//! before anything is generated; each error on its own token, all collected.

use syn::spanned::Spanned;
use syn::{FnArg, Pat};

use crate::args::{AttrArgs, InlineObjective, NodeArgs, ObjectiveArg, ObserveArgs, WorkflowArgs};
use crate::errors::Errors;
use crate::item::{Function, is_result};

/// Span fields the runtime fills itself, before and after the arguments.
// The stable OpenTelemetry semantic-convention names (1.33): `code.function.name` is the
// fully qualified path (`shop::cart::checkout`), and there is no `code.namespace`; not the
// deprecated `code.filepath` / `code.lineno` / `code.function` (added on export on request).
pub const LEADING_FIELDS: &[&str] = &["code.function.name", "code.file.path", "code.line.number"];
pub const TRAILING_FIELDS: &[&str] = &["error.type", "error.message", "otel.status_code", "obs.outcome"];
/// Keep in step with `obs_runtime::callsite::MAX_FIELDS`.
const MAX_FIELDS: usize = 32;

pub fn observe(function: &Function, args: &ObserveArgs, errors: &mut Errors) {
    common(function, args, errors);
}

pub fn workflow(function: &Function, args: &WorkflowArgs, errors: &mut Errors) {
    if let Some(span) = args.budget_key
        && !function.output_type().is_some_and(is_result)
    {
        errors.push(syn::Error::new(span, "workflow budgets need a function that returns `Result<_, E>` with `E: From<obs_runtime::workflow::budget::BudgetExceeded>`"));
    }
    if let Some(mlflow) = &args.mlflow {
        let params = function.params();
        let names: Vec<String> = params.iter().map(|p| p.ident.to_string()).collect();
        let mut seen: Vec<String> = Vec::new();
        for param in &mlflow.params {
            let name = param.ident.to_string();
            if !names.contains(&name) {
                let hint = crate::suggest::hint(&name, names.iter().map(String::as_str));
                errors.push(syn::Error::new(
                    param.ident.span(),
                    format!(
                        "`{name}` is not a parameter of this function, so it cannot be logged as an MLflow param{hint}"
                    ),
                ));
            } else if seen.contains(&name) {
                errors.push(syn::Error::new(param.ident.span(), format!("`{name}` is logged twice")));
            }
            seen.push(name);
        }
    }
    common(function, args, errors);
}

pub fn node(function: &Function, args: &NodeArgs, errors: &mut Errors) {
    let returns_result = function.output_type().is_some_and(is_result);
    for (span, what) in [(args.retries.map(|r| r.0), "`retries`"), (args.timeout.map(|t| t.0), "`timeout`")] {
        if let Some(span) = span
            && !returns_result
        {
            errors.push(syn::Error::new(span, format!("{what} needs a function that returns `Result`")));
        }
    }
    if let Some((span, _)) = &args.retry_if
        && !args.retrying()
    {
        errors.push(syn::Error::new(*span, "`retry_if` needs `retries = N` with N > 0"));
    }
    // Each retry runs on clones of the arguments, which must be named to be cloned.
    if args.retrying() {
        for input in &function.sig.inputs {
            match input {
                FnArg::Receiver(r) if r.reference.is_none() || r.mutability.is_some() => errors.push(syn::Error::new(
                    r.self_token.span,
                    "a node with `retries` cannot take `self` by value or `&mut self`: take `&self`",
                )),
                FnArg::Receiver(_) => {}
                FnArg::Typed(typed) => match &*typed.pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {}
                    other => errors.push(syn::Error::new(
                        other.span(),
                        "a node with `retries` needs plain parameter names so that it can clone them for each attempt",
                    )),
                },
            }
        }
    }
    common(function, args, errors);
}

/// The checks every instrumenting attribute shares.
fn common<A: AttrArgs>(function: &Function, args: &A, errors: &mut Errors) {
    let sig = &function.sig;
    let common = args.common();
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(
            constness.span,
            format!("#[{}] cannot instrument a `const fn`: a measured call is not a constant expression", A::NAME),
        ));
    }
    if A::DRIVEN && sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            format!("#[{}] needs an `async fn`: its calls are driven as futures", A::NAME),
        ));
    }
    let params = function.params();
    for named in common.skip.iter().chain(&common.reveal) {
        if !params.iter().any(|p| p.ident == *named) {
            let names: Vec<String> = params.iter().map(|p| p.ident.to_string()).collect();
            let hint = crate::suggest::hint(&named.to_string(), names.iter().map(String::as_str));
            errors.push(syn::Error::new(named.span(), format!("`{named}` is not a parameter of this function{hint}")));
        }
    }
    let recorded = common.recorded(&params).count() + common.fields.len();
    let fixed = LEADING_FIELDS.len() + A::EXTRA_FIELDS.len() + TRAILING_FIELDS.len();
    if recorded + fixed > MAX_FIELDS {
        errors.push(syn::Error::new(
            sig.ident.span(),
            format!(
                "too many recorded fields ({recorded}, at most {}); use `skip(...)` or `skip_all`",
                MAX_FIELDS - fixed
            ),
        ));
    }
    if let Some((span, _)) = common.err
        && !function.output_type().is_some_and(is_result)
    {
        errors.push(syn::Error::new(span, "`err` needs a function that returns `Result`"));
    }
    labels(common, errors);
    if let Some(ObjectiveArg::Inline(objective)) = &common.objective {
        inline_objective(objective, errors);
    }
    if let (Some(objective), false) = (&common.objective, common.metrics) {
        let span = match objective {
            ObjectiveArg::Inline(inline) => inline.span,
            ObjectiveArg::Named(path) => path.span(),
        };
        errors.push(syn::Error::new(span, "an objective is measured from the metrics: remove `metrics = false`"));
    }
}

/// The numbers of `objective(...)`: the same rules as `Objective::check` in the
/// runtime (which a named objective goes through at compile time), each on its value.
fn inline_objective(objective: &InlineObjective, errors: &mut Errors) {
    if objective.success.is_none() && objective.latency.is_none() {
        errors.push(syn::Error::new(
            objective.span,
            "an objective needs `success = <percent>` or `latency = \"<duration>\"`, as in `objective(success = 99.9)`",
        ));
    }
    for (key, value) in [("success", objective.success), ("percentile", objective.percentile)] {
        if let Some((span, percent)) = value
            && !(percent > 0.0 && percent < 100.0)
        {
            errors.push(syn::Error::new(
                span,
                format!("`{key}` must be a percentage strictly between 0 and 100, as in `{key} = 99.9`"),
            ));
        }
    }
    if let Some((span, 0)) = objective.latency {
        errors.push(syn::Error::new(span, "the latency threshold must be above zero"));
    }
    if let (Some((span, _)), None) = (objective.percentile, objective.latency) {
        errors.push(syn::Error::new(span, "`percentile` needs a latency threshold: add `latency = \"250ms\"`"));
    }
}

/// Keep in step with `obs_runtime::labels::MAX_LABELS`.
const MAX_LABELS: usize = 8;

/// Label names obs's own series carry (every label of its family table), the
/// names Prometheus gives meaning to (`le`, `quantile`) or sets on every
/// scraped series (`job`, `instance`): a label from an argument must not
/// collide with any of them.
const RESERVED_LABELS: &[&str] = &[
    "function",
    "module",
    "status",
    "error",
    "le",
    "quantile",
    "job",
    "instance",
    "workflow",
    "node",
    "budget",
    "check",
    "metric",
    "level",
    "outcome",
    "category",
    "circuit",
    "from",
    "to",
    "queue",
    "signal",
    "worker",
    "http_request_method",
    "http_response_status_code",
    "http_route",
];

/// `labels(...)`: names in Prometheus' grammar, none reserved or repeated, and metrics on.
fn labels(common: &crate::args::CommonArgs, errors: &mut Errors) {
    let mut seen: Vec<String> = Vec::new();
    for label in &common.labels {
        let name = label.name.value();
        let span = label.name.span();
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`{name}` is not a Prometheus label name: use letters, digits and `_`, not starting with a digit"
                ),
            ));
        } else if name.starts_with("__") {
            errors.push(syn::Error::new(
                span,
                format!("`{name}`: label names starting with `__` are reserved for Prometheus"),
            ));
        } else if RESERVED_LABELS.contains(&name.as_str()) {
            errors.push(syn::Error::new(
                span,
                format!("`{name}` is a label obs or Prometheus already sets on these series; choose another name"),
            ));
        }
        if seen.contains(&name) {
            errors.push(syn::Error::new(span, format!("duplicate label `{name}`")));
        }
        seen.push(name);
    }
    if common.labels.len() > MAX_LABELS
        && let Some(extra) = common.labels.get(MAX_LABELS)
    {
        errors.push(syn::Error::new(
            extra.name.span(),
            format!("at most {MAX_LABELS} labels per function: each one multiplies its series"),
        ));
    }
    if !common.metrics
        && let Some(first) = common.labels.first()
    {
        errors.push(syn::Error::new(first.name.span(), "labels go on the metrics: remove `metrics = false`"));
    }
}
