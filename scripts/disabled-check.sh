#!/usr/bin/env bash
# The compile-time off switch (`obs-runtime/disabled`), checked on a real
# binary: ci/disabled-check (outside the workspace, so that the workspace's
# `--all-features` test build keeps obs on) is built with and without it. Both
# builds must print the same results; the enabled build has obs call sites in
# its symbols and in its catalog, the disabled build has none of either.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
CRATE=$REPO/ci/disabled-check
# Its own target directory, beside the workspace's: the two feature sets would
# otherwise rebuild obs-runtime in turn.
export CARGO_TARGET_DIR=${DISABLED_CHECK_TARGET:-$REPO/target/disabled-check}
# The workspace's lock file pins the versions the project builds with.
cp "$REPO/Cargo.lock" "$CRATE/Cargo.lock"
trap 'rm -f "$CRATE/Cargo.lock"' EXIT

run() { # features -> "stdout|stderr|call-site symbols"
    local features=$1 bin
    cargo build -q --manifest-path "$CRATE/Cargo.toml" ${features:+--features "$features"}
    bin=$CARGO_TARGET_DIR/debug/obs-disabled-check
    "$bin" >"$CARGO_TARGET_DIR/out-${features:-on}.txt" 2>"$CARGO_TARGET_DIR/err-${features:-on}.txt"
    # `static __OBS_CALLSITE` (and `__OBS_FLOW`) of each annotated function.
    nm -C "$bin" | grep -c '__OBS_CALLSITE\|__OBS_FLOW' || true
}

on_symbols=$(run "")
off_symbols=$(run off)
on_out=$CARGO_TARGET_DIR/out-on.txt
off_out=$CARGO_TARGET_DIR/out-off.txt
echo "enabled:  $(cat "$CARGO_TARGET_DIR/err-on.txt"), $on_symbols call-site symbols"
echo "disabled: $(cat "$CARGO_TARGET_DIR/err-off.txt"), $off_symbols call-site symbols"
fail=0
if ! diff -u "$on_out" "$off_out"; then
    echo "FAIL: the application behaves differently with obs compiled out" >&2
    fail=1
fi
if [[ $on_symbols -eq 0 || $(cat "$CARGO_TARGET_DIR/err-on.txt") == "catalog = 0" ]]; then
    echo "FAIL: the enabled build has no call sites (the check could not fail)" >&2
    fail=1
fi
if [[ $off_symbols -ne 0 || $(cat "$CARGO_TARGET_DIR/err-off.txt") != "catalog = 0" ]]; then
    echo "FAIL: obs call sites remain with obs-runtime/disabled" >&2
    nm -C "$CARGO_TARGET_DIR/debug/obs-disabled-check" | grep '__OBS_CALLSITE\|__OBS_FLOW' | head >&2
    fail=1
fi
cat "$off_out"
exit $fail
