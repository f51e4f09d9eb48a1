//! Doc comments, attributes, visibility and qualifiers survive `#[observe]`.
#![deny(warnings)]
#![deny(missing_docs, unused_variables, dead_code)]

/// A module whose items are used from outside it.
pub mod api {
    use obs_runtime::observe;

    /// Documented, public: `missing_docs` would fire if the doc were dropped.
    #[observe]
    #[inline]
    #[must_use]
    pub fn public(n: u32) -> u32 {
        n + 1
    }

    /// Visible in the crate only.
    #[observe]
    #[allow(unused_variables)]
    pub(crate) fn crate_visible(unused: u32) {}

    /// Deprecated, and still callable with the lint allowed.
    #[observe]
    #[deprecated(note = "use public")]
    pub fn old() {}

    /// `#[cfg]` on the function still applies.
    #[observe]
    #[cfg(any())]
    pub fn compiled_out() {
        this_does_not_exist()
    }

    /// An `extern "C"` function keeps its ABI.
    #[observe]
    pub extern "C" fn c_abi(n: u32) -> u32 {
        n
    }
}

#[allow(deprecated)]
fn main() {
    assert_eq!(api::public(1), 2);
    api::crate_visible(0);
    api::old();
    assert_eq!(api::c_abi(3), 3);
    let _: extern "C" fn(u32) -> u32 = api::c_abi;
}
