//! What the generated code calls. Hidden and unstable: only the macros of
//! this version may use it.

pub use crate::call::{Completion, Guard, Observed};
pub use crate::callsite::{CATALOG, CallSite, Info, Kind};
pub use crate::error::{
    ErrorMessage, ErrorProbe, KindViaErrorKind, KindViaTypeName, MessageViaDebug, MessageViaDisplay, MessageViaError,
    MessageViaNothing,
};
pub use linkme;

/// What `#[derive(HealthCheck)]` expands to.
#[cfg(feature = "health")]
pub mod health {
    pub use crate::health::{Check, CheckResult, Component, HealthCheck, check_group};
}
pub use tracing::field::{Value, debug, display};
pub use tracing_core::Level;

/// Pins a future's output type to the function's declared one, so that the
/// generated classifier is type-checked against concrete types.
#[inline(always)]
pub fn output_is<T, F: core::future::Future<Output = T>>(future: F) -> F {
    future
}

/// Runs a function's body, given as a `move` closure so that `return` stays
/// inside it. Requiring `FnOnce` makes the closure `FnOnce`, so the body may
/// return a borrow through a captured `&mut` (`&mut self.field`).
#[inline(always)]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// The value recorded for parameters whose names look like credentials.
pub const REDACTED: &str = "[redacted]";

/// Records an argument through its `Debug` form. The return type does not
/// mention `T`, so an argument that is not `Debug` gets the one error of the
/// `RecordArg` bound, on the argument, rather than a second one on the attribute.
#[inline]
pub fn arg<'a, T: RecordArg + 'a>(value: &'a T) -> tracing::field::DebugValue<&'a (dyn std::fmt::Debug + 'a)> {
    tracing::field::debug(value)
}

/// Implemented for every `Debug` type: the bound that explains itself when an
/// argument cannot be recorded.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded on the span because it does not implement `Debug`",
    label = "this argument is recorded on the span",
    note = "leave it out with `#[observe(skip(name_of_this_argument))]`, or derive `Debug` for it"
)]
pub trait RecordArg: std::fmt::Debug {}
impl<T: std::fmt::Debug + ?Sized> RecordArg for T {}
