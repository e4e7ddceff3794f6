"""A worker process for the multi-process Redis tests: ``python _worker.py <command> ...``.

Each command prints JSON lines on stdout. The tests start it with ``spawn_worker``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import redis

from cascadeflow.storage._redis import RedisStore
from cascadeflow.telemetry import BudgetConfig, BudgetExceededError, CostTracker


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def race(url: str, user: str, tasks: int, cost: float, daily: float) -> None:
    """Wait for the start signal, then run ``tasks`` concurrent reserve+settle requests."""
    store = RedisStore(url)
    tracker = CostTracker(user_budgets={"pro": BudgetConfig(daily=daily)}, store=store)
    say(ready=True)
    redis.Redis.from_url(url).blpop(["race:go"], timeout=30)

    async def one() -> bool:
        try:
            held = await tracker.areserve(user, cost, user_tier="pro", model="gpt-4o-mini")
        except BudgetExceededError:
            return False
        await asyncio.sleep(0)  # let the other tasks race while this one holds its lease
        await held.asettle(cost, provider="openai", tokens=100)
        return True

    results = await asyncio.gather(*(one() for _ in range(tasks)))
    say(granted=sum(results), refused=len(results) - sum(results))
    await store.aclose()


def hold(url: str, user: str, count: int, cost: float, ttl: float) -> None:
    """Reserve ``count`` times and then wait to be killed, holding the leases."""
    tracker = CostTracker(user_budgets={"pro": BudgetConfig(daily=1.0)}, store=RedisStore(url))
    for _ in range(count):
        tracker.reserve(user, cost, user_tier="pro", ttl=ttl)
    say(held=count, at=time.time())
    time.sleep(60)


def spend(url: str, user: str, cost: float) -> None:
    """Record one cost for ``user`` and report what this process now sees left."""
    tracker = CostTracker(user_budgets={"pro": BudgetConfig(daily=1.0)}, store=RedisStore(url))
    tracker.add_cost("gpt-4o-mini", "openai", 100, cost, user_id=user, user_tier="pro")
    say(remaining=tracker.remaining(user)["daily"])


def main() -> None:
    command, url, user, *rest = sys.argv[1:]
    if command == "race":
        asyncio.run(race(url, user, int(rest[0]), float(rest[1]), float(rest[2])))
    elif command == "hold":
        hold(url, user, int(rest[0]), float(rest[1]), float(rest[2]))
    elif command == "spend":
        spend(url, user, float(rest[0]))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
