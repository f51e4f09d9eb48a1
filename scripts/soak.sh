#!/usr/bin/env bash
# Opt-in soak tests (obs-runtime/tests/soak.rs, `#[ignore]`d), in release mode, within a
# time budget that counts the build too: SOAK_BUDGET_SECONDS (default 900, enough for the
# full durations below on an idle two-core machine). A test still running when the budget
# runs out is killed and fails the script; tests the budget no longer reaches are skipped,
# and the script says which.
#
# Durations and sizes (defaults are the full versions):
#   SOAK_BACKEND_DOWN_SECONDS=60  each of the four backend-down runs (export on/off, 0 B and 64 KB arguments)
#   SOAK_STALL_SECONDS=30         the error storm into an unread stdout
#   SOAK_IDLE=2000 SOAK_SLOW=1000 SOAK_HOLD_SECONDS=20 SOAK_FD_LIMIT=512   connection exhaustion
#   SOAK_NODES=10000000           node executions of the one long workflow run
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
budget="${SOAK_BUDGET_SECONDS:-900}"
started=$SECONDS
# SOAK_PROFILE=debug reuses the test command's debug build (what CI does: the bounds and the
# accounting hold in either; the figures worth reporting come from release).
profile=(--release)
if [[ "${SOAK_PROFILE:-release}" == debug ]]; then
    profile=()
fi
cargo_test=(cargo test "${profile[@]}" -q -p obs-runtime --all-features --test soak)

"${cargo_test[@]}" --no-run
echo "soak: built in $((SECONDS - started)) s of a ${budget} s budget"

tests=(
    soak_long_workflow_run
    soak_stdout_stalled
    soak_connection_exhaustion
    soak_backend_down
    soak_backend_down_64k_arguments
)
skipped=()
for test in "${tests[@]}"; do
    left=$((budget - (SECONDS - started)))
    if ((left < 5)); then
        skipped+=("$test")
        continue
    fi
    test_started=$SECONDS
    if ! timeout --signal=KILL "$left" "${cargo_test[@]}" -- --ignored --exact "$test" --nocapture; then
        echo "soak: $test failed or ran past the budget (after $((SECONDS - test_started)) s)" >&2
        exit 1
    fi
    echo "soak: $test passed in $((SECONDS - test_started)) s"
done
echo "soak: done in $((SECONDS - started)) s${skipped:+; skipped for lack of budget: ${skipped[*]}}"
