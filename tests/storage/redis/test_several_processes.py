"""Several processes share one budget through Redis: no overspend, no leaked leases."""

from __future__ import annotations

import json
import os
import signal
import threading
from datetime import datetime, timedelta, timezone

import pytest
import redis

from cascadeflow.storage._redis import RedisStore
from cascadeflow.telemetry import BudgetConfig, BudgetExceededError, CostTracker

from .conftest import spawn_worker

COST = 0.01


def read_json(process: object) -> dict[str, object]:
    line = process.stdout.readline()  # type: ignore[attr-defined]
    assert line, "worker exited without output"
    return json.loads(line)  # type: ignore[no-any-return]


def test_four_processes_of_25_requests_pass_exactly_the_affordable_ten(redis_url: str) -> None:
    limit = 10 * COST
    workers = [spawn_worker("race", redis_url, "shared-user", "25", str(COST), str(limit))
               for _ in range(4)]
    try:
        for worker in workers:
            assert read_json(worker) == {"ready": True}
        store = RedisStore(redis_url)
        tracker = CostTracker(user_budgets={"pro": BudgetConfig(daily=limit)}, store=store)
        tracker.set_user_tier("shared-user", "pro")
        keys = tracker.period_keys()
        seen: list[int] = []
        stop = threading.Event()

        def watch() -> None:
            # Sample spent + reserved while the race runs: it must never pass the limit.
            while not stop.is_set():
                usage = store.usage("shared-user", keys, now=tracker.now().timestamp())
                seen.append(usage.spent_nanos[keys[0].key] + usage.reserved_nanos)

        watcher = threading.Thread(target=watch)
        watcher.start()
        redis.Redis.from_url(redis_url).rpush("race:go", *["go"] * 4)
        results = [read_json(worker) for worker in workers]
        stop.set()
        watcher.join()
    finally:
        for worker in workers:
            worker.wait(timeout=30)

    assert sum(r["granted"] for r in results) == 10  # type: ignore[misc]
    assert sum(r["refused"] for r in results) == 90  # type: ignore[misc]
    assert seen and max(seen) <= 10 * 10_000_000
    usage = store.usage("shared-user", keys, now=tracker.now().timestamp())
    assert usage.spent_nanos[keys[0].key] == 10 * 10_000_000
    assert usage.reserved_nanos == 0
    assert store.totals().entry_count == 10
    store.close()


def test_budget_held_by_a_killed_worker_frees_after_the_ttl(redis_url: str) -> None:
    worker = spawn_worker("hold", redis_url, "u-killed", "5", "0.2", "2.0")
    try:
        held = read_json(worker)
        assert held["held"] == 5
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL

    budget = {"pro": BudgetConfig(daily=1.0)}
    now = datetime.fromtimestamp(float(held["at"]), timezone.utc)  # type: ignore[arg-type]
    before_ttl = CostTracker(user_budgets=budget, store=RedisStore(redis_url),
                             clock=lambda: now + timedelta(seconds=1))
    assert not before_ttl.can_afford("u-killed", 0.01, user_tier="pro")
    with pytest.raises(BudgetExceededError):
        before_ttl.reserve("u-killed", 0.01, user_tier="pro")

    # The dead worker's leases ran out: the whole budget is there again, nobody released it.
    after_ttl = CostTracker(user_budgets=budget, store=RedisStore(redis_url),
                            clock=lambda: now + timedelta(seconds=2.5))
    assert after_ttl.remaining("u-killed", user_tier="pro")["daily"] == pytest.approx(1.0)
    after_ttl.reserve("u-killed", 1.0, user_tier="pro").release()


def test_trackers_in_two_processes_see_each_others_spend_at_once(redis_url: str) -> None:
    here = CostTracker(user_budgets={"pro": BudgetConfig(daily=1.0)},
                       store=RedisStore(redis_url))
    here.add_cost("gpt-4o-mini", "openai", 100, 0.25, user_id="u-both", user_tier="pro")

    there = spawn_worker("spend", redis_url, "u-both", "0.5")
    seen_there = read_json(there)
    there.wait(timeout=30)

    assert seen_there["remaining"] == pytest.approx(0.25)  # it saw our 0.25 and its 0.5
    assert here.remaining("u-both")["daily"] == pytest.approx(0.25)  # we see its 0.5
    assert not here.can_afford("u-both", 0.30)
    assert here.can_afford("u-both", 0.20)
