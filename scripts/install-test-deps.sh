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
