"""How :meth:`CostTracker.enforce` turns a user's spend into an action and a model."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cascadeflow._exceptions import UnknownModelError
from cascadeflow._money import to_nanos, to_usd
from cascadeflow.storage import PeriodKey, Usage
from cascadeflow.telemetry._budget import BudgetConfig
from cascadeflow.telemetry._enforcement import (
    EnforcementAction,
    EnforcementContext,
    EnforcementResult,
)
from cascadeflow.telemetry._periods import TOTAL_KEY

if TYPE_CHECKING:
    from cascadeflow.telemetry._scoped import BudgetRow
    from cascadeflow.telemetry._tracker import CostTracker

logger = logging.getLogger("cascadeflow.enforcement")
_unpriced_warned: set[str] = set()


def _unit_price(tracker: CostTracker, model: str) -> float | None:
    price = tracker.pricing.find(model)
    if price is None:
        return None
    return price.input_cost_per_token + price.output_cost_per_token


def estimate_for(tracker: CostTracker, model: str, base_model: str, base_estimate: float | None,
                 prompt_tokens: int | None, max_output_tokens: int | None) -> float | None:
    """The estimated USD cost of the request on ``model``; None when it cannot be priced."""
    if prompt_tokens is not None or max_output_tokens is not None:
        try:
            return tracker.pricing.estimate_cost(model, prompt_tokens or 0, max_output_tokens or 0)
        except UnknownModelError:
            return None
    if base_estimate is None:
        return 0.0
    if model == base_model:
        return base_estimate
    # Only a USD estimate was given: scale it by the two models' per-token prices.
    base_price, price = _unit_price(tracker, base_model), _unit_price(tracker, model)
    if base_price is None or price is None or base_price <= 0:
        return None
    return base_estimate * price / base_price


# A limit as enforcement sees it: (period, limit, used, scope, capped model or None).
_Row = tuple[str, int, int, str | None, str | None]


def _periods(budget: BudgetConfig, keys: tuple[PeriodKey, ...], usage: Usage) -> list[_Row]:
    return [
        (keys[index].period, limit,
         usage.spent_nanos.get(keys[index].key, 0) + usage.reserved_nanos, None, None)
        for index, limit in budget.indexed_limits()
    ]


def _scoped_rows(rows: list[BudgetRow]) -> list[_Row]:
    return [(row.period, row.limit, row.used, str(row.scope), row.model) for row in rows]


def _applying(tracker: CostTracker, periods: list[_Row], model: str) -> list[_Row]:
    """The rows that limit a request for ``model``: every scope's, and the caps on it."""
    if all(row[4] is None for row in periods):
        return periods
    return [row for row in periods
            if row[4] is None or tracker._scoped.model_matches(row[4], model)]


def _fits(periods: list[_Row], amount_nanos: int) -> bool:
    return all(used < limit and used + amount_nanos <= limit
               for _, limit, used, _, _ in periods)


