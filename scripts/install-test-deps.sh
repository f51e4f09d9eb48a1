#!/usr/bin/env bash
# Installs the servers and tools the integration tests start themselves.
# Each block is owned by one area; keep them separate.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- health checks (obs-runtime/tests/health_pg_redis.rs) -----------------
# PostgreSQL and Redis binaries only: the tests run initdb/pg_ctl and
# redis-server on free ports in temporary directories. No system service is
# started (policy-rc.d forbids it while installing).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql redis-server util-linux
    $SUDO rm -f /usr/sbin/policy-rc.d
fi
# --- end health checks -----------------------------------------------------
