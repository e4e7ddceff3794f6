"""Several processes share one ledger in PostgreSQL: exact totals, no overspend, nothing lost."""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker
from cascadeflow.storage import PostgresStore

from .conftest import Spawn, read_json, release_together

CENT = 10_000_000  # nano-dollars


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
    os.kill(worker.pid, signal.SIGKILL)  # mid-stream: it was recording the next one
    worker.wait(timeout=10)
    # It may have acknowledged more than the 200 read before the kill reached it.
    assert worker.stdout is not None
    acknowledged += [json.loads(line)["ack"] for line in worker.stdout.read().splitlines()
                     if line.strip()]

    with PostgresStore(postgres_dsn) as store:
        recorded = [entry.id for entry in store.entries(user_id="u1")]
        totals = store.totals()
    assert recorded[:len(acknowledged)] == acknowledged  # every acknowledged one is there
    assert len(recorded) - len(acknowledged) in (0, 1)  # the one in flight committed or not
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
            "SELECT version FROM cascadeflow_fresh.schema_version").fetchall() == [(2,)]
