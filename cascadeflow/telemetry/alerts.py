"""Budget alerts: what is delivered when spend crosses a threshold, and where it goes.

A :class:`BudgetAlert` is claimed in the store before it is delivered, so each one reaches
the sinks once per threshold, period key and scope across every process sharing the store.
Sinks are callables; :class:`LoggingSink` and :class:`WebhookSink` are provided.

Example:
    >>> tracker = CostTracker(alert_thresholds=(0.5, 0.8, 1.0), on_alert=[LoggingSink(), print])
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, TypeAlias

from cascadeflow.telemetry._webhook import WebhookSink

__all__ = ["ALERT_KINDS", "AlertSink", "BudgetAlert", "LoggingSink", "WebhookSink"]

#: Why an alert fired: a threshold crossed, a period-end projection past the limit, an anomaly.
ALERT_KINDS = ("threshold", "forecast", "anomaly")

logger = logging.getLogger("cascadeflow.alerts")


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """One alert, delivered once.

    Attributes:
        scope: whose budget (``"user:alice"``, ``"team:search"``).
        user_id: the user whose spend triggered it (``None`` for a scope-wide anomaly).
        period: ``"daily"``, ``"weekly"``, ``"monthly"`` or ``"total"``.
        period_key: the period's key (``"monthly:2026-11"``); the next period alerts again.
        threshold: the fraction of the limit crossed (``1.0`` for a forecast past the limit;
            the anomaly's z-score for an anomaly).
        spent: USD spent in the period when it fired.
        limit: the period's USD limit (``0.0`` when there is none, for anomalies).
        used_pct: ``100 * spent / limit``.
        kind: ``"threshold"``, ``"forecast"`` or ``"anomaly"``.
        projected: the period-end projection (forecast alerts).
        runs_out_on: the day the projection reaches the limit (forecast alerts).
        details: anything else (an anomaly's expected value and severity).

    Example:
        >>> alert.kind, alert.threshold, alert.period_key
        ('threshold', 0.8, 'monthly:2026-11')
    """

    scope: str
    user_id: str | None
    period: str
    period_key: str
    threshold: float
    spent: float
    limit: float
    used_pct: float
    kind: str = "threshold"
    projected: float | None = None
    runs_out_on: date | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """One sentence for a chat channel or a log line."""
        if self.kind == "forecast":
            when = f" on {self.runs_out_on.isoformat()}" if self.runs_out_on else ""
            return (f"{self.scope}: {self.period} spend is projected to reach "
                    f"${self.projected or 0.0:.2f} of ${self.limit:.2f} ({self.period_key}); "
                    f"the budget runs out{when}")
        if self.kind == "anomaly":
            return (f"{self.scope}: unusual spend on {self.period_key}: ${self.spent:.2f} "
                    f"(expected ${self.details.get('expected', 0.0):.2f}, "
                    f"{self.details.get('severity', '')})")
        return (f"{self.scope}: {self.used_pct:.0f}% of the {self.period} budget used "
                f"(${self.spent:.2f} of ${self.limit:.2f}, {self.period_key})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with ``text`` (Slack-compatible) added."""
        data = asdict(self)
        if self.runs_out_on is not None:
            data["runs_out_on"] = self.runs_out_on.isoformat()
        data["text"] = self.text()
        return data


#: A sink: called with each alert once it is claimed.
AlertSink: TypeAlias = Callable[[BudgetAlert], object]
#: What ``CostTracker(on_alert=...)`` accepts: one sink, several, or none.
AlertSinks: TypeAlias = "AlertSink | Sequence[AlertSink] | None"


class LoggingSink:
    """Logs each alert at WARNING on the ``cascadeflow.alerts`` logger (or ``logger``).

    Example:
        >>> tracker = CostTracker(alert_thresholds=(0.8,), on_alert=LoggingSink())
    """

    def __init__(self, logger_: logging.Logger | None = None,
                 level: int = logging.WARNING) -> None:
        self.logger = logger_ or logger
        self.level = level

    def __call__(self, alert: BudgetAlert) -> None:
        self.logger.log(self.level, "budget alert (%s): %s", alert.kind, alert.text())


def sinks_of(on_alert: AlertSinks) -> tuple[AlertSink, ...]:
    """``on_alert`` as a tuple of callables (a clear error for anything else)."""
    if on_alert is None:
        return ()
    if callable(on_alert):
        return (on_alert,)
    sinks = tuple(on_alert)
    for sink in sinks:
        if not callable(sink):
            raise ValueError(f"on_alert must be callables, got {sink!r}")
    return sinks
