"""The reserve+settle load the store benchmarks share: many asyncio tasks, a few users.

``tracker_pairs`` drives ``CostTracker.areserve`` / ``asettle`` (the path users take);
``store_pairs`` drives the store's own ``areserve`` / ``asettle`` (the layer below). Both
warm the store up first (connect, load scripts, migrate), close it after, and return pairs
per second.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any


async def _timed(task: Any, tasks: int, pairs_per_task: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(task(index) for index in range(tasks)))
    return tasks * pairs_per_task / (time.perf_counter() - start)


async def tracker_pairs(store: Any, *, tasks: int, pairs_per_task: int, users: int = 8,
                        team: str | None = None) -> float:
    """Tracker reserve+settle pairs/s over ``store`` (a pro tier with room for everything;
    with ``team``, every user is in that team, which has a budget too)."""
    from cascadeflow.telemetry import BudgetConfig, CostTracker, Scope

    tracker = CostTracker(user_budgets={"pro": BudgetConfig(daily=1e6)}, store=store)
    if team is not None:
        tracker.set_budget(Scope.team(team), BudgetConfig(daily=1e6))

    async def task(index: int) -> None:
        user = f"user-{index % users}"
        for _ in range(pairs_per_task):
            held = await tracker.areserve(user, 0.002, user_tier="pro", model="gpt-4o-mini",
                                          team=team)
            await held.asettle(0.0015, provider="openai", tokens=300)

    await tracker.acan_afford("user-0", 0.0, user_tier="pro")  # connect, load, migrate
    rate = await _timed(task, tasks, pairs_per_task)
    await store.aclose()
    return rate


async def store_pairs(store: Any, keys: Sequence[Any], *, tasks: int, pairs_per_task: int,
                      users: int = 8) -> float:
    """The store's own reserve+settle pairs/s over the period ``keys`` (limits never reached)."""
    from cascadeflow._entry import CostEntry
    from cascadeflow.storage import PeriodLimit

    now = time.time()
    limits = [PeriodLimit(key, 10**15) for key in keys]

    async def task(index: int) -> None:
        user = f"user-{index % users}"
        for _ in range(pairs_per_task):
            rid = uuid.uuid4().hex
            await store.areserve(rid, user, 2_000_000, limits, now=now, expires_at=now + 300)
            entry = CostEntry(id=rid, timestamp=datetime.now(timezone.utc), model="gpt-4o-mini",
                              provider="openai", tokens=300, cost=0.0015, user_id=user)
            await store.asettle(rid, entry, 1_500_000, keys)

    await store.ausage("user-0", keys, now=now)
    rate = await _timed(task, tasks, pairs_per_task)
    await store.aclose()
    return rate
