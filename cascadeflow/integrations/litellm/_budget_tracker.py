"""``LiteLLMBudgetTracker``: the simple per-user spend-limit API, kept on a ``CostTracker``.

Each user gets one total budget; costs come from a LiteLLM response's usage (or explicit
token counts) priced like every other entry, so the state persists with the tracker's store.
"""

from __future__ import annotations

from typing import Any

from cascadeflow.telemetry import BudgetConfig, CostTracker

from ._metering import Meter
from ._stats import StatsRecorder
from ._usage import response_cost_of, usage_tokens

__all__ = ["LiteLLMBudgetTracker"]


class LiteLLMBudgetTracker:
    """Per-user spend limits over a :class:`~cascadeflow.telemetry.CostTracker`.

    Args:
        tracker: the ledger to keep spend in (default: a new in-memory ``CostTracker``).

    Example:
        >>> budgets = LiteLLMBudgetTracker()
        >>> budgets.set_user_budget("u1", 5.00)
        >>> budgets.update_cost("u1", "gpt-4o-mini", prompt_tokens=1000, completion_tokens=200)
        0.00027
        >>> budgets.get_user_budget("u1")["remaining"]
        4.99973

    .. versionadded:: 0.1.0
    """

    def __init__(self, tracker: CostTracker | None = None) -> None:
        self.tracker = tracker if tracker is not None else CostTracker()
        self._meter = Meter(self.tracker, StatsRecorder(), enforce=False)

    def set_user_budget(self, user: str, max_budget: float) -> None:
        """Give ``user`` a total (never resetting) budget of ``max_budget`` USD."""
        self.tracker.set_user_budget(user, BudgetConfig(total=max_budget))

    def update_cost(
        self,
        user: str,
        model: str,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        response: Any = None,
    ) -> float:
        """Record one call's cost for ``user`` and return it (USD).

        With ``response`` its usage (and LiteLLM's ``response_cost``) win over the token
        arguments.
        """
        cost: float | None = None
        if response is not None:
            found = usage_tokens(response)
            if found is not None:
                prompt_tokens, completion_tokens = found
            cost = response_cost_of({}, response)
        if cost is None:
            cost = self._meter.price(model, prompt_tokens, completion_tokens)
        self.tracker.add_cost(
            model, self._meter.provider(model), prompt_tokens + completion_tokens, cost,
            user_id=user, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            metadata={"source": "litellm_budget_tracker"})
        return cost

    def _spent(self, user: str) -> float:
        return float(self.tracker.get_user_summary(user)["total_cost"])

    def get_user_budget(self, user: str) -> dict[str, Any]:
        """``{"max_budget", "current_cost", "remaining", "exceeded"}`` for ``user``.

        ``max_budget`` and ``remaining`` are None for a user without a budget.
        """
        budget = self.tracker.get_user_budget(user)
        limit = budget.total if budget is not None else None
        spent = self._spent(user)
        remaining = None if limit is None else max(limit - spent, 0.0)
        return {
            "max_budget": limit,
            "current_cost": spent,
            "remaining": remaining,
            "exceeded": limit is not None and spent >= limit,
        }

    def can_user_afford(self, user: str, estimated_cost: float) -> bool:
        """True when ``estimated_cost`` more fits in every configured period of ``user``."""
        return self.tracker.can_afford(user, estimated_cost)

    def reset_user_budget(self, user: str) -> None:
        """Start ``user`` from zero spend: records a refund of what they spent, kept in the
        ledger like every entry (the history stays)."""
        spent = self._spent(user)
        if spent:
            self.tracker.add_cost("budget-reset", "cascadeflow", 0, -spent, user_id=user,
                                  metadata={"source": "litellm_budget_tracker", "reset": True})
