//! The compile errors a user sees, and the code that must keep compiling.
//!
//! Snapshots (`ui-tests/fail/*.stderr`) are written by rustc 1.95 (the installed
//! toolchain); regenerate them with `TRYBUILD=overwrite cargo test -p obs-ui-tests`
//! and review the diff: every error must point at the offending token.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    t.compile_fail("fail/*.rs");
}
