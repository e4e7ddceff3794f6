"""SQLiteStore throughput: committed record() and add_cost calls, reserve+settle pairs.

Every write is committed before the call returns (WAL, synchronous=NORMAL). Each figure is
the best of a few rounds on one growing ledger file, so that a moment of load from other
processes on the machine does not stand for the store; plain sqlite3 doing one committed
insert per transaction is measured in the same run as the machine's baseline.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from benchmarks._report import figure, header
from cascadeflow import BudgetConfig, CostTracker
from cascadeflow._entry import CostEntry, new_entry_id
from cascadeflow.storage import PeriodKey, PeriodLimit, SQLiteStore

ROUNDS = 3
CALLS = 10_000
USERS = 20
NOW = time.time()
PERIODS = (
    PeriodKey("daily", "daily:2026-11-24", NOW + 86_400),
    PeriodKey("weekly", "weekly:2026-W48", NOW + 7 * 86_400),
    PeriodKey("monthly", "monthly:2026-11", NOW + 31 * 86_400),
    PeriodKey("total", "total", None),
)
LIMITS = [PeriodLimit(period, 10**15) for period in PERIODS]
COST_NANOS = 125_000


def best_rate(round_of_calls: Callable[[int], None]) -> float:
    """Calls per second of the fastest of ROUNDS rounds of CALLS calls."""
    best = 0.0
    for number in range(ROUNDS):
        start = time.perf_counter()
        round_of_calls(number)
        best = max(best, CALLS / (time.perf_counter() - start))
    return best


def entries(count: int) -> list[CostEntry]:
    stamp = datetime.now(timezone.utc)
    return [
        CostEntry(timestamp=stamp, model="gpt-4o-mini", provider="openai", tokens=300,
                  cost=COST_NANOS / 1e9, user_id=f"user-{n % USERS}", prompt_tokens=200,
                  completion_tokens=100, metadata={"route": "chat"})
        for n in range(count)
    ]


def plain_sqlite(path: Path) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE entries (id TEXT, model TEXT, cost_nanos INTEGER)")

    def run(_: int) -> None:
        for _ in range(CALLS):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO entries VALUES (?, ?, ?)",
                         (new_entry_id(), "gpt-4o-mini", COST_NANOS))
            conn.execute("COMMIT")

    try:
        return best_rate(run)
    finally:
        conn.close()


def store_record(path: Path) -> float:
    batches = [entries(CALLS) for _ in range(ROUNDS)]
    with SQLiteStore(path) as store:

        def run(number: int) -> None:
            record = store.record
            for entry in batches[number]:
                record(entry, COST_NANOS, PERIODS)

        return best_rate(run)


def store_reserve_settle(path: Path) -> float:
    batches = [entries(CALLS) for _ in range(ROUNDS)]
    with SQLiteStore(path) as store:

        def run(number: int) -> None:
            for entry in batches[number]:
                user = entry.user_id
                assert user is not None
                outcome = store.reserve(entry.id, user, 2 * COST_NANOS, LIMITS, now=NOW,
                                        expires_at=NOW + 300)
                assert outcome.granted
                store.settle(entry.id, entry, COST_NANOS, PERIODS)

        return best_rate(run)


def tracker_add_cost(path: Path) -> float:
    with SQLiteStore(path) as store:
        tracker = CostTracker(user_budgets={"pro": BudgetConfig(daily=1e6, monthly=1e7)},
                              store=store)

        def run(_: int) -> None:
            add_cost = tracker.add_cost
            for n in range(CALLS):
                add_cost("gpt-4o-mini", "openai", 300, 0.000125, user_id=f"user-{n % USERS}",
                         user_tier="pro", prompt_tokens=200, completion_tokens=100)

        return best_rate(run)


def main() -> None:
    header(f"SQLiteStore: every call committed before it returns (best of {ROUNDS} x {CALLS:,})")
    with tempfile.TemporaryDirectory(prefix="cascadeflow-bench-") as directory:
        folder = Path(directory)
        baseline = plain_sqlite(folder / "plain.db")
        figure("plain sqlite3: one committed insert per call", baseline, "commits/s",
               "(baseline)", ok=True)
        record = store_record(folder / "record.db")
        figure("SQLiteStore.record (entry + 4 period counters)", record, "calls/s",
               ">= 15,000/s", ok=record >= 15_000, peer=f"{record / baseline:.0%} of baseline")
        pairs = store_reserve_settle(folder / "pairs.db")
        figure("SQLiteStore.reserve + settle", pairs, "pairs/s", ">= 7,000/s",
               ok=pairs >= 7_000, peer=f"{pairs / baseline:.0%} of baseline")
        add_cost = tracker_add_cost(folder / "tracker.db")
        figure("CostTracker.add_cost on SQLiteStore", add_cost, "calls/s", ">= 15,000/s",
               ok=add_cost >= 15_000, peer=f"{add_cost / baseline:.0%} of baseline")


if __name__ == "__main__":
    main()
