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
# --- Alertmanager (alertmanager + amtool): checks the generated routing (tests/ops_*.rs) ---
command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)

if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing test dependencies: ${missing[*]}"
    # Binaries only: the tests start prometheus and alertmanager themselves on free ports.
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    $SUDO rm -f /usr/sbin/policy-rc.d
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

# --- MLflow (a real OTLP/HTTP trace receiver for tests/otlp_mlflow.rs) -------
# Installed into its own virtual environment so it never touches the system
# Python. OBS_VENV overrides the location; the tests look for
# $OBS_VENV/bin/mlflow (default /opt/obs-venv), then `mlflow` on PATH.
MLFLOW_VERSION="3.17.2"
OBS_VENV="${OBS_VENV:-/opt/obs-venv}"
if [ ! -x "$OBS_VENV/bin/mlflow" ] || ! "$OBS_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mlflow') != '$MLFLOW_VERSION')" 2>/dev/null; then
    echo "installing mlflow==$MLFLOW_VERSION into $OBS_VENV"
    PYTHON="$(command -v python3)"
    if ! "$PYTHON" -c "import venv, ensurepip" 2>/dev/null; then
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        PYTHON=/usr/bin/python3
    fi
    "$PYTHON" -m venv "$OBS_VENV"
    "$OBS_VENV/bin/pip" install --quiet --disable-pip-version-check "mlflow==$MLFLOW_VERSION"
fi

# --- Rotel (a real OpenTelemetry collector: OTLP gRPC and HTTP receivers) ----
# For tests/otlp_collector.rs: gRPC span export and OTLP log export. The
# wheel ships the `rotel-agent` binary; the tests find it in the same venv.
ROTEL_VERSION="0.0.1a15"
if ! "$OBS_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('rotel') != '$ROTEL_VERSION')" 2>/dev/null; then
    echo "installing rotel==$ROTEL_VERSION into $OBS_VENV"
    "$OBS_VENV/bin/pip" install --quiet --disable-pip-version-check "rotel==$ROTEL_VERSION"
fi

# --- prometheus_client (tests/exemplars.rs) ----------------------------------
# The reference client library's OpenMetrics parser, strict where the
# specification is: it checks the OpenMetrics text /metrics serves (the
# Debian promtool predates exemplars in `check metrics`).
PROMETHEUS_CLIENT_VERSION="0.26.0"
if ! "$OBS_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('prometheus_client') != '$PROMETHEUS_CLIENT_VERSION')" 2>/dev/null; then
    echo "installing prometheus_client==$PROMETHEUS_CLIENT_VERSION into $OBS_VENV"
    "$OBS_VENV/bin/pip" install --quiet --disable-pip-version-check "prometheus_client==$PROMETHEUS_CLIENT_VERSION"
fi

# --- TLS terminator (tests/otlp_tls.rs) ---------------------------------------
# stunnel4 in front of the Rotel collector: OTLP over TLS and mutual TLS, with a
# CA and certificates the test makes with the openssl CLI. The test starts
# stunnel itself on free ports (no system service).
if ! command -v stunnel4 >/dev/null 2>&1 && ! command -v stunnel >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
    echo "installing test dependencies: stunnel4 openssl"
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends stunnel4 openssl >/dev/null
    $SUDO rm -f /usr/sbin/policy-rc.d
fi