def decide(
    tracker: CostTracker,
    user_id: str,
    model: str,
    estimated_cost: float | None,
    prompt_tokens: int | None,
    max_output_tokens: int | None,
    user_tier: str | None,
    budget: BudgetConfig | None,
    keys: tuple[PeriodKey, ...],
    usage: Usage,
    *,
    rows: list[BudgetRow] | None = None,
) -> EnforcementResult:
    """Build the context from the tightest period, pick the action, resolve degradation.

    ``rows`` (every scope's limits and the model caps, already read) replace the user's
    ``budget``/``usage`` when given.
    """
    if estimated_cost is not None:
        to_nanos(estimated_cost, field="estimated_cost")
    estimate = estimate_for(tracker, model, model, estimated_cost, prompt_tokens,
                            max_output_tokens)
    if estimate is None:
        if model not in _unpriced_warned:
            _unpriced_warned.add(model)
            logger.warning("model %r has no price in the price book; enforcing with an "
                           "estimate of $0 for it", model)
        estimate = 0.0
    estimate_nanos = to_nanos(estimate, field="estimated_cost")
    tokens = None
    if prompt_tokens is not None or max_output_tokens is not None:
        tokens = (prompt_tokens or 0) + (max_output_tokens or 0)
    context = EnforcementContext(
        user_id=user_id,
        user_tier=user_tier,
        estimated_cost=estimate,
        total_cost=to_usd(usage.spent_nanos.get(TOTAL_KEY, 0)),
        model=model,
        tokens=tokens,
    )
    if rows is not None:
        all_periods = _scoped_rows(rows)
    else:
        all_periods = _periods(budget, keys, usage) if budget is not None else []
    periods = _applying(tracker, all_periods, model)
    if periods:
        def pressure(item: _Row) -> tuple[bool, float]:
            _, limit, used, _, _ = item
            over = used >= limit or used + estimate_nanos > limit
            return over, (used / limit if limit else 1.0)

        name, limit, used, scope, capped = max(periods, key=pressure)
        context.period_name = name if capped is None else f"{name} cap on {capped}"
        if scope is not None:
            context.scope = scope
        context.budget_limit = to_usd(limit)
        context.current_cost = to_usd(used)
        context.budget_used_pct = 100.0 * used / limit if limit else 100.0
        context.budget_exceeded = not _fits(periods, estimate_nanos)

    if tracker.enforcement_callbacks is not None:
        action = tracker.enforcement_callbacks.check(context)
        source = "enforcement callbacks"
    else:
        action = _mode_action(tracker, context, has_budget=bool(periods))
        source = f"enforcement_mode={tracker.enforcement_mode!r}"

    if action is EnforcementAction.DEGRADE:
        return _degrade(tracker, context, all_periods, model, estimated_cost, prompt_tokens,
                        max_output_tokens, estimate, source)
    if action is EnforcementAction.BLOCK:
        reason = (f"blocked by {source}: {_whose(context)}{context.period_name} budget "
                  f"${context.budget_limit} used {context.budget_used_pct:.1f}%, "
                  f"request ~${estimate:.6f}")
    elif action is EnforcementAction.WARN:
        reason = (f"warning from {source}: {context.period_name} budget "
                  f"{context.budget_used_pct:.1f}% used")
    else:
        reason = "within budget" if periods else "no budget configured"
    return EnforcementResult(action, model, context, reason, estimate)


def _mode_action(tracker: CostTracker, context: EnforcementContext, *,
                 has_budget: bool) -> EnforcementAction:
    if not has_budget:
        return EnforcementAction.ALLOW
    near = context.budget_used_pct >= tracker.warn_threshold * 100.0
    if context.budget_exceeded:
        return {
            "warn": EnforcementAction.WARN,
            "block": EnforcementAction.BLOCK,
            "degrade": EnforcementAction.DEGRADE,
        }[tracker.enforcement_mode]
    return EnforcementAction.WARN if near else EnforcementAction.ALLOW


def _whose(context: EnforcementContext) -> str:
    return "" if context.scope is None else f"{context.scope} "


def _degrade(tracker: CostTracker, context: EnforcementContext,
             all_periods: list[_Row], model: str, estimated_cost: float | None,
             prompt_tokens: int | None, max_output_tokens: int | None, estimate: float,
             source: str) -> EnforcementResult:
    from cascadeflow.telemetry._degradation import get_degradation_chain

    for candidate in get_degradation_chain(model, tracker.degradation_map):
        cost = estimate_for(tracker, candidate, model, estimated_cost, prompt_tokens,
                            max_output_tokens)
        if cost is None:
            continue
        periods = _applying(tracker, all_periods, candidate)
        if not periods or _fits(periods, to_nanos(cost)):
            reason = (f"degraded from {model} to {candidate} by {source}: "
                      f"{context.period_name} budget {context.budget_used_pct:.1f}% used, "
                      f"~${cost:.6f} instead of ~${estimate:.6f}")
            return EnforcementResult(EnforcementAction.DEGRADE, candidate, context, reason, cost)
    if not context.budget_exceeded:
        reason = f"{source} asked to degrade but no cheaper model fits; keeping {model}"
        return EnforcementResult(EnforcementAction.WARN, model, context, reason, estimate)
    reason = (f"blocked: no model in the degradation chain of {model} fits the "
              f"{_whose(context)}{context.period_name} budget (${context.budget_limit})")
    return EnforcementResult(EnforcementAction.BLOCK, model, context, reason, estimate)
