//! How an argument is recorded on its span (through its `Debug` form, with
//! credential-like fields redacted), and the bounds that explain themselves
//! when it cannot be. Outside `__private` so that a compile error names these
//! paths, not hidden ones; generated code reaches them through `__private`.
//!
//! The expansion declares, next to each recorded argument, an empty type named
//! like the argument (`struct conn {}`) and passes it as `Name`: that is how the
//! error can say `skip(conn)` rather than a placeholder.

use crate::log::redact::RedactFields;

/// Records argument `Name` through its `Debug` form. The return type does not
/// mention `T`, so an argument that is not `Debug` gets the one error of the
/// [`Recorded`] bound, on the argument, rather than a second one on the attribute.
#[doc(hidden)]
#[inline]
pub fn arg<'a, T: Recorded<Name> + 'a, Name>(
    value: &'a T,
) -> tracing::field::DebugValue<RedactFields<'a, dyn std::fmt::Debug + 'a>> {
    tracing::field::debug(RedactFields(value as &(dyn std::fmt::Debug + 'a)))
}

/// Records `self` (asked for with `reveal(self)`) through its `Debug` form.
#[doc(hidden)]
#[inline]
pub fn self_arg<'a, T: RecordedSelf + 'a>(
    value: &'a T,
) -> tracing::field::DebugValue<RedactFields<'a, dyn std::fmt::Debug + 'a>> {
    tracing::field::debug(RedactFields(value as &(dyn std::fmt::Debug + 'a)))
}

/// Implemented for every `Debug` type: the bound that explains itself, naming
/// the argument, when one cannot be recorded.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "argument `{Name}` cannot be recorded on the span: `{Self}` does not implement `Debug`",
    label = "recorded on the span in its `Debug` form",
    note = "leave it out with `#[observe(skip({Name}))]`, or derive `Debug` for its type"
)]
pub trait Recorded<Name>: std::fmt::Debug {}
impl<T: std::fmt::Debug + ?Sized, Name> Recorded<Name> for T {}

/// [`Recorded`] for `self`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`self` cannot be recorded on the span: `{Self}` does not implement `Debug`",
    label = "recorded because of `reveal(self)`",
    note = "remove `reveal(self)`, or derive `Debug` for the type"
)]
pub trait RecordedSelf: std::fmt::Debug {}
impl<T: std::fmt::Debug + ?Sized> RecordedSelf for T {}
