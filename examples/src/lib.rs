//! Runnable examples of obs; see the files beside this crate.
