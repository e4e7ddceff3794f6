#!/usr/bin/env bash
# The suite against the newest LiteLLM the package index serves (the second half of `make test`).
#
# Builds .venv-latest with cascadeflow's dev tools and the newest litellm, tries the proxy extra
# at that same version, and runs every test that can run there. Tests that cannot (the live
# proxy tests when litellm[proxy] does not install) are named in the output with the reason,
# never dropped silently. The pinned LiteLLM of constraints.txt is tested by `make test` itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=.venv-latest
PY="$VENV/bin/python"
export LITELLM_LOCAL_MODEL_COST_MAP=True

if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q -e ".[dev,bench]"
    "$PY" -m pip install -q --upgrade "litellm!=1.82.7,!=1.82.8"
    version="$("$PY" -c 'import importlib.metadata as m; print(m.version("litellm"))')"
    if "$PY" -m pip install -q "litellm[proxy]==$version" >"$VENV/proxy-install.log" 2>&1; then
        echo "installed" > "$VENV/.proxy"
    else
        reason="$(grep -m1 -E 'No matching distribution|Could not find a version' \
            "$VENV/proxy-install.log" || echo 'see .venv-latest/proxy-install.log')"
        echo "litellm[proxy]==$version does not install from this index: $reason" > "$VENV/.proxy"
    fi
    touch "$VENV/.installed"
fi

version="$("$PY" -c 'import importlib.metadata as m; print(m.version("litellm"))')"
echo "== the suite against the newest LiteLLM on the index: $version"
if [ "$(cat "$VENV/.proxy")" = "installed" ]; then
    "$PY" -m pytest "$@"
else
    echo "NOT RUN on LiteLLM $version: the live proxy tests (pytest -m proxy):"
    "$PY" -m pytest -q --collect-only -m proxy | grep '::' | sed 's/^/    /' || true
    echo "    because $(cat "$VENV/.proxy")"
    "$PY" -m pytest -m "not proxy" "$@"
fi
