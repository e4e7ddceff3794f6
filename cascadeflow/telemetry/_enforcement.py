"""Enforcement: what to do with a request given the user's budget (allow, warn, block, degrade).

Names and thresholds follow cascadeflow 1.2.0's ``telemetry.enforcement`` so callbacks
written for it run unchanged; a failing or ill-typed callback is skipped, logged and counted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

logger = logging.getLogger("cascadeflow.enforcement")


class EnforcementAction(Enum):
    """What to do with a request."""

    ALLOW = "allow"
    WARN = "warn"
    BLOCK = "block"
    DEGRADE = "degrade"


@dataclass
class EnforcementContext:
    """What an enforcement callback sees about one request (fields as in cascadeflow 1.2.0).

    ``current_cost`` is the spend in the tightest period (recorded plus reserved),
    ``budget_used_pct`` is on a 0-100 scale, and ``budget_exceeded`` is True when the
    request does not fit in that period. ``scope`` names the scope of that period
    (``"team:search"``) when it is not the user's own budget; ``period_name`` says
    ``"daily cap on gpt-4o"`` for a model cap.

    Example:
        >>> ctx = EnforcementContext(user_id="u1", budget_used_pct=95.0)
        >>> graceful_degradation(ctx)
        <EnforcementAction.DEGRADE: 'degrade'>
    """

    user_id: str
    user_tier: str | None = None
    current_cost: float = 0.0
    estimated_cost: float = 0.0
    total_cost: float = 0.0
    budget_limit: float | None = None
    budget_used_pct: float = 0.0
    budget_exceeded: bool = False
    period_name: str = "total"
    model: str | None = None
    provider: str | None = None
    query: str | None = None
    tokens: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    scope: str | None = None

    def __repr__(self) -> str:
        limit = "none" if self.budget_limit is None else f"${self.budget_limit:.4f}"
        return (
            f"EnforcementContext(user={self.user_id!r}, tier={self.user_tier!r}, "
            f"period={self.period_name}{'' if self.scope is None else ' of ' + self.scope}, "
            f"cost=${self.current_cost:.4f}, limit={limit}, "
            f"used={self.budget_used_pct:.1f}%, exceeded={self.budget_exceeded})"
        )


EnforcementCallback = Callable[[EnforcementContext], EnforcementAction]


class EnforcementCallbacks:
    """An ordered list of enforcement callbacks; the first non-ALLOW answer wins.

    Example:
        >>> callbacks = EnforcementCallbacks()
        >>> callbacks.register(strict_budget_enforcement)
        >>> callbacks.check(EnforcementContext(user_id="u1", budget_exceeded=True))
        <EnforcementAction.BLOCK: 'block'>
    """

    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose
        self.callbacks: list[EnforcementCallback] = []
        self._lock = threading.Lock()
        self._call_count = 0
        self._error_count = 0
        self._invalid_count = 0

    def register(self, callback: EnforcementCallback) -> None:
        """Append ``callback``; it runs after those registered before it."""
        if not callable(callback):
            raise TypeError(f"enforcement callback must be callable, got {callback!r}")
        with self._lock:
            self.callbacks.append(callback)

    def unregister(self, callback: EnforcementCallback) -> None:
        """Remove ``callback`` if registered."""
        with self._lock:
            if callback in self.callbacks:
                self.callbacks.remove(callback)

    def clear(self) -> None:
        """Remove every callback."""
        with self._lock:
            self.callbacks.clear()

    def check(self, context: EnforcementContext) -> EnforcementAction:
        """Run the callbacks in order and return the first non-ALLOW action (else ALLOW)."""
        with self._lock:
            self._call_count += 1
            callbacks = list(self.callbacks)
        for callback in callbacks:
            name = getattr(callback, "__name__", repr(callback))
            try:
                action = callback(context)
            except Exception:
                with self._lock:
                    self._error_count += 1
                logger.exception("enforcement callback %s raised; skipping it", name)
                continue
            if not isinstance(action, EnforcementAction):
                with self._lock:
                    self._invalid_count += 1
                logger.error(
                    "enforcement callback %s returned %r, not an EnforcementAction; skipping it",
                    name, action,
                )
                continue
            if action is not EnforcementAction.ALLOW:
                if self.verbose:
                    logger.info("callback %s returned %s for %r", name, action.value, context)
                return action
        return EnforcementAction.ALLOW

    def get_stats(self) -> dict[str, Any]:
        """Counts: registered callbacks, checks run, callbacks that raised or answered wrongly."""
        with self._lock:
            return {
                "registered_callbacks": len(self.callbacks),
                "total_checks": self._call_count,
                "callback_errors": self._error_count,
                "invalid_results": self._invalid_count,
            }


def strict_budget_enforcement(context: EnforcementContext) -> EnforcementAction:
    """BLOCK when the budget is exceeded, WARN from 80% used, else ALLOW."""
    if context.budget_exceeded:
        return EnforcementAction.BLOCK
    if context.budget_used_pct >= 80.0:
        return EnforcementAction.WARN
    return EnforcementAction.ALLOW


def graceful_degradation(context: EnforcementContext) -> EnforcementAction:
    """BLOCK when exceeded, DEGRADE from 90%, WARN from 80%, else ALLOW."""
    if context.budget_exceeded:
        return EnforcementAction.BLOCK
    if context.budget_used_pct >= 90.0:
        return EnforcementAction.DEGRADE
    if context.budget_used_pct >= 80.0:
        return EnforcementAction.WARN
    return EnforcementAction.ALLOW


def tier_based_enforcement(context: EnforcementContext) -> EnforcementAction:
    """Per tier: free WARN 80/BLOCK exceeded; pro WARN 90/DEGRADE exceeded; enterprise
    WARN 90 and never blocks; any other tier ALLOW."""
    tier = (context.user_tier or "").lower()
    pct = context.budget_used_pct
    if tier == "free":
        if context.budget_exceeded:
            return EnforcementAction.BLOCK
        return EnforcementAction.WARN if pct >= 80.0 else EnforcementAction.ALLOW
    if tier == "pro":
        if context.budget_exceeded:
            return EnforcementAction.DEGRADE
        return EnforcementAction.WARN if pct >= 90.0 else EnforcementAction.ALLOW
    if tier == "enterprise":
        return EnforcementAction.WARN if pct >= 90.0 or context.budget_exceeded else (
            EnforcementAction.ALLOW
        )
    return EnforcementAction.ALLOW


@dataclass(frozen=True, slots=True)
class EnforcementResult:
    """The decision for one request.

    ``model`` is the model to call (another one when ``action`` is DEGRADE),
    ``estimated_cost`` the estimate for that model, ``reason`` a sentence for logs.
    """

    action: EnforcementAction
    model: str
    context: EnforcementContext
    reason: str
    estimated_cost: float = 0.0

    @property
    def allowed(self) -> bool:
        """True unless the request is blocked."""
        return self.action is not EnforcementAction.BLOCK
