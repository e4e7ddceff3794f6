"""Several processes share one ledger in PostgreSQL: exact totals, no overspend, nothing lost."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker, Scope
from cascadeflow.storage import PostgresStore

from .conftest import Spawn, read_json, release_together

CENT = 10_000_000  # nano-dollars


@pytest.mark.parametrize("scope", ["user", "team"])
def test_four_processes_of_25_racing_requests_pass_exactly_the_affordable_ten(
    postgres_dsn: str, spawn: Spawn, scope: str,
) -> None:
    store = PostgresStore(postgres_dsn)
    admin = CostTracker(store=store)
    if scope == "user":
        admin.set_user_budget("shared-user", BudgetConfig(daily=0.10))
        users = ["shared-user"]
    else:
        admin.set_budget(Scope.team("search"), BudgetConfig(daily=0.10))
        users = ["ann", "ben", "cat"]
    keys = admin.period_keys()
    workers = [spawn("race", postgres_dsn, scope, "25", "0.01") for _ in range(4)]
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        # Sample what is spent and held while the race runs: it never passes the limit.
        while not stop.is_set():
            now = time.time()
            if scope == "user":
                usage = store.usage("shared-user", keys, now=now)
                seen.append(usage.spent_nanos[keys[0].key] + usage.reserved_nanos)
            else:
                counters = store.read_counters([("team:search", keys[0])], ["team:search"],
                                               now=now)
                seen.append(sum(counters.values.values()) + counters.held["team:search"])

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        release_together(workers)
        results = [read_json(worker) for worker in workers]
    finally:
        stop.set()
        watcher.join()

    assert sum(result["granted"] for result in results) == 10
    assert sum(result["refused"] for result in results) == 90
    assert seen and max(seen) <= 10 * CENT
    totals = store.totals()
    assert (totals.entry_count, totals.total_nanos) == (10, 10 * CENT)
    assert sum(totals.by_user[user] for user in users) == 10 * CENT
    assert sum(store.usage(user, keys, now=time.time()).reserved_nanos for user in users) == 0
    store.close()


def test_budget_held_by_a_killed_worker_frees_after_the_ttl(
    postgres_dsn: str, spawn: Spawn,
) -> None:
    worker = spawn("hold", postgres_dsn, "u-killed", "5", "0.2", "2.0")
    held = read_json(worker)
    assert held["held"] == 5
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL

    budget = {"pro": BudgetConfig(daily=1.0)}
    now = datetime.fromtimestamp(float(held["at"]), timezone.utc)
    store = PostgresStore(postgres_dsn)
    before_ttl = CostTracker(user_budgets=budget, store=store,
                             clock=lambda: now + timedelta(seconds=1))
    assert not before_ttl.can_afford("u-killed", 0.01, user_tier="pro")
    with pytest.raises(BudgetExceededError):
        before_ttl.reserve("u-killed", 0.01, user_tier="pro")

    # The dead worker's leases ran out: the whole budget is there again, nobody released it.
    after_ttl = CostTracker(user_budgets=budget, store=store,
                            clock=lambda: now + timedelta(seconds=2.5))
    assert after_ttl.remaining("u-killed", user_tier="pro")["daily"] == pytest.approx(1.0)
    after_ttl.reserve("u-killed", 1.0, user_tier="pro").release()
    store.close()


def test_a_worker_killed_right_after_acknowledged_add_costs_loses_none_of_them(
    postgres_dsn: str, spawn: Spawn,
) -> None:
    worker = spawn("ack", postgres_dsn)
    acknowledged = [read_json(worker)["ack"] for _ in range(200)]
    os.kill(worker.pid, signal.SIGKILL)  # mid-stream: it was recording the 201st
    worker.wait(timeout=10)

    with PostgresStore(postgres_dsn) as store:
        recorded = [entry.id for entry in store.entries(user_id="u1")]
        totals = store.totals()
    assert recorded[:200] == acknowledged
    assert len(recorded) in (200, 201)  # the one in flight either committed or not
    assert totals.total_nanos == len(recorded) * CENT
    assert totals.entry_count == len(recorded)


def test_many_workers_migrating_an_empty_database_at_once_make_one_schema(
    postgres_dsn: str, spawn: Spawn,
) -> None:
    workers = [spawn("migrate", postgres_dsn, "cascadeflow_fresh") for _ in range(6)]
    release_together(workers)

    counts = [read_json(worker)["entries"] for worker in workers]

    assert [worker.wait(timeout=60) for worker in workers] == [0] * 6
    assert sorted(counts)[-1] == 6  # the last to finish sees all six entries
    with PostgresStore(postgres_dsn, schema="cascadeflow_fresh") as store:
        assert store.totals().entry_count == 6
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute(
            "SELECT version FROM cascadeflow_fresh.schema_version").fetchall() == [(1,)]
