# Two entry points for a fresh machine with only Python 3.10+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo test test-pinned test-newest bench lint typecheck install redis postgres peers clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,bench,proxy]" -c constraints.txt
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

# The suite twice: on the LiteLLM pinned in constraints.txt (the one pricing.json is exported
# from, with the live proxy tests), then on the newest LiteLLM the index serves.
test: test-pinned test-newest

test-pinned: install redis postgres lint
	@echo "== the suite against the pinned LiteLLM: $$(grep -i '^litellm==' constraints.txt)"
	$(VENV)/bin/cascadeflow sync-pricing --check
	$(PY) -m pytest

test-newest: redis
	PYTHON=$(PYTHON) bash scripts/test_newest_litellm.sh

peers:
	@test -x .venv-peers/bin/python || $(PYTHON) -m venv .venv-peers
	@.venv-peers/bin/python -c "import cascadeflow, l0" 2>/dev/null || \
		.venv-peers/bin/python -m pip install -q "cascadeflow==1.2.0" ai2070-l0 json-repair

bench: install redis postgres peers
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .venv-latest .venv-peers .mypy_cache .ruff_cache
