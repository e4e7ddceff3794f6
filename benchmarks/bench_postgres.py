"""The PostgreSQL store against a local PostgreSQL that this benchmark starts and stops.

Reserve+settle pairs per second from one process with 32 asyncio tasks, through the tracker
and through the store alone, next to plain psycopg sending the same statements: one at a
time per task (each its own transaction and round trip, as the store did before it batched),
and batched the way the store batches them (each round's 32 calls in one ``apply_batch``
statement: one transaction, one round trip), which is the floor our layer sits on; and
how many statements (round trips) ``can_afford`` costs. The server keeps its default
durability (fsync on): every settle is a committed, flushed transaction.
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


# Every measurement gets a new schema (made by a store), and the ones before it are dropped:
# on tables that earlier runs filled with rows and dead tuples (and that autovacuum then
# works on, on the same two cores), the later runs of a round would be slower for it.
_schemas = iter(range(1_000_000))
_made: list[str] = []


def _fresh_schema(dsn: str) -> str:
    import psycopg

    from cascadeflow.storage import PostgresStore

    with psycopg.connect(dsn, autocommit=True) as conn:
        while _made:
            conn.execute(f'DROP SCHEMA "{_made.pop()}" CASCADE')
    schema = f"bench_{next(_schemas)}"
    with PostgresStore(dsn, schema=schema) as store:
        store.settings_version()  # creates it
    _made.append(schema)
    return schema


async def _tracker_pairs(dsn: str) -> float:
    from cascadeflow.storage import PostgresStore

    store = PostgresStore(dsn, schema=_fresh_schema(dsn), max_connections=TASKS)
    return await tracker_pairs(store, tasks=TASKS, pairs_per_task=PAIRS_PER_TASK, users=USERS)


async def _store_pairs(dsn: str) -> float:
    from cascadeflow.storage import PostgresStore

    store = PostgresStore(dsn, schema=_fresh_schema(dsn), max_connections=TASKS)
    return await store_pairs(store, _keys(time.time()), tasks=TASKS,
                             pairs_per_task=PAIRS_PER_TASK, users=USERS)


_RESERVE = ("SELECT {s}.reserve(%s, %s, %s, %s, %s, %s::text[], %s::bigint[],"
            " %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[])")
_RECORD = ("SELECT {s}.record_entry(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
           " %s, %s, %s, %s::text[], %s::text[], %s::text[], %s::bigint[])")
_APPLY = "SELECT {s}.apply_batch(%s::text[], %s::text[], %s::jsonb)"


def _array_params(now: float) -> tuple[str, str]:
    """The period keys and limits as the store sends them: array literals (``text_array``)."""
    from cascadeflow.storage._postgres_schema import bigint_array, text_array

    return text_array([key.key for key in _keys(now)]), bigint_array([10**15] * 4)


def _reserve_params(rid: str, user: str, now: float, arrays: tuple[str, str]) -> tuple[Any, ...]:
    return (rid, user, 2_000_000, now, now + 300, arrays[0], arrays[1], "{}", "{}", "{}", "{}",
            "{}")


def _record_params(rid: str, user: str, arrays: tuple[str, str]) -> tuple[Any, ...]:
    return (rid, rid, time.time(), 0, user, None, "gpt-4o-mini", "openai", 300, None, None,
            0.0015, 1_500_000, None, "{}", arrays[0], "{}", "{}", "{}")


async def _plain_batched_pairs(dsn: str) -> float:
    """The store's batches, straight from psycopg: per round, the 32 tasks' reserves in one
    ``apply_batch`` statement (with the batch's locks, parameters as one JSON document), then
    their settles in another; the statements the store sends under this load, without our
    layer (its queues, futures, outage handling and the tracker's work)."""
    import orjson
    from psycopg_pool import AsyncConnectionPool

    from cascadeflow.storage._postgres_schema import text_array

    now = time.time()
    arrays = _array_params(now)
    schema = _fresh_schema(dsn)
    apply = _APPLY.format(s=schema)
    users = [f"user-{index % USERS}" for index in range(TASKS)]
    names = text_array(sorted({f"u/{user}" for user in users}))
    pool = AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False,
                               kwargs={"autocommit": True})
    await pool.open(wait=True)
    start = time.perf_counter()
    async with pool.connection() as conn:
        for _ in range(PAIRS_PER_TASK):
            pairs = [(uuid.uuid4().hex, user) for user in users]
            reserves = [["reserve", *_reserve_params(rid, user, now, arrays)]
                        for rid, user in pairs]
            await conn.execute(apply, (names, "{}", orjson.dumps(reserves).decode()))
            records = [["record_entry", *_record_params(rid, user, arrays)]
                       for rid, user in pairs]
            await conn.execute(apply, (names, text_array([rid for rid, _ in pairs]),
                                       orjson.dumps(records).decode()))
    elapsed = time.perf_counter() - start
    await pool.close()
    return TASKS * PAIRS_PER_TASK / elapsed


async def _plain_psycopg_pairs(dsn: str, *, trivial: bool = False) -> float:
    """The same two statements per pair (the schema's functions), one at a time per task.

    ``trivial=True`` sends ``SELECT 1`` twice instead: the machine's ceiling for two round
    trips per pair, whatever the statements do.
    """
    from psycopg_pool import AsyncConnectionPool

    now = time.time()
    arrays = _array_params(now)
    schema = _fresh_schema(dsn)
    reserve, record = _RESERVE.format(s=schema), _RECORD.format(s=schema)
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
                await conn.execute(reserve, _reserve_params(rid, user, now, arrays))
                await conn.execute(record, _record_params(rid, user, arrays))

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


def _rounds(rates: list[float]) -> str:
    return ", ".join(f"{rate:,.0f}" for rate in rates)


def main() -> None:
    header("PostgreSQL store: a durable shared ledger (local PostgreSQL, fsync on)")
    try:
        server = _server()
    except RuntimeError as error:
        print(f"  not measured: {error}")
        return
    try:
        asyncio.run(_store_pairs(server.dsn))  # warm: the server's caches, the first fsyncs
        tracker_rates, store_rates, plain_rates, batched_rates = [], [], [], []
        for _ in range(ROUNDS):  # interleaved: load from elsewhere falls on all four
            tracker_rates.append(asyncio.run(_tracker_pairs(server.dsn)))
            store_rates.append(asyncio.run(_store_pairs(server.dsn)))
            plain_rates.append(asyncio.run(_plain_psycopg_pairs(server.dsn)))
            batched_rates.append(asyncio.run(_plain_batched_pairs(server.dsn)))
        ceiling = max(asyncio.run(_plain_psycopg_pairs(server.dsn, trivial=True))
                      for _ in range(ROUNDS))
        trips, latency = _can_afford_statements(server.dsn)
    finally:
        server.close()
    plain, batched = max(plain_rates), max(batched_rates)
    best_tracker, best_store = max(tracker_rates), max(store_rates)
    peers = f"plain psycopg: batched {batched:,.0f}, one by one {plain:,.0f}"
    figure(f"tracker areserve+asettle pairs/s (32 tasks, best of {ROUNDS})", best_tracker,
           "pairs/s", ">= 3,000", ok=best_tracker >= TARGET_PAIRS, peer=peers)
    figure(f"store areserve+asettle pairs/s (32 tasks, best of {ROUNDS})", best_store,
           "pairs/s", ">= 3,000", ok=best_store >= TARGET_PAIRS, peer=peers)
    figure("plain psycopg, same statements batched as the store", batched, "pairs/s",
           "(floor)", ok=True)
    figure("plain psycopg, same 2 statements one by one per task", plain, "pairs/s",
           "(unbatched)", ok=True)
    print(f"  (all rounds, pairs/s: tracker {_rounds(tracker_rates)}; store "
          f"{_rounds(store_rates)}; plain batched {_rounds(batched_rates)}; plain one by "
          f"one {_rounds(plain_rates)})")
    figure("plain psycopg, 2 x SELECT 1 per pair", ceiling, "pairs/s", "(machine)", ok=True)
    figure("can_afford: statements (round trips) per call", trips, "trips", "<= 1",
           ok=trips <= 1.0)
    figure("can_afford median latency (sync, loopback)", latency, "us", "(info)", ok=True)


if __name__ == "__main__":
    main()
