"""The ledger: per-user costs, calendar budgets, reservations, enforcement and degradation.

Example:
    >>> from cascadeflow.telemetry import BudgetConfig, CostTracker
    >>> tracker = CostTracker(user_budgets={"free": BudgetConfig(daily=0.10)})
    >>> tracker.can_afford("u1", 0.01, user_tier="free")
    True
"""

from __future__ import annotations

from typing import Any

from cascadeflow._entry import CostEntry
from cascadeflow._exceptions import BudgetExceededError
from cascadeflow.telemetry._budget import PERIODS, BudgetConfig, RateLimit
from cascadeflow.telemetry._budget_guard import BudgetGuard
from cascadeflow.telemetry._enforcement import (
    EnforcementAction,
    EnforcementCallback,
    EnforcementCallbacks,
    EnforcementContext,
    EnforcementResult,
    graceful_degradation,
    strict_budget_enforcement,
    tier_based_enforcement,
)
from cascadeflow.telemetry._observers import (
    CompletionFinished,
    EnforcementDecided,
    EntryRecorded,
    LedgerEvent,
    LedgerObserver,
    ReservationRefused,
    add_ledger_hook,
    ledger_hook_failures,
    ledger_hooks,
    remove_ledger_hook,
)
from cascadeflow.telemetry._reservation import Reservation
from cascadeflow.telemetry._scope import SCOPE_KINDS, Scope
from cascadeflow.telemetry._tracker import CostTracker
from cascadeflow.telemetry.alerts import BudgetAlert, LoggingSink, WebhookSink
from cascadeflow.telemetry.anomaly import (
    Anomaly,
    AnomalyDetector,
    AnomalySeverity,
    create_anomaly_alerts,
)
from cascadeflow.telemetry.forecasting import CostForecaster, CostPrediction, PeriodForecast

__all__ = [
    "DEFAULT_DEGRADATION_MAP",
    "PERIODS",
    "SCOPE_KINDS",
    # spend intelligence
    "Anomaly",
    "AnomalyDetector",
    "AnomalySeverity",
    "BudgetAlert",
    "BudgetConfig",
    "BudgetExceededError",
    "BudgetGuard",
    "CostEntry",
    "CostForecaster",
    "CostPrediction",
    "CostTracker",
    "EnforcementAction",
    "EnforcementCallback",
    "EnforcementCallbacks",
    "EnforcementContext",
    "EnforcementResult",
    "LoggingSink",
    "PeriodForecast",
    "RateLimit",
    "Reservation",
    "Scope",
    "WebhookSink",
    "create_anomaly_alerts",
    "estimate_cost_savings",
    "get_cheaper_model",
    "get_degradation_chain",
    "graceful_degradation",
    "strict_budget_enforcement",
    "tier_based_enforcement",
]
# Observer seam (issue 11).
__all__ += [
    "CompletionFinished",
    "EnforcementDecided",
    "EntryRecorded",
    "LedgerEvent",
    "LedgerObserver",
    "ReservationRefused",
    "add_ledger_hook",
    "ledger_hook_failures",
    "ledger_hooks",
    "remove_ledger_hook",
]

_DEGRADATION_NAMES = {"DEFAULT_DEGRADATION_MAP", "get_cheaper_model", "get_degradation_chain",
                      "estimate_cost_savings"}


def __getattr__(name: str) -> Any:
    # Degradation reads the price book; load it only when asked for.
    if name in _DEGRADATION_NAMES:
        from cascadeflow.telemetry import _degradation

        return getattr(_degradation, name)
    raise AttributeError(f"module 'cascadeflow.telemetry' has no attribute {name!r}")
