//! How an error becomes a bounded kind (a metric label) and a message (logs
//! and spans). The generated code picks the richest description the error type
//! supports; this module holds the choices.

use std::error::Error;
use std::fmt;

/// A bounded, low-cardinality name for an error, used as the `error` label of
/// `obs_function_errors_total`.
///
/// Derive it on an error enum to get the variant name in snake_case:
///
/// ```
/// #[derive(Debug, obs_runtime::ErrorKind)]
/// enum FetchError { NotFound, Timeout { after_ms: u64 } }
///
/// use obs_runtime::ErrorKind;
/// assert_eq!(FetchError::NotFound.kind(), "not_found");
/// assert_eq!(FetchError::Timeout { after_ms: 5 }.kind(), "timeout");
/// ```
///
/// Without it, the kind is the error type's short name (`FetchError`).
pub trait ErrorKind {
    /// The kind of this error; must come from a small fixed set.
    fn kind(&self) -> &'static str;
}

/// The short name of a type: `std::io::Error` → `Error`, `Box<dyn Error>` → `Box<dyn Error>`.
pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    // Only strip the path of the outermost type; generic arguments keep their full paths.
    let head = full.split('<').next().unwrap_or(full);
    let start = head.rfind("::").map_or(0, |i| i + 2);
    &full[start..]
}

/// How an error's message is rendered.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum ErrorMessage<'a> {
    /// A `std::error::Error`: its `Display` and its `source()` chain.
    Error(&'a (dyn Error + 'static)),
    Display(&'a dyn fmt::Display),
    Debug(&'a dyn fmt::Debug),
    None,
}

impl fmt::Display for ErrorMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorMessage::Error(e) => fmt::Display::fmt(e, f),
            ErrorMessage::Display(e) => fmt::Display::fmt(e, f),
            ErrorMessage::Debug(e) => fmt::Debug::fmt(e, f),
            ErrorMessage::None => Ok(()),
        }
    }
}

/// Wraps an error so that method resolution picks the best description
/// (autoref specialisation: the generated code calls `(&&&ErrorProbe(e))`).
#[doc(hidden)]
pub struct ErrorProbe<'a, E: ?Sized>(pub &'a E);

impl<E: ?Sized> Clone for ErrorProbe<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E: ?Sized> Copy for ErrorProbe<'_, E> {}

// Methods take `self` by value so that the most referenced impl is tried first.

#[doc(hidden)]
pub trait KindViaErrorKind {
    fn obs_kind(self) -> &'static str;
}
impl<E: ErrorKind + ?Sized> KindViaErrorKind for &ErrorProbe<'_, E> {
    fn obs_kind(self) -> &'static str {
        self.0.kind()
    }
}

#[doc(hidden)]
pub trait KindViaTypeName {
    fn obs_kind(self) -> &'static str;
}
impl<E: ?Sized> KindViaTypeName for ErrorProbe<'_, E> {
    fn obs_kind(self) -> &'static str {
        short_type_name::<E>()
    }
}

#[doc(hidden)]
pub trait MessageViaError<'a> {
    fn obs_message(self) -> ErrorMessage<'a>;
}
impl<'a, E: Error + 'static> MessageViaError<'a> for &&&ErrorProbe<'a, E> {
    fn obs_message(self) -> ErrorMessage<'a> {
        ErrorMessage::Error(self.0)
    }
}

#[doc(hidden)]
pub trait MessageViaDisplay<'a> {
    fn obs_message(self) -> ErrorMessage<'a>;
}
impl<'a, E: fmt::Display> MessageViaDisplay<'a> for &&ErrorProbe<'a, E> {
    fn obs_message(self) -> ErrorMessage<'a> {
        ErrorMessage::Display(self.0)
    }
}

#[doc(hidden)]
pub trait MessageViaDebug<'a> {
    fn obs_message(self) -> ErrorMessage<'a>;
}
impl<'a, E: fmt::Debug> MessageViaDebug<'a> for &ErrorProbe<'a, E> {
    fn obs_message(self) -> ErrorMessage<'a> {
        ErrorMessage::Debug(self.0)
    }
}

#[doc(hidden)]
pub trait MessageViaNothing<'a> {
    fn obs_message(self) -> ErrorMessage<'a>;
}
impl<'a, E: ?Sized> MessageViaNothing<'a> for ErrorProbe<'a, E> {
    fn obs_message(self) -> ErrorMessage<'a> {
        ErrorMessage::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_the_path() {
        assert_eq!(short_type_name::<std::io::Error>(), "Error");
        assert_eq!(short_type_name::<String>(), "String");
        // Generic arguments keep their path, whose exact spelling (`std::io::Error`
        // or `std::io::error::Error`) depends on the toolchain.
        let name = short_type_name::<Vec<std::io::Error>>();
        assert!(name.starts_with("Vec<std::io::") && name.ends_with("Error>"), "{name}");
    }
}
