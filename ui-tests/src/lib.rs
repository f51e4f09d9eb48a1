//! Compile tests of `#[observe]` and `#[derive(ErrorKind)]`: see `tests/ui.rs`.
