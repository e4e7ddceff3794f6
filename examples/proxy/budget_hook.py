"""The cascadeflow callback LiteLLM's proxy loads from config.yaml (``budget_hook.callback``).

Configured from the environment so one config serves the example and the tests:

* ``CASCADEFLOW_LEDGER``: the SQLite ledger file (default ``cascadeflow-proxy-ledger.db``),
  or a ``postgresql://`` DSN to keep the ledger in PostgreSQL (e.g. the proxy's own database;
  the ledger's tables live in their own ``cascadeflow`` schema);
* ``CASCADEFLOW_USER_BUDGETS``: daily USD budgets, ``"alice=0.0005,bob=1.0"``;
* ``CASCADEFLOW_ENFORCEMENT``: ``block`` (default), ``degrade`` or ``warn``;
* ``CASCADEFLOW_PROMETHEUS_PORT``: when set, the proxy serves cascadeflow's OpenTelemetry
  metrics (GenAI token usage, cost, budget decisions) on ``/metrics`` at that port.
"""

from __future__ import annotations

import os

from cascadeflow.integrations.litellm import CascadeFlowLiteLLMCallback
from cascadeflow.storage import LedgerStore, PostgresStore, SQLiteStore
from cascadeflow.telemetry import BudgetConfig, CostTracker


def _budgets(spec: str) -> dict[str, BudgetConfig]:
    budgets: dict[str, BudgetConfig] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        user, _, amount = item.partition("=")
        budgets[user.strip()] = BudgetConfig(daily=float(amount))
    return budgets


def open_ledger(where: str) -> LedgerStore:
    """A PostgresStore for a ``postgresql://`` DSN, else a SQLiteStore on that file."""
    if where.startswith(("postgresql://", "postgres://")):
        return PostgresStore(where)
    return SQLiteStore(where)


tracker = CostTracker(
    enforcement_mode=os.environ.get("CASCADEFLOW_ENFORCEMENT", "block"),
    store=open_ledger(os.environ.get("CASCADEFLOW_LEDGER", "cascadeflow-proxy-ledger.db")),
)
for _user, _budget in _budgets(os.environ.get("CASCADEFLOW_USER_BUDGETS", "")).items():
    tracker.set_user_budget(_user, _budget)

callback = CascadeFlowLiteLLMCallback(tracker)

_metrics_port = os.environ.get("CASCADEFLOW_PROMETHEUS_PORT")
if _metrics_port:
    from cascadeflow.integrations.otel import serve_prometheus

    metrics_endpoint = serve_prometheus(port=int(_metrics_port))
