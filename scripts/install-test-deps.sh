#!/usr/bin/env bash
# Installs the real tools the integration tests run against, when missing.
# Idempotent; called by scripts/test.sh and by .ci/run. Debian/Ubuntu packages.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

missing=()
# --- Prometheus (prometheus + promtool) -------------------------------------
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)

if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing test dependencies: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- health checks (obs-runtime/tests/health_pg_redis.rs) -------------------
# PostgreSQL and Redis binaries only: the tests run initdb/pg_ctl and
# redis-server themselves on free ports in temporary directories. No system
# service is started (policy-rc.d forbids it while installing).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
    echo "installing test dependencies: postgresql redis-server"
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql redis-server util-linux >/dev/null
    $SUDO rm -f /usr/sbin/policy-rc.d
fi
# --- end health checks --------------------------------------------------------
