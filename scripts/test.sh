#!/usr/bin/env bash
# The one test command: installs what the integration tests need, then runs
# every test of the workspace (unit, integration, trybuild UI tests, doc tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo test --workspace --all-features "$@"
