"""The PostgreSQL store against a local PostgreSQL that this benchmark starts and stops.

Reserve+settle pairs per second from one process with 32 asyncio tasks, through the tracker
and through the store alone, next to plain psycopg running the same two statements per pair
on the same kind of pool (the floor our layer sits on), and how many statements (round
trips: every statement is its own transaction) ``can_afford`` costs. The server keeps its
default durability (fsync on): every settle is a committed, flushed transaction.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

from benchmarks._report import figure, header
from benchmarks._store_load import store_pairs, tracker_pairs

TASKS = 32
PAIRS_PER_TASK = 100
ROUNDS = 3
TARGET_PAIRS = 3_000.0
USERS = 8


def _server() -> Any:
    from tests._postgres_server import PostgresServer

    return PostgresServer(durable=True).start()


def _keys(now: float) -> tuple[Any, ...]:
    from cascadeflow.storage import PeriodKey

    return (PeriodKey("daily", "daily:bench", now + 86400),
            PeriodKey("weekly", "weekly:bench", now + 7 * 86400),
            PeriodKey("monthly", "monthly:bench", now + 30 * 86400),
            PeriodKey("total", "total", None))


async def _tracker_pairs(dsn: str) -> float:
    from cascadeflow.storage import PostgresStore

    return await tracker_pairs(PostgresStore(dsn, max_connections=TASKS), tasks=TASKS,
                               pairs_per_task=PAIRS_PER_TASK, users=USERS)


async def _store_pairs(dsn: str) -> float:
    from cascadeflow.storage import PostgresStore

    store = PostgresStore(dsn, schema="bench_store", max_connections=TASKS)
    return await store_pairs(store, _keys(time.time()), tasks=TASKS,
                             pairs_per_task=PAIRS_PER_TASK, users=USERS)


async def _plain_psycopg_pairs(dsn: str, *, trivial: bool = False) -> float:
    """The same two statements per pair (the schema's functions), straight from psycopg.

    ``trivial=True`` sends ``SELECT 1`` twice instead: the machine's ceiling for two round
    trips per pair, whatever the statements do.
    """
    from psycopg_pool import AsyncConnectionPool

    now = time.time()
    keys = [key.key for key in _keys(now)]
    reserve = ("SELECT bench_store.reserve(%s, %s, %s, %s, %s, %s::text[], %s::bigint[],"
               " %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[])")
    record = ("SELECT bench_store.record_entry(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
              " %s, %s, %s, %s::text[], %s::text[], %s::text[], %s::bigint[])")
    pool = AsyncConnectionPool(dsn, min_size=TASKS, max_size=TASKS, open=False,
                               kwargs={"autocommit": True})
    await pool.open(wait=True)

    async def task(index: int) -> None:
        user = f"user-{index % USERS}"
        async with pool.connection() as conn:
            for _ in range(PAIRS_PER_TASK):
                rid = uuid.uuid4().hex
                if trivial:
                    await conn.execute("SELECT 1")
                    await conn.execute("SELECT 1")
                    continue
                await conn.execute(reserve, (rid, user, 2_000_000, now, now + 300, keys,
                                             [10**15] * 4, [], [], [], [], []))
                await conn.execute(record, (
                    rid, rid, time.time(), 0, user, None, "gpt-4o-mini", "openai", 300, None,
                    None, 0.0015, 1_500_000, None, "{}", keys, [], [], []))

    start = time.perf_counter()
    await asyncio.gather(*(task(i) for i in range(TASKS)))
    elapsed = time.perf_counter() - start
    await pool.close()
    return TASKS * PAIRS_PER_TASK / elapsed


def _can_afford_statements(dsn: str, calls: int = 300) -> tuple[float, float]:
    """Statements per sync ``can_afford`` (each is one round trip) and the median latency (µs)."""
    import psycopg
    from psycopg_pool import ConnectionPool

    from cascadeflow.storage import PostgresStore
    from cascadeflow.telemetry import BudgetConfig, CostTracker

    sent = [0]

    class Counting(psycopg.Connection[Any]):
        def execute(self, *args: Any, **kwargs: Any) -> Any:
            sent[0] += 1
            return super().execute(*args, **kwargs)

    pool = ConnectionPool(dsn, connection_class=Counting, kwargs={"autocommit": True},
                          min_size=1, max_size=2, open=True)
    budgets = {"pro": BudgetConfig(daily=5.0, weekly=20.0, monthly=50.0, total=100.0)}
    tracker = CostTracker(user_budgets=budgets, store=PostgresStore(pool, schema="bench_trips"))
    tracker.set_user_tier("u1", "pro")
    tracker.add_cost("gpt-4o-mini", "openai", 300, 0.01, user_id="u1")
    tracker.can_afford("u1", 0.01)  # warm: stored limits read, statements prepared
    before = sent[0]
    latencies = []
    for _ in range(calls):
        start = time.perf_counter()
        tracker.can_afford("u1", 0.01)
        latencies.append(time.perf_counter() - start)
    trips = (sent[0] - before) / calls
    pool.close()
    return trips, statistics.median(latencies) * 1e6


def main() -> None:
    header("PostgreSQL store: a durable shared ledger (local PostgreSQL, fsync on)")
    try:
        server = _server()
    except RuntimeError as error:
        print(f"  not measured: {error}")
        return
    try:
        asyncio.run(_store_pairs(server.dsn))  # creates the schema the plain run uses
        tracker_rates, store_rates, plain_rates = [], [], []
        for _ in range(ROUNDS):  # interleaved: load from elsewhere falls on all three
            tracker_rates.append(asyncio.run(_tracker_pairs(server.dsn)))
            store_rates.append(asyncio.run(_store_pairs(server.dsn)))
            plain_rates.append(asyncio.run(_plain_psycopg_pairs(server.dsn)))
        ceiling = max(asyncio.run(_plain_psycopg_pairs(server.dsn, trivial=True))
                      for _ in range(ROUNDS))
        trips, latency = _can_afford_statements(server.dsn)
    finally:
        server.close()
    plain = max(plain_rates)
    best_tracker, best_store = max(tracker_rates), max(store_rates)
    figure(f"tracker areserve+asettle pairs/s (32 tasks, best of {ROUNDS})", best_tracker,
           "pairs/s", ">= 3,000", ok=best_tracker >= TARGET_PAIRS,
           peer=f"plain psycopg {plain:,.0f}")
    figure(f"store areserve+asettle pairs/s (32 tasks, best of {ROUNDS})", best_store,
           "pairs/s", ">= 3,000", ok=best_store >= TARGET_PAIRS,
           peer=f"plain psycopg {plain:,.0f}")
    figure("plain psycopg, same 2 statements per pair", plain, "pairs/s", "(floor)", ok=True)
    figure("plain psycopg, 2 x SELECT 1 per pair", ceiling, "pairs/s", "(machine)", ok=True)
    figure("can_afford: statements (round trips) per call", trips, "trips", "<= 1",
           ok=trips <= 1.0)
    figure("can_afford median latency (sync, loopback)", latency, "us", "(info)", ok=True)


if __name__ == "__main__":
    main()
