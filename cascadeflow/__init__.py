"""cascadeflow: per-user LLM budgets on top of LiteLLM, and dependable token streams (L0).

Example:
    >>> from cascadeflow import BudgetConfig, CostTracker
    >>> tracker = CostTracker(user_budgets={"free": BudgetConfig(daily=0.10)},
    ...                       enforcement_mode="block")
    >>> tracker.can_afford("user-1", 0.02, user_tier="free")
    True

The LiteLLM integration lives in :mod:`cascadeflow.integrations.litellm` and the stream
layer in :mod:`cascadeflow.l0`; neither is imported by ``import cascadeflow``.
"""

from __future__ import annotations

from typing import Any

from cascadeflow._exceptions import (
    BudgetExceededError,
    CascadeflowError,
    PricingError,
    ReservationError,
    StoreUnavailableError,
    UnknownModelError,
)
from cascadeflow.storage import LedgerStore, MemoryStore
from cascadeflow.telemetry import (
    PERIODS,
    AnomalyDetector,
    BudgetAlert,
    BudgetConfig,
    BudgetGuard,
    CostEntry,
    CostForecaster,
    CostTracker,
    EnforcementAction,
    EnforcementCallback,
    EnforcementCallbacks,
    EnforcementContext,
    EnforcementResult,
    RateLimit,
    Reservation,
    Scope,
    WebhookSink,
    graceful_degradation,
    strict_budget_enforcement,
    tier_based_enforcement,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_DEGRADATION_MAP",
    "PERIODS",
    # spend intelligence
    "AnomalyDetector",
    "BudgetAlert",
    "BudgetConfig",
    "BudgetExceededError",
    "BudgetGuard",
    "CascadeflowError",
    "CostEntry",
    "CostForecaster",
    "CostTracker",
    "EnforcementAction",
    "EnforcementCallback",
    "EnforcementCallbacks",
    "EnforcementContext",
    "EnforcementResult",
    "LedgerStore",
    "MemoryStore",
    "PostgresStore",
    "PricingError",
    "RateLimit",
    "RedisStore",
    "Reservation",
    "ReservationError",
    "SQLiteStore",
    "Scope",
    "StoreUnavailableError",
    "UnknownModelError",
    "WebhookSink",
    "__version__",
    "estimate_cost_savings",
    "get_cheaper_model",
    "get_degradation_chain",
    "graceful_degradation",
    "strict_budget_enforcement",
    "tier_based_enforcement",
]

_LAZY = {
    "SQLiteStore": "cascadeflow.storage",
    "RedisStore": "cascadeflow.storage",
    "PostgresStore": "cascadeflow.storage",
    "DEFAULT_DEGRADATION_MAP": "cascadeflow.telemetry",
    "get_cheaper_model": "cascadeflow.telemetry",
    "get_degradation_chain": "cascadeflow.telemetry",
    "estimate_cost_savings": "cascadeflow.telemetry",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cascadeflow' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
