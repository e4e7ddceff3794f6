"""Builds ledgers with a known daily history through the public API and an injectable clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cascadeflow.telemetry import CostTracker
from tests.telemetry.conftest import FakeClock


def record_days(tracker: CostTracker, clock: FakeClock, amounts: Sequence[float], *,
                user_id: str | None = "alice", model: str = "gpt-4o", hour: int = 12,
                user_tier: str | None = None) -> None:
    """Record ``amounts[i]`` on the i-th of ``len(amounts)`` days ending yesterday.

    The clock is left at its starting moment (today), as if those days had passed.
    """
    now = clock.current
    for index, amount in enumerate(amounts):
        day = now - timedelta(days=len(amounts) - index)
        clock.set(day.replace(hour=hour, minute=0))
        if amount:
            tracker.add_cost(model, "openai", 100, amount, user_id=user_id, user_tier=user_tier)
    clock.set(now)


def at(clock: FakeClock, hour: int, minute: int = 0) -> datetime:
    """Today at ``hour:minute`` in the clock's zone."""
    return clock.current.replace(hour=hour, minute=minute, second=0, microsecond=0)
