//! What the generated code calls. Hidden and unstable: only the macros of
//! this version may use it.

pub use crate::call::{Completion, End, Guard, Observed, Outcome};
pub use crate::callsite::{CATALOG, CallSite, Info, Kind};
pub use crate::error::{ErrorMessage, ErrorProbe};
pub use crate::labels::{Bounded, Dim, LabelDigit, LabelRef, LabelSite, LabelValue, UNLABELLED, Witness};

/// The autoref probes that pick an error's kind and message. The generated
/// code brings them into scope with one glob import where it classifies an
/// error: the probe must be called there, on the concrete error type, for the
/// most specific impl to win.
pub mod probe {
    pub use crate::error::{
        KindViaErrorKind, KindViaTypeName, MessageViaDebug, MessageViaDisplay, MessageViaError, MessageViaNothing,
    };
}
pub use crate::workflow::budget::BudgetExceeded;
pub use crate::workflow::{
    FlowCompletion, FlowSite, NodeCall, NodeOptions, Once, Repeat, TimeoutError, WorkflowOptions, WorkflowRun,
};
pub use linkme;

/// Registers the call site `$site` in [`CATALOG`], as `linkme`'s
/// `#[distributed_slice(CATALOG)]` on the element would, minus what that
/// attribute adds per element to a user's build: a proc-macro call and an
/// uncalled type-check function with two closures (type-checked and
/// borrow-checked for every instrumented function). It hands the element
/// straight to the `macro_rules` that `linkme` declares beside the slice, which
/// puts it in the slice's link section on every platform `linkme` supports
/// (`#[used]` and `link_section`). That macro's protocol is `linkme`'s own
/// (hence the exact version in the workspace); the element's type is written
/// here, beside [`CATALOG`]'s declaration, rather than checked per element.
#[doc(hidden)]
#[macro_export]
macro_rules! __obs_register_call_site {
    ($site:ident) => {
        $crate::__private::CATALOG! {
            #![linkme_macro = $crate::__private::CATALOG]
            static __OBS_CATALOG_ENTRY: &'static $crate::__private::CallSite = &$site;
        }
    };
}
pub use __obs_register_call_site as register;

pub use crate::ops::objective::Objective;

/// A named objective (`objective = NAME`), checked where the call site's
/// static is built: at compile time, so an out-of-range number fails the
/// build with the check's message and never runs.
pub const fn checked_objective(objective: Objective) -> Objective {
    match objective.check() {
        Ok(()) => objective,
        Err(problem) => panic!("{}", problem),
    }
}

/// What `#[derive(HealthCheck)]` expands to.
#[cfg(feature = "health")]
pub mod health {
    pub use crate::health::{Check, CheckResult, Component, HealthCheck, check_group};
}
pub use tracing::field::{Value, debug, display};
pub use tracing_core::Level;

/// Runs a function's body, given as a `move` closure so that `return` and `?`
/// stay inside it (the generated code inlines bodies that have neither). Requiring `FnOnce` makes the closure `FnOnce`, so the body may
/// return a borrow through a captured `&mut` (`&mut self.field`).
#[inline(always)]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

pub use crate::log::redact::REDACTED;
use crate::log::redact::{RedactFields, RedactUrls};

pub use crate::span_arg::{arg, self_arg};

/// Records a `str` or `String` argument with the userinfo and query values of
/// the URLs in it replaced.
#[inline]
pub fn text_arg<T: AsRef<str> + ?Sized>(value: &T) -> tracing::field::DisplayValue<RedactUrls<'_>> {
    tracing::field::display(RedactUrls(value.as_ref()))
}

/// Records a returned value (`ret`) through `Debug`, credential-like fields replaced.
#[inline]
pub fn ret_debug<T: std::fmt::Debug>(value: &T) -> tracing::field::DebugValue<RedactFields<'_, T>> {
    tracing::field::debug(RedactFields(value))
}

/// `::core::time::Duration` for the options the macros compute at compile time.
pub use core::time::Duration;

/// Implemented by every error type a budget error converts into: the bound that
/// explains itself when a `#[workflow]` with budgets returns an error without it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` must implement `From<obs_runtime::workflow::budget::BudgetExceeded>` because this workflow has budgets",
    label = "a run that exceeds a budget fails with this error type",
    note = "add `impl From<obs_runtime::workflow::budget::BudgetExceeded> for {Self}`, for example as a variant of your error enum"
)]
pub trait FromBudgetExceeded: From<BudgetExceeded> {}
impl<E: From<BudgetExceeded>> FromBudgetExceeded for E {}

/// Converts a budget error into the workflow's error type.
#[inline]
pub fn budget_error<E: FromBudgetExceeded>(error: BudgetExceeded) -> E {
    E::from(error)
}

/// Implemented by every error type a timeout converts into.
#[diagnostic::on_unimplemented(
    message = "`{Self}` must implement `From<obs_runtime::workflow::TimeoutError>` because this node has a `timeout`",
    label = "an attempt that runs over fails with this error type",
    note = "add `impl From<obs_runtime::workflow::TimeoutError> for {Self}`, for example as a variant of your error enum"
)]
pub trait FromTimeoutError: From<TimeoutError> {}
impl<E: From<TimeoutError>> FromTimeoutError for E {}

/// Converts a timeout into the node's error type.
#[inline]
pub fn timeout_error<E: FromTimeoutError>(error: TimeoutError) -> E {
    E::from(error)
}

