# Two entry points for a fresh machine with only Python 3.10+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo test bench lint typecheck install redis postgres peers clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,bench]" -c constraints.txt
	touch $@

install: $(VENV)/.installed

redis:
	@command -v redis-server >/dev/null 2>&1 || bash scripts/install_redis.sh

postgres:
	@bash scripts/install_postgres.sh

demo: install
	$(VENV)/bin/cascadeflow demo

lint: install
	$(VENV)/bin/ruff check cascadeflow scripts tests benchmarks examples
	$(VENV)/bin/mypy

test: install redis postgres lint
	$(VENV)/bin/cascadeflow sync-pricing --check
	$(PY) -m pytest

peers:
	@test -x .venv-peers/bin/python || $(PYTHON) -m venv .venv-peers
	@.venv-peers/bin/python -c "import cascadeflow, l0" 2>/dev/null || \
		.venv-peers/bin/python -m pip install -q "cascadeflow==1.2.0" ai2070-l0 json-repair

bench: install redis postgres peers
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .venv-peers .mypy_cache .ruff_cache