/// Implemented by every `Clone` type: the bound that explains itself when a
/// node with `retries` takes an argument it cannot clone for the next attempt.
#[diagnostic::on_unimplemented(
    message = "`{Self}` must be `Clone` because `#[node(retries = ..)]` runs the node again with a clone of this argument",
    label = "this argument is cloned for every attempt",
    note = "derive or implement `Clone` for it, pass it behind an `Arc`, or remove `retries`"
)]
pub trait RetryArg: Clone {}
impl<T: Clone> RetryArg for T {}

/// Clones an argument of a node with retries for its next attempt.
#[inline]
pub fn clone_arg<T: RetryArg>(value: &T) -> T {
    value.clone()
}

pub use crate::mlflow::Tracking;

/// The MLflow side of a `#[workflow(mlflow(...))]` call: its experiment and its
/// parameters, rendered now (before the body owns the arguments) and only
/// when tracking is on; handed to [`WorkflowRun::tracked`].
#[inline]
pub fn mlflow_tracking(
    experiment: ::core::option::Option<&'static str>,
    params: &[(&'static str, &dyn std::fmt::Display)],
) -> Option<Tracking> {
    crate::mlflow::tracking(experiment, params)
}

/// A parameter logged through `Display` (`params(name)`).
#[inline]
pub fn mlflow_param<T: MlflowParam + ?Sized>(value: &T) -> &dyn std::fmt::Display {
    value.as_display()
}

/// A parameter logged through `Debug` (`params(name: debug)`), credential-like fields inside it replaced.
#[inline]
pub fn mlflow_debug_param<T: std::fmt::Debug>(value: &T) -> DebugParam<'_> {
    DebugParam(RedactFields(value as &dyn std::fmt::Debug))
}

/// Shows a `Debug` value where a `Display` one is expected.
pub struct DebugParam<'a>(RedactFields<'a, dyn std::fmt::Debug + 'a>);

impl std::fmt::Display for DebugParam<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Implemented for every `Display` type: the bound that explains itself when a
/// parameter cannot be logged.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be logged as an MLflow parameter because it does not implement `Display`",
    label = "this argument is logged as a parameter of the MLflow run",
    note = "log it through `Debug` with `mlflow(params(name_of_this_argument: debug))`, or implement `Display` for it"
)]
pub trait MlflowParam {
    #[doc(hidden)]
    fn as_display(&self) -> &dyn std::fmt::Display;
}
impl<T: std::fmt::Display> MlflowParam for T {
    fn as_display(&self) -> &dyn std::fmt::Display {
        self
    }
}

/// Implemented by every type a `labels(...)` value may have: the bound that
/// explains itself when a label's value has some other type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a metric label: its values are not bounded",
    label = "this label's value",
    note = "derive `obs_runtime::LabelValue` on a fieldless enum (its variants are the values), or pass a `&str` or `String` (capped at run time by `Builder::label_values_limit`)"
)]
pub trait LabelArg: LabelDigit {}
impl<T: LabelDigit + ?Sized> LabelArg for T {}

/// One label's value, checked where the user wrote it. The return type does
/// not mention `T`, so a wrong type gets the one error of the `LabelArg` bound.
#[inline(always)]
pub fn label_arg<T: LabelArg + ?Sized>(value: &T) -> LabelRef<'_> {
    LabelRef::of(value)
}

/// A label value's kind, carried in a type only (for [`label_dim`]): the
/// kind, not the value's type, which may borrow from the arguments. Found
/// through an autoref probe (`(&LabelProbe(&value)).obs_label_kind()`, with
/// [`label_probe`]'s traits in scope), so that a value of a wrong type, which
/// `label_arg` already reports, gets no second error here.
pub struct LabelProbe<'a, T: ?Sized>(pub &'a T);

/// The two ways [`LabelProbe`] finds a value's kind: from its `LabelDigit`
/// impl, or, for a type without one, a stand-in that is never used (the
/// build fails on `label_arg`).
pub mod label_probe {
    use super::{LabelDigit, LabelProbe, Witness};
    use crate::labels::Text;

    pub trait KindViaDigit {
        type Kind: ?Sized;
        fn obs_label_kind(&self) -> Witness<Self::Kind>;
    }
    impl<T: LabelDigit + ?Sized> KindViaDigit for LabelProbe<'_, T> {
        type Kind = T::Kind;
        #[inline(always)]
        fn obs_label_kind(&self) -> Witness<T::Kind> {
            Witness::new()
        }
    }

    pub trait KindViaNothing {
        fn obs_label_kind(&self) -> Witness<Text>;
    }
    impl<T: ?Sized> KindViaNothing for &LabelProbe<'_, T> {
        #[inline(always)]
        fn obs_label_kind(&self) -> Witness<Text> {
            Witness::new()
        }
    }
}

/// The value set of one label, read in the call site's static from a closure
/// that is never called: its return type names the value's kind, so a site
/// whose parameter types the macro can name in a static knows every series at `init`.
pub const fn label_dim<A, K: crate::labels::LabelKind, F: Fn(A) -> Witness<K>>(f: F) -> Dim {
    ::core::mem::forget(f);
    K::DIM
}

/// The `retry_if` predicate of a `#[node]`, called with each error of a failed
/// attempt. A function pointer rather than an `Fn` bound: a function of another
/// shape is then a type mismatch that spells the expected signature with the
/// node's own error type (`expected fn pointer for<'a> fn(&'a StepError) -> bool`).
#[inline]
pub fn retry_if<E>(error: &E, predicate: fn(&E) -> bool) -> bool {
    predicate(error)
}
